"""The principal's periods screen: entry deadlines, locks for the school, a grade or a class, the year's other
deadlines. Pages and htmx fragments; refused input keeps what was typed (422); other roles get 403."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from portal.models import AuditEvent, Grade, PeriodLock
from tests.factories import current_class
from tests.periods.helpers import HTMX, doc, html, period, sign_in, text, year, year_deadline

OTHERS = ("admin", "department_head", "homeroom", "teacher", "office", "parent")


@pytest.mark.parametrize("role", ["principal", "vice_principal"])
def test_page_lists_the_five_periods_and_the_year_deadlines(app, session, role):
    response = sign_in(app, role).get("/ky-danh-gia")
    assert response.status_code == 200
    page = text(response)
    for name in ("Giữa học kì I", "Cuối học kì I", "Giữa học kì II", "Cuối học kì II", "Cả năm"):
        assert name in page
    for label in ("Hoàn thành ký học bạ", "Hoàn thành ký học bạ lớp cuối cấp", "Hoàn thành gửi học bạ về CSDL của Bộ"):
        assert label in page
    assert page.count("Đang mở") == 5  # the demo school starts with every period open
    gk1 = period(session, "gk1")
    field = doc(response).get_element_by_id(f"deadline-{gk1.id}")
    assert field.get("value") == gk1.deadline.isoformat()
    assert f"Năm học {year(session).name}" in page


@pytest.mark.parametrize("role", OTHERS)
def test_page_and_writes_are_for_the_leadership_only(app, session, role):
    client = sign_in(app, role)
    ck1 = period(session, "ck1")
    before = ck1.deadline
    assert client.get("/ky-danh-gia").status_code == 403
    assert client.post(f"/ky-danh-gia/{ck1.id}/han-nhap", data={"deadline": "2027-01-20"}).status_code == 403
    assert client.post(f"/ky-danh-gia/{ck1.id}/khoa", data={"target": "school"}).status_code == 403
    assert client.post(f"/ky-danh-gia/han/{year_deadline(session, 'sending').id}",
                       data={"due": "2027-08-15"}).status_code == 403
    session.expire_all()
    assert period(session, "ck1").deadline == before
    assert session.exec(select(PeriodLock)).first() is None


def test_set_deadline_saves_audits_and_redirects(app, session):
    client = sign_in(app, "principal")
    ck1 = period(session, "ck1")
    response = client.post(f"/ky-danh-gia/{ck1.id}/han-nhap", data={"deadline": "2027-01-20"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/ky-danh-gia#ky-ck1")
    session.expire_all()
    assert period(session, "ck1").deadline == date(2027, 1, 20)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "period.deadline_changed")).one()
    assert event.actor_name == "Nguyễn Văn Thành" and '"2027-01-20"' in event.after
    page = text(client.get("/ky-danh-gia"))
    assert "Đã lưu hạn nhập kì Cuối học kì I: hết ngày 20/01/2027." in page


def test_set_deadline_by_htmx_returns_the_card(app, session):
    client = sign_in(app, "vice_principal")
    gk2 = period(session, "gk2")
    response = client.post(f"/ky-danh-gia/{gk2.id}/han-nhap", data={"deadline": "05/04/2027"}, headers=HTMX)
    assert response.status_code == 200
    card = doc(response).get_element_by_id("ky-gk2")
    assert "Đã lưu hạn nhập kì Giữa học kì II: hết ngày 05/04/2027." in card.text_content()
    assert card.get_element_by_id(f"deadline-{gk2.id}").get("value") == "2027-04-05"
    assert "<html" not in html(response)


@pytest.mark.parametrize("typed, message", [
    ("31/02/2027", "Ngày không hợp lệ"),
    ("", "Hãy nhập ngày."),
    ("2030-01-15", "Ngày phải thuộc năm học"),
])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_set_deadline_refuses_bad_input_and_keeps_it(app, session, typed, message, htmx):
    client = sign_in(app, "principal")
    ck1 = period(session, "ck1")
    before = ck1.deadline
    response = client.post(f"/ky-danh-gia/{ck1.id}/han-nhap", data={"deadline": typed}, headers=HTMX if htmx else {})
    assert response.status_code == 422
    page = doc(response)
    field = page.get_element_by_id(f"deadline-{ck1.id}")
    assert field.get("value") == typed and field.get("aria-invalid") == "true"
    assert message in page.get_element_by_id(f"e-deadline-{ck1.id}").text_content()
    assert ("<html" in html(response)) is not htmx
    session.expire_all()
    assert period(session, "ck1").deadline == before


def test_a_passed_deadline_shows_the_period_locked(app, session):
    client = sign_in(app, "principal")
    gk1 = period(session, "gk1")
    yesterday = date.today() - timedelta(days=1)
    assert client.post(f"/ky-danh-gia/{gk1.id}/han-nhap", data={"deadline": yesterday.isoformat()}).status_code == 302
    card = doc(client.get("/ky-danh-gia")).get_element_by_id("ky-gk1")
    assert "Đã khóa do quá hạn nhập" in card.text_content()
    assert "dời hạn nhập" in card.text_content()


def test_lock_the_school_then_release(app, session):
    client = sign_in(app, "principal")
    ck1 = period(session, "ck1")
    response = client.post(f"/ky-danh-gia/{ck1.id}/khoa", data={"target": "school"}, headers=HTMX)
    assert response.status_code == 200
    card = doc(response).get_element_by_id("ky-ck1")
    assert "Hiệu trưởng đã khóa toàn trường" in card.text_content()
    assert "Đã khóa kì Cuối học kì I: Toàn trường." in card.text_content()
    lock = session.exec(select(PeriodLock)).one()
    assert (lock.scope, lock.grade_id, lock.class_id, lock.released_at) == ("school", None, None, None)
    # Locking the same scope twice keeps one lock.
    assert client.post(f"/ky-danh-gia/{ck1.id}/khoa", data={"target": "school"}).status_code == 302
    assert len(session.exec(select(PeriodLock)).all()) == 1

    response = client.post(f"/ky-danh-gia/khoa/{lock.id}/mo-khoa")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(PeriodLock, lock.id).released_at is not None
    card = doc(client.get("/ky-danh-gia")).get_element_by_id("ky-ck1")
    assert "Đang mở" in card.text_content() and "Lệnh khóa" not in card.text_content()
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.action.like("period.%"))).all()
    assert actions == ["period.locked", "period.unlocked"]


def test_lock_a_grade_and_a_class(app, session):
    client = sign_in(app, "principal")
    gk1 = period(session, "gk1")
    grade6 = session.exec(select(Grade).where(Grade.number == 6)).one()
    klass = current_class(session, "7A1")
    assert client.post(f"/ky-danh-gia/{gk1.id}/khoa", data={"target": f"grade-{grade6.id}"}).status_code == 302
    response = client.post(f"/ky-danh-gia/{gk1.id}/khoa", data={"target": f"class-{klass.id}"}, headers=HTMX)
    card = doc(response).get_element_by_id("ky-gk1")
    assert "Đang mở · khóa riêng: Khối 6, Lớp 7A1" in card.text_content()
    locks = session.exec(select(PeriodLock).order_by(PeriodLock.id)).all()
    assert [(x.scope, x.grade_id, x.class_id) for x in locks] == [("grade", grade6.id, None), ("class", None, klass.id)]


@pytest.mark.parametrize("target, message", [
    ("", "Hãy chọn khóa toàn trường, một khối hoặc một lớp."),
    ("class-abc", "Hãy chọn khóa toàn trường, một khối hoặc một lớp."),
    ("class-999999", "Lớp không thuộc năm học của kì này."),
    ("grade-999999", "Không tìm thấy khối này."),
])
def test_lock_refuses_a_bad_target(app, session, target, message):
    client = sign_in(app, "principal")
    ck2 = period(session, "ck2")
    response = client.post(f"/ky-danh-gia/{ck2.id}/khoa", data={"target": target})
    assert response.status_code == 422
    assert message in doc(response).get_element_by_id(f"e-lock-{ck2.id}").text_content()
    assert session.exec(select(PeriodLock)).first() is None


def test_unknown_period_or_lock_is_404(app):
    client = sign_in(app, "principal")
    assert client.post("/ky-danh-gia/999999/han-nhap", data={"deadline": "2027-01-20"}).status_code == 404
    assert client.post("/ky-danh-gia/999999/khoa", data={"target": "school"}).status_code == 404
    assert client.post("/ky-danh-gia/khoa/999999/mo-khoa").status_code == 404


def test_year_deadline_saves_and_refuses_bad_input(app, session):
    client = sign_in(app, "principal")
    sending = year_deadline(session, "sending")
    response = client.post(f"/ky-danh-gia/han/{sending.id}", data={"due": "2027-08-15"}, headers=HTMX)
    assert response.status_code == 200
    section = doc(response).get_element_by_id("han-cong-viec")
    assert "Đã lưu hạn “Hoàn thành gửi học bạ về CSDL của Bộ”: hết ngày 15/08/2027." in section.text_content()
    session.expire_all()
    assert year_deadline(session, "sending").due == date(2027, 8, 15)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "deadline.changed")).one().note == "sending"

    response = client.post(f"/ky-danh-gia/han/{sending.id}", data={"due": "không biết"})
    assert response.status_code == 422
    field = doc(response).get_element_by_id(f"due-{sending.id}")
    assert field.get("value") == "không biết"
    assert "Ngày không hợp lệ" in doc(response).get_element_by_id(f"e-due-{sending.id}").text_content()
    session.expire_all()
    assert year_deadline(session, "sending").due == date(2027, 8, 15)


def test_a_new_school_year_gets_its_periods_with_the_default_deadlines(app, session):
    from portal.models import GradePeriod, SchoolYear, YearDeadline

    old = year(session)
    old.is_current = False
    new = SchoolYear(name="2027-2028", start_date=date(2027, 9, 5), end_date=date(2028, 5, 31), is_current=True)
    session.add_all([old, new])
    session.commit()
    response = sign_in(app, "principal").get("/ky-danh-gia")
    assert response.status_code == 200
    session.expire_all()
    rows = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == new.id)).all()
    periods = {p.code: p.deadline for p in rows}
    assert periods == {"gk1": date(2027, 11, 15), "ck1": date(2028, 1, 15), "gk2": date(2028, 3, 31),
                       "ck2": date(2028, 5, 20), "cn": date(2028, 5, 20)}
    assert len(session.exec(select(YearDeadline).where(YearDeadline.school_year_id == new.id)).all()) == 3
    assert "Năm học 2027-2028" in text(response) and text(response).count("Đang mở") == 5
