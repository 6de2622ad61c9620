"""Arrange locks, deadlines and grants through the periods service, and read back what a write left behind.

Everything here goes through the real service functions (``portal.periods.service``), each in its own
committed write transaction, as the principal's and the teachers' screens do.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from portal.authz import Actor
from portal.db import new_session, write_session
from portal.models import PERIODS, AuditEvent, GradePeriod, SchoolClass, SchoolYear, Subject, User
from portal.periods import service as periods

HX = {"HX-Request": "true"}
DATA_ACTIONS = ("assessment.saved", "comment.saved", "record.saved")
PRINCIPAL = "hieutruong"


class Clock:
    """The portal's clock in tests: `portal.clock.now` returns `self.now`, which a test moves."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime.now(UTC)

    def move(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def today_vn(self):
        return self.now.astimezone(periods.VN).date()


@contextmanager
def reading(app):
    with app.app_context(), new_session(write=False, app=app) as session:
        yield session


@contextmanager
def writing(app):
    """A committed write transaction, in an app context (no request: the audit events name no actor)."""
    with app.app_context(), write_session(app) as session:
        yield session


def actor(session: Session, username: str) -> Actor:
    return Actor(session, session.exec(select(User).where(User.username == username)).one())


def current_year(session: Session) -> SchoolYear:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()


def klass(session: Session, name: str) -> SchoolClass:
    year = current_year(session)
    return session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                  SchoolClass.name == name)).one()


def subject(session: Session, class_name: str, code: str) -> Subject:
    return session.exec(select(Subject).where(Subject.grade_id == klass(session, class_name).grade_id,
                                              Subject.code == code)).one()


def period(session: Session, code: str) -> GradePeriod:
    return periods.ensure_periods(session, current_year(session))[code]


def open_all_periods(app, clock: Clock, days: int = 60) -> None:
    """Move every deadline of the current year well after the clock, so only what a test does locks."""
    with writing(app) as session:
        for row in periods.ensure_periods(session, current_year(session)).values():
            row.deadline = clock.today_vn() + timedelta(days=days)
            session.add(row)


# --- Locks, deadlines, grants --------------------------------------------------------------------------------


def lock(app, code: str, scope: str, class_name: str) -> int:
    """The principal locks period `code` for the school, the grade of `class_name`, or `class_name` alone."""
    with writing(app) as session:
        target = klass(session, class_name)
        row = periods.lock(session, actor=actor(session, PRINCIPAL), period_id=period(session, code).id, scope=scope,
                           grade_id=target.grade_id, class_id=target.id)
        return row.id


def release(app, lock_id: int) -> None:
    with writing(app) as session:
        periods.release_lock(session, actor=actor(session, PRINCIPAL), lock_id=lock_id)


def pass_deadline(app, clock: Clock, code: str, how: str) -> None:
    """Let period `code` lock by its deadline: set the deadline to yesterday, or move the clock past it."""
    with writing(app) as session:
        row = period(session, code)
        if how == "deadline":
            periods.set_deadline(session, actor=actor(session, PRINCIPAL), period_id=row.id,
                                 deadline=clock.today_vn() - timedelta(days=1))
        else:
            clock.now = periods.closes_at(row) + timedelta(minutes=1)


def request(app, *, code: str, class_name: str, subject_code: str | None, requester: str,
            student_id: int | None = None) -> int:
    """A teacher's unlock request of (period, class, subject or the homeroom entries[, student])."""
    with writing(app) as session:
        target = klass(session, class_name)
        subject_id = subject(session, class_name, subject_code).id if subject_code else None
        row = periods.request_unlock(session, actor=actor(session, requester), period_id=period(session, code).id,
                                     class_id=target.id, subject_id=subject_id, student_id=student_id,
                                     reason="Nhập nhầm điểm, cần sửa lại theo bài kiểm tra.")
        return row.id


def grant(app, clock: Clock, *, minutes: int = 60, **scope) -> int:
    """A request (see `request`) and the principal's grant with its minutes (biên bản); return its id."""
    request_id = request(app, **scope)
    with writing(app) as session:
        row = periods.grant(session, actor=actor(session, PRINCIPAL), request_id=request_id,
                            minutes_number="12/BB-THCS", minutes_date=clock.today_vn(),
                            approver="Nguyễn Văn Hiệu", ends_at=clock.now + timedelta(minutes=minutes))
        return row.id


# --- What a write left behind --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    action: str
    period: str
    student_id: int | None
    subject_id: int | None
    grant_id: int | None


def data_events(app) -> list[Event]:
    """The audit events of data changes (cells, comments, homeroom entries), oldest first."""
    with reading(app) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action.in_(DATA_ACTIONS)).order_by(AuditEvent.id))
        return [Event(e.id, e.action, e.period, e.student_id, e.subject_id, e.grant_id) for e in rows]


def assert_locked_message(message: str, code: str, *, why: str) -> None:
    """The refusal names the period, says why, that nothing was saved, and how to ask for an unlock."""
    assert f"Kì “{PERIODS[code]}” đã khóa" in message, message
    assert why in message, message
    assert "Dữ liệu chưa được lưu" in message, message
    assert "đề nghị mở khóa" in message and "Hiệu trưởng" in message, message


LOCKED_BY_PRINCIPAL = "Hiệu trưởng đã khóa kì này"
LOCKED_BY_DEADLINE = "đã quá hạn nhập"
