"""Factory helpers: make_* functions that add a row with sensible defaults, overridable by keyword."""

from __future__ import annotations

import itertools
from datetime import date

from sqlmodel import Session, select

from portal.auth.passwords import hash_password
from portal.models import Enrollment, SchoolClass, SchoolYear, Student, User, UserRole

_counter = itertools.count(1)


def make_user(session: Session, *, roles=("teacher",), password="Mat-khau-rat-kho-2026", **overrides) -> User:
    n = next(_counter)
    fields = {"username": f"user{n}", "full_name": f"Người dùng {n}", "password_hash": hash_password(password)}
    fields.update(overrides)
    user = User(**fields)
    session.add(user)
    session.flush()
    for role in roles:
        session.add(UserRole(user_id=user.id, role=role))
    session.commit()
    return user


def make_student(session: Session, *, class_name: str | None = None, **overrides) -> Student:
    n = next(_counter)
    fields = {
        "student_code": f"TEST{n:06d}", "personal_id": f"0372{n:08d}", "full_name": f"Học Sinh Thử {n}",
        "date_of_birth": date(2014, 1, 1), "sex": 1,
    }
    fields.update(overrides)
    student = Student(**fields)
    session.add(student)
    session.flush()
    if class_name:
        klass = session.exec(
            select(SchoolClass).join(SchoolYear).where(SchoolYear.is_current, SchoolClass.name == class_name)
        ).one()
        session.add(Enrollment(student_id=student.id, class_id=klass.id))
    session.commit()
    return student


def current_class(session: Session, name: str) -> SchoolClass:
    return session.exec(
        select(SchoolClass).join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
        .where(SchoolYear.is_current, SchoolClass.name == name)
    ).one()
