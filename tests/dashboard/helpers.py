"""Arrange progress data for dashboard tests: cells through the gradebook's write path, deadlines by hand."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from portal.dashboard.service import current_year, today_vn
from portal.gradebook.service import save_cell, save_record
from portal.models import Assessment, GradePeriod, StudentRecord, TeachingAssignment, User
from tests.review.helpers import actor, current_class, roster, subject

# Days from today (Vietnam) to each period's deadline: the next deadline is gk1's, nothing has passed.
OPEN_PLAN = {"gk1": 10, "ck1": 40, "gk2": 100, "ck2": 150, "cn": 150}


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
