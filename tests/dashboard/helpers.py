"""Arrange progress data for dashboard tests: cells through the gradebook's write path, deadlines by hand,
real transcripts prepared, signed and released through the transcripts' service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import Session, select

from portal.dashboard.service import current_year, today_vn
from portal.db import engine_for
from portal.gradebook.service import save_cell, save_record
from portal.models import (
    Assessment,
    GradePeriod,
    SchoolClass,
    Student,
    StudentRecord,
    Submission,
    TeachingAssignment,
    User,
    utcnow,
)
from tests.conftest import _worker
from tests.review.helpers import actor, current_class, roster, subject
from tests.transcripts.conftest import copy_signed_instance

# Days from today (Vietnam) to each period's deadline: the next deadline is gk1's, nothing has passed.
OPEN_PLAN = {"gk1": 10, "ck1": 40, "gk2": 100, "ck2": 150, "cn": 150}


@contextmanager
def counting_statements(app) -> Iterator[list[str]]:
    """Collect the SQL statements the app's engine runs inside the block."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def set_deadlines(session: Session, plan: dict[str, int]) -> date:
    """Move the current year's period deadlines to today + n days; return today (Vietnam time)."""
    today = today_vn()
    year = current_year(session)
    for period in session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id)):
        if period.code in plan:
            period.deadline = today + timedelta(days=plan[period.code])
            session.add(period)
    session.commit()
    return today


def teacher_of(session: Session, klass, subj):
    teacher_id = session.exec(select(TeachingAssignment.teacher_id).where(
        TeachingAssignment.class_id == klass.id, TeachingAssignment.subject_id == subj.id)).one()
    return actor(session, session.get(User, teacher_id).username)


def save(session: Session, class_name: str, code: str, term: str, slot: str, students: range | list[int],
         raw: str = "8") -> None:
    """Save one slot for the students at these roster positions (0-based) as the pair's teacher."""
    klass = current_class(session, class_name)
    subj = subject(session, klass, code)
    teacher = teacher_of(session, klass, subj)
    people = roster(session, klass)
    for index in students:
        student = people[index]
        row = session.exec(select(Assessment).where(
            Assessment.student_id == student.id, Assessment.subject_id == subj.id, Assessment.term == term,
            Assessment.slot == slot)).first()
        save_cell(session=session, actor=teacher, class_id=klass.id, subject_id=subj.id, term=term,
                  student_id=student.id, slot=slot, raw=raw, version=row.version if row else 0)
    session.commit()


def save_homeroom(session: Session, class_name: str, term: str, key: str, students, raw: str) -> None:
    klass = current_class(session, class_name)
    homeroom = actor(session, session.get(User, klass.homeroom_teacher_id).username)
    people = roster(session, klass)
    for index in students:
        student = people[index]
        row = session.exec(select(StudentRecord).where(
            StudentRecord.student_id == student.id, StudentRecord.term == term, StudentRecord.key == key)).first()
        save_record(session=session, actor=homeroom, class_id=klass.id, student_id=student.id, term=term, key=key,
                    raw=raw, version=row.version if row else 0)
    session.commit()


# --- Transcripts of the current year (needs the signed template of tests/transcripts) --------------------------

# Two receiving endpoints, never contacted: nothing here kicks the sending jobs; tests mark submissions sent.
ENDPOINTS = {"bo": {"url": "http://127.0.0.1:9/api/nhan-hoc-ba", "token": "t-bo", "label": "Bộ GD&ĐT"},
             "so": {"url": "http://127.0.0.1:9/api/nhan-hoc-ba", "token": "t-so", "label": "Sở GD&ĐT"}}


@dataclass
class Arranged:
    klass: SchoolClass
    students: list[Student]  # in roll order
    transcripts: dict[int, int]  # roll position → transcript id
    partly: int  # user id of the one signer of position 3's transcript (a subject teacher)


def arrange_transcripts(app, session: Session, class_name: str = "6A1") -> Arranged:
    """Fill the current year's class with a complete year, lock its whole year, then by roll position (0-based):
    0 released and accepted by both endpoints; 1 released, accepted by one, failed at the other; 2 signed by
    everyone, not released; 3 signed by its first subject teacher only; 4 prepared, unsigned; the rest none."""
    from portal.periods import service as periods
    from portal.transcripts import demo
    from portal.transcripts import service as transcripts
    from tests.public.conftest import principal_actor, sign_and_release

    klass = current_class(session, class_name)
    students = roster(session, klass)
    period = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == klass.school_year_id,
                                                    GradePeriod.code == "cn")).one()
    with app.app_context():
        demo.fill_class_year(session, klass)
        periods.lock(session, actor=principal_actor(session), period_id=period.id, scope="class", class_id=klass.id)
        session.commit()
        ids = {}
        for index in range(5):
            ids[index] = transcripts.prepare(session, actor=principal_actor(session), student_id=students[index].id,
                                             school_year_id=klass.school_year_id, app=app).transcript.id
        session.commit()
    for index in (0, 1):
        sign_and_release(app, session, ids[index])
    demo.sign_in_order(app, ids[2])
    first = next(s for s in transcripts.signatures_of(session, ids[3]) if s.role == "subject")
    session.commit()
    transcripts.sign_for(user_id=first.user_id, transcript_id=ids[3], app=app)
    now = utcnow()
    session.execute(update(Submission).where(Submission.transcript_id == ids[0])
                    .values(status="sent", sent_at=now, receipt_id="BN-0"))
    session.execute(update(Submission).where(Submission.transcript_id == ids[1], Submission.endpoint == "bo")
                    .values(status="sent", sent_at=now, receipt_id="BN-1"))
    session.execute(update(Submission).where(Submission.transcript_id == ids[1], Submission.endpoint == "so")
                    .values(status="failed", attempts=1, last_error="Sở GD&ĐT không trả lời."))
    session.commit()
    session.expire_all()
    return Arranged(klass, students, ids, first.user_id)


# --- The arrangement above, made once per test session and copied for each test ---------------------------


@pytest.fixture
def database_url(arranged_template, tmp_path):
    """A fresh copy of the arranged database, with its token folder, PIN secrets and CA."""
    return copy_signed_instance(arranged_template, tmp_path / "instance", pg_name=f"portal_dash_{_worker()}")


def load_arranged(session: Session, template: dict) -> Arranged:
    """The arrangement of `arranged_template`, read back through the test's session."""
    ids = template["ids"]
    students = {st.id: st for st in session.exec(select(Student).where(Student.id.in_(ids["students"])))}
    return Arranged(session.get(SchoolClass, ids["klass"]), [students[i] for i in ids["students"]],
                    dict(ids["transcripts"]), ids["partly"])
