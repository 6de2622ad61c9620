"""The principal's inbox and decision screen: grant on a written approval (minutes number, date, approver,
optional scan checked by its magic bytes and kept with its SHA-256), or refuse; bad input kept (422); the grant
relocks by itself at its end; the edits made under a grant are listed on its page; the grid's lock banner."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import date, timedelta

import pytest
from sqlmodel import select

from portal.models import AuditEvent, UnlockRequest, utcnow
from portal.periods.read import today_local
from tests.periods.helpers import HTMX, PDF, add_request, doc, html, in_hours, pair, period, sign_in, text

MINUTES = {"minutes_number": "12/BB-THCS", "approver": "Nguyễn Văn Thành, Hiệu trưởng"}


def grant_form(**overrides) -> dict:
    return {**MINUTES, "minutes_date": date.today().isoformat(), "ends_at": "", **overrides}


def refresh(session, row: UnlockRequest) -> UnlockRequest:
    session.expire_all()
    return session.get(UnlockRequest, row.id)


def field_error(response, name: str) -> str:
    return doc(response).get_element_by_id(f"e-{name}").text_content()


def approvals(app) -> list[str]:
    folder = os.path.join(app.instance_path, "approvals")
    return os.listdir(folder) if os.path.isdir(folder) else []


# --- Inbox and decision screen ------------------------------------------------------------------------


def test_inbox_lists_pending_first_then_decisions(app, session):
    first = add_request(session, period_code="gk1")
    refused = add_request(session, role="homeroom", code=None, reason="Sửa nhận xét cuối kì của cả lớp 6A1.")
    second = add_request(session, period_code="gk2")
    client = sign_in(app, "principal")
    assert client.post(f"/ky-danh-gia/de-nghi/{refused.id}/tu-choi",
                       data={"refusal_reason": "Chưa có biên bản họp tổ."}).status_code == 302
    response = client.get("/ky-danh-gia/de-nghi")
    assert response.status_code == 200
    page = doc(response)
    pending = page.get_element_by_id("cho-quyet-dinh")
    assert [li.get("id") for li in pending.xpath(".//li")] == [f"de-nghi-{first.id}", f"de-nghi-{second.id}"]
    assert "Lê Minh Tuấn" in pending.text_content() and "Xem và quyết định" in pending.text_content()
    decided = page.get_element_by_id("da-quyet-dinh").text_content()
    assert "Cuối học kì I · lớp 6A1 · mục chủ nhiệm" in decided and "Từ chối" in decided
    assert "Đề nghị mở khóa (2 chờ)" in page.text_content()


def test_decision_screen_shows_the_request_and_a_prefilled_grant_form(app, session):
    row = add_request(session)
    response = sign_in(app, "vice_principal").get(f"/ky-danh-gia/de-nghi/{row.id}")
    assert response.status_code == 200
    page = doc(response)
    content = page.text_content()
    assert "Cuối học kì I · lớp 6A1 · Tin học" in content and row.reason in content
    assert "Đang mở" in content and "chưa cần mở khóa" in content  # the demo period is still open
    form = page.xpath("//form[contains(@action, '/cho-mo')]")[0]
    assert form.get("enctype") == "multipart/form-data"
    assert form.xpath(".//input[@name='approver']/@value") == ["Trần Thị Bích Hường"]
    assert form.xpath(".//input[@name='minutes_date']/@value") == [today_local().isoformat()]
    ends = form.xpath(".//input[@name='ends_at']")[0]
    assert ends.get("type") == "datetime-local"
    now = utcnow()
    assert ends.get("value") in (in_hours(now, 48), in_hours(now - timedelta(minutes=1), 48))


@pytest.mark.parametrize("role", ["admin", "department_head", "homeroom", "teacher", "office", "parent"])
def test_inbox_and_decisions_are_for_the_leadership(app, session, role):
    row = add_request(session)
    client = sign_in(app, role)
    assert client.get("/ky-danh-gia/de-nghi").status_code == 403
    assert client.get(f"/ky-danh-gia/de-nghi/{row.id}").status_code == 403
    assert client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form()).status_code == 403
    assert client.post(f"/ky-danh-gia/de-nghi/{row.id}/tu-choi",
                       data={"refusal_reason": "Không đồng ý."}).status_code == 403
    assert client.get(f"/ky-danh-gia/de-nghi/{row.id}/bien-ban").status_code == 403
    assert refresh(session, row).status == "pending"


def test_unknown_request_is_404(app):
    client = sign_in(app, "principal")
    assert client.get("/ky-danh-gia/de-nghi/999999").status_code == 404
    assert client.post("/ky-danh-gia/de-nghi/999999/cho-mo", data=grant_form()).status_code == 404


# --- Grant --------------------------------------------------------------------------------------------


def test_grant_records_the_approval(app, session):
    row = add_request(session)
    client = sign_in(app, "principal")
    ends = in_hours(utcnow(), 30)
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form(ends_at=ends))
    assert response.status_code == 302
    row = refresh(session, row)
    assert (row.status, row.minutes_number, row.minutes_date, row.approver) == (
        "granted", "12/BB-THCS", date.today(), "Nguyễn Văn Thành, Hiệu trưởng")
    assert row.scan_path is None
    from portal.periods.read import local_input

    assert local_input(row.ends_at) == ends  # typed in Vietnam time, stored in UTC
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "unlock.granted")).one()
    assert event.grant_id == row.id and "12/BB-THCS" in event.after
    page = text(client.get(response.headers["Location"]))
    assert "Đã cho mở khóa theo biên bản số 12/BB-THCS" in page
    assert "Đã cho mở đến" in page and "Không có" in page  # no scan
    assert "Chưa có thay đổi nào" in page


def test_grant_without_minutes_is_refused_and_keeps_what_was_typed(app, session):
    row = add_request(session)
    ends = in_hours(utcnow(), 24)
    response = sign_in(app, "principal").post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data={
        "minutes_number": "  ", "minutes_date": "", "approver": "Phạm Thị Lan", "ends_at": ends})
    assert response.status_code == 422
    assert "Hãy nhập số biên bản" in field_error(response, "minutes_number")
    assert "Hãy nhập ngày lập biên bản." in field_error(response, "minutes_date")
    page = doc(response)
    assert page.xpath("//input[@name='approver']/@value") == ["Phạm Thị Lan"]
    assert page.xpath("//input[@name='ends_at']/@value") == [ends]
    assert page.xpath("//input[@name='minutes_number']/@aria-invalid") == ["true"]
    assert "Chưa lưu được: vui lòng sửa 2 mục" in page.text_content()
    row = refresh(session, row)
    assert row.status == "pending" and row.minutes_number is None
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "unlock.granted")).first() is None


@pytest.mark.parametrize("overrides, field, message", [
    ({"minutes_date": (date.today() + timedelta(days=2)).isoformat()}, "minutes_date",
     "Ngày biên bản không được sau hôm nay."),
    ({"minutes_date": "32/13/2026"}, "minutes_date", "Ngày biên bản không hợp lệ"),
    ({"approver": ""}, "approver", "Hãy nhập người phê duyệt"),
    ({"ends_at": "ngày mai"}, "ends_at", "Thời điểm hết hạn không hợp lệ"),
    ({"ends_at": "past"}, "ends_at", "Thời điểm hết hạn mở khóa phải sau bây giờ."),
    ({"ends_at": "8 days"}, "ends_at", "Mở khóa tối đa 7 ngày."),
    ({"minutes_number": "x" * 51}, "minutes_number", "Số biên bản (tối đa 50 ký tự)"),
])
def test_grant_refuses_bad_fields_next_to_them(app, session, overrides, field, message):
    row = add_request(session)
    now = utcnow()
    special = {"past": in_hours(now, -1), "8 days": in_hours(now, 24 * 8)}
    if overrides.get("ends_at") in special:
        overrides = {**overrides, "ends_at": special[overrides["ends_at"]]}
    response = sign_in(app, "principal").post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form(**overrides))
    assert response.status_code == 422
    assert message in field_error(response, field)
    typed = grant_form(**overrides)[field]
    if field != "minutes_date" or typed:
        assert doc(response).xpath(f"//input[@name='{field}']/@value") == [typed]
    assert refresh(session, row).status == "pending"


def test_a_decided_request_cannot_be_decided_again(app, session):
    row = add_request(session)
    client = sign_in(app, "principal")
    assert client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form()).status_code == 302
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/tu-choi", data={"refusal_reason": "Đổi ý."})
    assert response.status_code == 422
    assert "Đề nghị này đã được quyết định." in text(response)
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form(minutes_number="13/BB"))
    assert response.status_code == 422
    assert refresh(session, row).minutes_number == "12/BB-THCS"


# --- Scan of the minutes --------------------------------------------------------------------------------------


def test_pdf_scan_is_kept_and_downloadable_with_the_same_sha256(app, session):
    row = add_request(session)
    client = sign_in(app, "principal")
    scan = PDF + os.urandom(2048)
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo",
                           data={**grant_form(), "scan": (io.BytesIO(scan), "biên bản 12.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    row = refresh(session, row)
    digest = hashlib.sha256(scan).hexdigest()
    assert (row.scan_sha256, row.scan_mime, row.scan_name) == (digest, "application/pdf", "biên bản 12.pdf")
    stored = os.path.join(app.instance_path, row.scan_path)
    assert open(stored, "rb").read() == scan
    page = doc(client.get(f"/ky-danh-gia/de-nghi/{row.id}"))
    assert digest in page.text_content()
    link = page.xpath("//a[contains(@href, '/bien-ban')]/@href")[0]
    download = client.get(link)
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert hashlib.sha256(download.data).hexdigest() == digest
    from sqlmodel import select

    from portal.models import AuditEvent

    session.commit()
    exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export",
                                                    AuditEvent.object_type == "unlock_scan")).all()
    assert [(e.object_id, e.actor_name != "") for e in exports] == [(str(row.id), True)]
    assert sign_in(app, "vice_principal").get(link).status_code == 200
    assert sign_in(app, "teacher").get(link).status_code == 403


def test_a_renamed_exe_is_refused(app, session):
    row = add_request(session)
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + os.urandom(4096)
    response = sign_in(app, "principal").post(
        f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", content_type="multipart/form-data",
        data={**grant_form(), "scan": (io.BytesIO(exe), "bien-ban.pdf")})
    assert response.status_code == 422
    assert "Tệp biên bản phải là PDF, JPEG hoặc PNG" in field_error(response, "scan")
    assert doc(response).xpath("//input[@name='minutes_number']/@value") == ["12/BB-THCS"]
    assert refresh(session, row).status == "pending"
    assert approvals(app) == []


def test_a_scan_over_10_mb_is_refused(app, session):
    row = add_request(session)
    big = PDF + b"\0" * (10 * 1024 * 1024)
    response = sign_in(app, "principal").post(
        f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", content_type="multipart/form-data",
        data={**grant_form(), "scan": (io.BytesIO(big), "bien-ban.pdf")})
    assert response.status_code == 422
    assert "Tệp biên bản quá lớn (tối đa 10 MB)." in field_error(response, "scan")
    assert refresh(session, row).status == "pending"
    assert approvals(app) == []


def test_a_good_scan_with_another_bad_field_asks_to_choose_it_again(app, session):
    row = add_request(session)
    response = sign_in(app, "principal").post(
        f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", content_type="multipart/form-data",
        data={**grant_form(minutes_number=""), "scan": (io.BytesIO(PDF), "bb.pdf")})
    assert response.status_code == 422
    assert "hãy chọn lại tệp" in field_error(response, "scan")
    assert approvals(app) == []


def test_a_scan_altered_on_disk_is_not_sent(app, session):
    row = add_request(session)
    client = sign_in(app, "principal")
    client.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", content_type="multipart/form-data",
                data={**grant_form(), "scan": (io.BytesIO(PDF), "bb.pdf")})
    row = refresh(session, row)
    with open(os.path.join(app.instance_path, row.scan_path), "ab") as f:
        f.write(b"% altered\n")
    response = client.get(f"/ky-danh-gia/de-nghi/{row.id}/bien-ban")
    assert response.status_code == 409
    assert "SHA-256 không khớp" in text(response)


def test_no_scan_is_404(app, session):
    row = add_request(session)
    assert sign_in(app, "principal").get(f"/ky-danh-gia/de-nghi/{row.id}/bien-ban").status_code == 404


# --- Refuse ---------------------------------------------------------------------------------------------------


def test_refuse_needs_a_reason_and_keeps_the_form(app, session):
    row = add_request(session)
    client = sign_in(app, "principal")
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/tu-choi", data={"refusal_reason": "   "})
    assert response.status_code == 422
    assert "Hãy ghi lý do từ chối." in field_error(response, "refusal_reason")
    assert refresh(session, row).status == "pending"
    long = "Chưa đủ căn cứ. " * 70
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/tu-choi", data={"refusal_reason": long})
    assert response.status_code == 422
    assert "Lý do dài quá 1000 ký tự." in field_error(response, "refusal_reason")
    page = doc(response)
    assert page.xpath("//textarea[@name='refusal_reason']")[0].text_content() == long
    assert page.xpath("//input[@name='approver']/@value") == ["Nguyễn Văn Thành"]  # the grant form's defaults
    assert page.xpath("//input[@name='minutes_date']/@value") == [today_local().isoformat()]
    response = client.post(f"/ky-danh-gia/de-nghi/{row.id}/tu-choi",
                           data={"refusal_reason": "Chưa có biên bản họp tổ chuyên môn."})
    assert response.status_code == 302
    row = refresh(session, row)
    assert (row.status, row.refusal_reason) == ("refused", "Chưa có biên bản họp tổ chuyên môn.")
    page = text(client.get(response.headers["Location"]))
    assert "Đã từ chối" in page and "Chưa có biên bản họp tổ chuyên môn." in page
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "unlock.refused")).one().object_id == str(row.id)
    home = text(sign_in(app, "teacher").get("/"))
    assert "Lý do từ chối: Chưa có biên bản họp tổ chuyên môn." in home


# --- A grant at work: the grid's banner, writes under it, its end --------------------------------------------


def save_cell(client, klass, subject, student_id, slot, value, version):
    return client.post(f"/giang-day/{klass.id}/{subject.id}/hk1/o", headers=HTMX, data={
        "student_id": str(student_id), "slot": slot, "value": value, "version": str(version)})


def test_locked_grid_banner_grant_edits_and_expiry(app, session, monkeypatch):
    klass, subject = pair(session, "6A1", "tinhoc")
    from portal.gradebook.service import class_roster

    student = class_roster(session, klass.id)[0][1]
    principal, teacher = sign_in(app, "principal"), sign_in(app, "teacher")
    grid = f"/giang-day/{klass.id}/{subject.id}/hk1"
    assert "pd-banner" not in html(teacher.get(grid))  # open: no banner

    ck1 = period(session, "ck1")
    assert principal.post(f"/ky-danh-gia/{ck1.id}/khoa", data={"target": "school"}).status_code == 302
    assert save_cell(teacher, klass, subject, student.id, "tx1", "8,5", 0).status_code == 423
    page = doc(teacher.get(grid))
    banner = page.get_element_by_id("khoa-ck1")
    assert "Kì Cuối học kì I đã khóa (Hiệu trưởng đã khóa kì này)" in banner.text_content()
    link = banner.xpath(".//a/@href")[0]
    assert link == f"/ky-danh-gia/gui-de-nghi?period=ck1&scope={klass.id}-{subject.id}"
    assert not page.xpath("//*[@id='khoa-gk1']")  # mid-term I is still open

    form = doc(teacher.get(link))
    assert form.xpath("//select[@name='period']/option[@selected]/@value") == ["ck1"]
    assert teacher.post("/ky-danh-gia/gui-de-nghi", data={
        "period": "ck1", "scope": f"{klass.id}-{subject.id}",
        "reason": "Điểm TX1 của em đầu danh sách bị bỏ sót."}).status_code == 302
    row = session.exec(select(UnlockRequest)).one()
    assert "Đã khóa (Hiệu trưởng đã khóa: Toàn trường)" in text(principal.get(f"/ky-danh-gia/de-nghi/{row.id}"))
    now = utcnow()
    assert principal.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo",
                          data=grant_form(ends_at=in_hours(now, 2))).status_code == 302

    banner = doc(teacher.get(grid)).get_element_by_id("khoa-ck1").text_content()
    assert "Hiệu trưởng đã cho mở khóa cả lớp đến" in banner
    assert save_cell(teacher, klass, subject, student.id, "tx1", "8,5", 0).status_code == 200
    assert save_cell(teacher, klass, subject, student.id, "tx1", "9", 1).status_code == 200
    edit = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.saved")
                        .order_by(AuditEvent.id.desc())).first()
    assert edit.grant_id == row.id

    edits = doc(principal.get(f"/ky-danh-gia/de-nghi/{row.id}")).get_element_by_id("thay-doi")
    items = edits.xpath(".//li")
    assert len(items) == 2
    first, second = (" ".join(li.text_content().split()) for li in items)
    assert f"{student.full_name} · Tin học · HK I · TX1" in first and "Lê Minh Tuấn" in first
    assert "Giá trị: (trống) → 8,5" in first and "Giá trị: 8,5 → 9" in second
    assert "Sửa điểm/mức đánh giá" in first

    later = now + timedelta(hours=2, minutes=1)
    monkeypatch.setattr("portal.clock.now", lambda: later)
    response = save_cell(teacher, klass, subject, student.id, "tx1", "7", 2)
    assert response.status_code == 423
    assert "đã khóa" in text(response)
    banner = doc(teacher.get(grid)).get_element_by_id("khoa-ck1").text_content()
    assert "Đề nghị mở khóa" in banner and "cho mở khóa cả lớp" not in banner
    assert "Đã hết hạn mở khóa" in text(teacher.get("/"))
    assert len(doc(principal.get(f"/ky-danh-gia/de-nghi/{row.id}")).get_element_by_id("thay-doi").xpath(".//li")) == 2


def test_a_grant_for_one_student_opens_only_that_student(app, session):
    klass, subject = pair(session, "6A1", "tinhoc")
    from portal.gradebook.service import class_roster

    roster = [s for _, s in class_roster(session, klass.id)]
    principal, teacher = sign_in(app, "principal"), sign_in(app, "teacher")
    yesterday = date.today() - timedelta(days=1)
    assert principal.post(f"/ky-danh-gia/{period(session, 'ck1').id}/han-nhap",
                          data={"deadline": yesterday.isoformat()}).status_code == 302
    assert teacher.post("/ky-danh-gia/gui-de-nghi", data={
        "period": "ck1", "scope": f"{klass.id}-{subject.id}", "student_id": str(roster[1].id),
        "reason": "Em chuyển đến muộn, cần nhập điểm TX1."}).status_code == 302
    row = session.exec(select(UnlockRequest)).one()
    assert principal.post(f"/ky-danh-gia/de-nghi/{row.id}/cho-mo", data=grant_form()).status_code == 302
    banner = doc(teacher.get(f"/giang-day/{klass.id}/{subject.id}/hk1")).get_element_by_id("khoa-ck1").text_content()
    assert f"đã quá hạn nhập {yesterday.strftime('%d/%m/%Y')}" in banner
    assert f"Được mở khóa riêng cho {roster[1].full_name}" in banner
    assert save_cell(teacher, klass, subject, roster[1].id, "tx1", "6", 0).status_code == 200
    assert save_cell(teacher, klass, subject, roster[0].id, "tx1", "6", 0).status_code == 423
