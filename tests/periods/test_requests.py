"""Unlock requests from the teachers' side: the form (from the home screen and from a locked gradebook grid),
scope checks (403 outside one's pairs and homeroom classes), refused input kept (422), status on the home screen."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.models import AuditEvent, UnlockRequest
from tests.factories import current_class, make_student
from tests.periods.helpers import HTMX, add_request, doc, html, pair, period, sign_in, text, user

REASON = "Nhập nhầm điểm thường xuyên của em Bình, đã đối chiếu với sổ điểm giấy."


def selected(page, name: str) -> str:
    values = page.xpath(f"//select[@name='{name}']/option[@selected]/@value")
    return values[0] if values else ""


def test_form_is_prefilled_from_the_grid_link(app, session):
    klass, subject = pair(session, "6A1", "tinhoc")
    client = sign_in(app, "teacher")
    response = client.get(f"/ky-danh-gia/gui-de-nghi?period=ck1&scope={klass.id}-{subject.id}")
    assert response.status_code == 200
    page = doc(response)
    assert selected(page, "period") == "ck1"
    assert selected(page, "scope") == f"{klass.id}-{subject.id}"
    students = page.xpath("//select[@name='student_id']/option")
    assert students[0].text == "Cả lớp" and len(students) > 20
    scopes = [o.text for o in page.xpath("//select[@name='scope']/option")][1:]
    assert len(scopes) == 8 and all(s.startswith("Tin học · lớp ") for s in scopes)  # tuanlm: Tin học, 8 classes


def test_changing_the_class_fetches_its_students_as_a_fragment(app, session):
    klass, subject = pair(session, "7A1", "tinhoc")
    response = sign_in(app, "teacher").get(f"/ky-danh-gia/gui-de-nghi?scope={klass.id}-{subject.id}", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in html(response)
    fragment = doc(response).get_element_by_id("unlock-student")
    names = [o.text for o in fragment.xpath(".//option")][1:]
    from portal.gradebook.service import class_roster

    assert [n.split(". ", 1)[-1] for n in names] == [s.full_name for _, s in class_roster(session, klass.id)]


def test_a_scope_one_does_not_teach_lists_no_students(app, session):
    klass, subject = pair(session, "9A2", "van")
    response = sign_in(app, "teacher").get(f"/ky-danh-gia/gui-de-nghi?scope={klass.id}-{subject.id}", headers=HTMX)
    assert response.status_code == 200
    assert len(doc(response).xpath("//select[@name='student_id']/option")) == 1


def test_teacher_sends_a_request(app, session):
    klass, subject = pair(session, "6A1", "tinhoc")
    client = sign_in(app, "teacher")
    response = client.post("/ky-danh-gia/gui-de-nghi", data={"period": "ck1", "scope": f"{klass.id}-{subject.id}",
                                                               "student_id": "", "reason": REASON})
    assert response.status_code == 302
    row = session.exec(select(UnlockRequest)).one()
    assert (row.period_id, row.class_id, row.subject_id, row.student_id, row.status) == (
        period(session, "ck1").id, klass.id, subject.id, None, "pending")
    assert row.requested_by == user(session, "teacher").id and row.reason == REASON
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "unlock.requested")).one()
    assert event.object_id == str(row.id) and event.period == "ck1"
    page = text(client.get(response.headers["Location"]))
    assert "Đã gửi đề nghị mở khóa: Cuối học kì I · lớp 6A1 · Tin học." in page
    mine = doc(client.get("/ky-danh-gia/gui-de-nghi")).get_element_by_id("de-nghi-cua-toi").text_content()
    assert "Cuối học kì I · lớp 6A1 · Tin học" in mine and "Chờ quyết định" in mine


def test_request_for_one_student(app, session):
    klass, subject = pair(session, "6A1", "tinhoc")
    from portal.gradebook.service import class_roster

    student = class_roster(session, klass.id)[2][1]
    client = sign_in(app, "teacher")
    response = client.post("/ky-danh-gia/gui-de-nghi", data={
        "period": "gk1", "scope": f"{klass.id}-{subject.id}", "student_id": str(student.id), "reason": REASON})
    assert response.status_code == 302
    row = session.exec(select(UnlockRequest)).one()
    assert row.student_id == student.id and row.period_id == period(session, "gk1").id


def test_homeroom_teacher_asks_for_the_homeroom_entries(app, session):
    klass = current_class(session, "6A1")
    client = sign_in(app, "homeroom")
    form = doc(client.get("/ky-danh-gia/gui-de-nghi"))
    assert f"{klass.id}-cn" in form.xpath("//select[@name='scope']/option/@value")
    response = client.post("/ky-danh-gia/gui-de-nghi", data={"period": "ck1", "scope": f"{klass.id}-cn",
                                                               "reason": "Sửa số buổi nghỉ học có phép của em An."})
    assert response.status_code == 302
    row = session.exec(select(UnlockRequest)).one()
    assert (row.class_id, row.subject_id) == (klass.id, None)
    assert "Cuối học kì I · lớp 6A1 · mục chủ nhiệm" in text(client.get("/"))


@pytest.mark.parametrize("data, field, message", [
    ({"period": "ck1", "reason": "ngắn"}, "reason", "ít nhất 10 ký tự"),
    ({"period": "", "reason": REASON}, "period", "Hãy chọn kì cần mở khóa."),
    ({"period": "ck1", "scope": "", "reason": REASON}, "scope", "Hãy chọn lớp – môn"),
    ({"period": "ck1", "student_id": "x", "reason": REASON}, "student_id", "Học sinh không hợp lệ"),
])
def test_bad_input_is_refused_and_kept(app, session, data, field, message):
    klass, subject = pair(session, "6A1", "tinhoc")
    form = {"scope": f"{klass.id}-{subject.id}", "student_id": "", **data}
    response = sign_in(app, "teacher").post("/ky-danh-gia/gui-de-nghi", data=form)
    assert response.status_code == 422
    page = doc(response)
    assert message in page.get_element_by_id(f"e-{field}").text_content()
    assert page.get_element_by_id("reason").text_content() == form["reason"]
    assert selected(page, "period") == form["period"]
    assert selected(page, "scope") == form["scope"]
    assert "Chưa gửi được" in page.text_content()
    assert session.exec(select(UnlockRequest)).first() is None


def test_a_student_of_another_class_is_refused_next_to_the_field(app, session):
    klass, subject = pair(session, "6A1", "tinhoc")
    outsider = make_student(session, class_name="7A1")
    response = sign_in(app, "teacher").post("/ky-danh-gia/gui-de-nghi", data={
        "period": "ck1", "scope": f"{klass.id}-{subject.id}", "student_id": str(outsider.id), "reason": REASON})
    assert response.status_code == 422
    assert "Học sinh này không thuộc lớp." in doc(response).get_element_by_id("e-student_id").text_content()
    assert session.exec(select(UnlockRequest)).first() is None


@pytest.mark.parametrize("role, class_name, code", [
    ("teacher", "9A2", "van"),  # tuanlm does not teach Ngữ văn
    ("teacher", "6A1", None),  # tuanlm is nobody's homeroom teacher
    ("homeroom", "9A2", None),  # hoant leads 6A1, not 9A2
    ("homeroom", "6A1", "tinhoc"),  # hoant teaches Toán in 6A1, not Tin học
])
def test_out_of_scope_requests_are_forbidden(app, session, role, class_name, code):
    klass = current_class(session, class_name)
    subject = f"{pair(session, class_name, code)[1].id}" if code else "cn"
    response = sign_in(app, role).post("/ky-danh-gia/gui-de-nghi", data={
        "period": "ck1", "scope": f"{klass.id}-{subject}", "reason": REASON})
    assert response.status_code == 403
    assert session.exec(select(UnlockRequest)).first() is None


@pytest.mark.parametrize("role", ["principal", "vice_principal", "admin", "office", "parent"])
def test_the_form_is_for_teachers(app, role):
    client = sign_in(app, role)
    assert client.get("/ky-danh-gia/gui-de-nghi").status_code == 403
    assert client.post("/ky-danh-gia/gui-de-nghi", data={"period": "ck1", "reason": REASON}).status_code == 403


def test_home_shows_the_status_of_ones_requests(app, session):
    from datetime import date, timedelta

    from portal.models import utcnow

    pending = add_request(session, period_code="gk1")
    granted = add_request(session, period_code="ck1")
    refused = add_request(session, period_code="gk2")
    principal = user(session, "principal")
    now = utcnow()
    granted.status, granted.decided_by, granted.decided_at = "granted", principal.id, now
    granted.minutes_number, granted.minutes_date, granted.approver = "7/BB", date.today(), "Nguyễn Văn Thành"
    granted.starts_at, granted.ends_at = now, now + timedelta(hours=48)
    refused.status, refused.decided_by, refused.decided_at = "refused", principal.id, now
    refused.refusal_reason = "Chưa có xác nhận của tổ chuyên môn."
    session.add_all([granted, refused])
    session.commit()
    client = sign_in(app, "teacher")
    home = doc(client.get("/"))
    section = home.get_element_by_id("mo-khoa-teacher").text_content()
    assert "Giữa học kì I · lớp 6A1 · Tin học" in section and "Chờ quyết định" in section
    assert "Đã cho mở đến" in section and "Theo biên bản số 7/BB" in section
    assert "Từ chối" in section and "Lý do từ chối: Chưa có xác nhận của tổ chuyên môn." in section
    assert pending.id  # all three are listed
    link = home.get_element_by_id("mo-khoa-teacher").xpath(".//a/@href")[-1]
    assert link == "/ky-danh-gia/gui-de-nghi"


def test_home_of_the_homeroom_teacher_links_the_form_with_the_class(app, session):
    klass = current_class(session, "6A1")
    home = doc(sign_in(app, "homeroom").get("/"))
    assert f"/ky-danh-gia/gui-de-nghi?scope={klass.id}-cn" in home.get_element_by_id("mo-khoa-homeroom").xpath(
        ".//a/@href")
    assert home.get_element_by_id("mo-khoa-teacher") is not None  # hoant also teaches Toán


def test_principal_home_counts_pending_requests(app, session):
    add_request(session)
    add_request(session, role="homeroom", code=None)
    home = text(sign_in(app, "principal").get("/"))
    assert "2 đề nghị mở khóa đang chờ quyết định." in home
