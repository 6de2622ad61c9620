"""Shared arrangements of the periods tests: the demo school's periods, pairs, requests and signed-in clients."""

from __future__ import annotations

import re
from datetime import timedelta

import lxml.html
from sqlmodel import select

from portal.models import GradePeriod, SchoolClass, SchoolYear, Subject, UnlockRequest, User, YearDeadline
from portal.periods.service import VN
from tests.conftest import DEMO_PASSWORD, ROLE_USERS
from tests.factories import current_class

HTMX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def html(response) -> str:
    return response.get_data(as_text=True)


def doc(response):
    return lxml.html.document_fromstring(html(response))


def text(response) -> str:
    """The visible text of a page or fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", lxml.html.fromstring(html(response)).text_content()).strip()


def sign_in(app, role: str | None = None, *, username: str | None = None):
    """An independent browser (its own cookies) signed in as the demo user of a role."""
    client = app.test_client()
    name = username or ROLE_USERS[role]
    assert client.post("/dang-nhap", data={"username": name, "password": DEMO_PASSWORD}).status_code == 302
    return client


def year(session) -> SchoolYear:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()


def period(session, code: str) -> GradePeriod:
    return session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year(session).id,
                                                  GradePeriod.code == code)).one()


def year_deadline(session, code: str) -> YearDeadline:
    return session.exec(select(YearDeadline).where(YearDeadline.school_year_id == year(session).id,
                                                   YearDeadline.code == code)).one()


def pair(session, class_name: str = "6A1", code: str = "tinhoc") -> tuple[SchoolClass, Subject]:
    klass = current_class(session, class_name)
    subject = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == code)).one()
    return klass, subject


def user(session, role: str) -> User:
    return session.exec(select(User).where(User.username == ROLE_USERS[role])).one()


def add_request(session, *, role: str = "teacher", class_name: str = "6A1", code: str | None = "tinhoc",
                period_code: str = "ck1", student_id: int | None = None,
                reason: str = "Nhập nhầm điểm thường xuyên của hai em, cần sửa lại.") -> UnlockRequest:
    """A pending request, inserted directly (the request form has its own tests)."""
    klass = current_class(session, class_name)
    subject_id = pair(session, class_name, code)[1].id if code else None
    row = UnlockRequest(period_id=period(session, period_code).id, class_id=klass.id, subject_id=subject_id,
                        student_id=student_id, reason=reason, requested_by=user(session, role).id)
    session.add(row)
    session.commit()
    return row


def local_input(moment) -> str:
    """A datetime-local value in Vietnam time."""
    return moment.astimezone(VN).strftime("%Y-%m-%dT%H:%M")


def in_hours(now, hours: float) -> str:
    return local_input(now + timedelta(hours=hours))
