"""Arrange gradebook data for review tests through the gradebook's own write path."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.authz import Actor
from portal.gradebook.service import load_pair, save_cell, save_record, slots_for
from portal.models import Assessment, Grade, SchoolClass, Student, StudentRecord, Subject, TeachingAssignment, User
from tests.factories import current_class


def user(session: Session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def actor(session: Session, username: str) -> Actor:
    return Actor(session, user(session, username))


def subject(session: Session, klass: SchoolClass, code: str) -> Subject:
    return session.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == code)).one()


def roster(session: Session, klass: SchoolClass) -> list[Student]:
    from portal.gradebook.service import class_roster

    return [s for _, s in class_roster(session, klass.id)]


def _version(session, model, **key) -> int:
    row = session.exec(select(model).filter_by(**key)).first()
    return row.version if row else 0


def fill_student(session: Session, klass: SchoolClass, student: Student, *, score="8", comment="D",
                 conduct=("T", "T"), absences=(0, 0, 0, 0), level="HTT", test="9", rating="T") -> None:
    """Save a student's whole year: every cell of every subject as its assigned teacher, then the homeroom
    records as the homeroom teacher. `score` may be a dict per subject code; a None conduct is left out."""
    grade = session.get(Grade, klass.grade_id)
    actors: dict[int, Actor] = {}
    subjects = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id)).all()
    for subj in subjects:
        teacher_id = session.exec(select(TeachingAssignment.teacher_id).where(
            TeachingAssignment.class_id == klass.id, TeachingAssignment.subject_id == subj.id)).one()
        teacher = actors.setdefault(teacher_id, Actor(session, session.get(User, teacher_id)))
        pair = load_pair(session, class_id=klass.id, subject_id=subj.id)
        for term in ("hk1", "hk2"):
            for slot in slots_for(pair, term):
                if slot.kind == "score":
                    raw = score.get(subj.code, "8") if isinstance(score, dict) else score
                elif slot.kind == "comment":
                    raw = comment
                elif slot.kind == "level":
                    raw = level
                else:
                    raw = test
                version = _version(session, Assessment, student_id=student.id, subject_id=subj.id,
                                   school_year_id=klass.school_year_id, term=term, slot=slot.code)
                save_cell(session=session, actor=teacher, class_id=klass.id, subject_id=subj.id, term=term,
                          student_id=student.id, slot=slot.code, raw=raw, version=version)
    homeroom = Actor(session, session.get(User, klass.homeroom_teacher_id))
    entries = []
    if grade.number >= 6:
        entries += [(t, "conduct", c) for t, c in zip(("hk1", "hk2"), conduct, strict=True) if c is not None]
    else:
        from portal.gradebook.rules import COMPETENCIES, QUALITIES

        entries += [("hk2", key, rating) for key in (*QUALITIES, *COMPETENCIES)]
    keys = [("hk1", "absences_excused"), ("hk1", "absences_unexcused"), ("hk2", "absences_excused"),
            ("hk2", "absences_unexcused")]
    entries += [(t, k, str(n)) for (t, k), n in zip(keys, absences, strict=True) if n is not None]
    for term, key, raw in entries:
        version = _version(session, StudentRecord, student_id=student.id, school_year_id=klass.school_year_id,
                           term=term, key=key)
        save_record(session=session, actor=homeroom, class_id=klass.id, student_id=student.id, term=term, key=key,
                    raw=raw, version=version)
    session.commit()


__all__ = ["actor", "current_class", "fill_student", "roster", "subject", "user"]
