"""Shared arrangements of the parents tests: demo users, 6A1 students, a code issued over HTTP."""

from __future__ import annotations

import re

import lxml.html
import pytest
from sqlmodel import select

from portal.authz import Actor
from portal.models import Guardian, Student, StudentGuardian, User
from tests.factories import current_class
from tests.periods.helpers import sign_in


def user(session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def actor(session, username: str) -> Actor:
    return Actor(session, user(session, username))


def children_of(session, username: str) -> set[int]:
    return set(session.exec(select(StudentGuardian.student_id)
                            .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
                            .where(Guardian.user_id == user(session, username).id)))


def roster(session, class_name: str) -> list[Student]:
    from portal.gradebook.service import class_roster

    return [s for _, s in class_roster(session, current_class(session, class_name).id)]


@pytest.fixture
def child(session) -> Student:
    """phuhuynh1's child, in 6A1 this year."""
    (student_id,) = children_of(session, "phuhuynh1")
    return session.get(Student, student_id)


@pytest.fixture
def unclaimed(session) -> Student:
    """A 6A1 student nobody is linked to (hoant is the homeroom teacher of 6A1)."""
    linked = set(session.exec(select(StudentGuardian.student_id)))
    return next(s for s in roster(session, "6A1") if s.id not in linked)


def slip_code(response) -> str:
    """The code printed on the slip page."""
    node = lxml.html.document_fromstring(response.get_data(as_text=True)).get_element_by_id("ma-lien-ket")
    code = node.text_content().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
    return code


def issue(app, student_id: int, *, role: str = "homeroom", relation: str = "me") -> str:
    """Issue a claim code over HTTP as a staff member and return it as printed."""
    response = sign_in(app, role).post(f"/phu-huynh/ma/{student_id}", data={"relation": relation})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return slip_code(response)
