"""Helpers that fill a student's year through the gradebook's write path, as the responsible teachers."""

from __future__ import annotations

from sqlmodel import select

from portal.authz import Actor
from portal.gradebook import service as gradebook
from portal.models import StudentRecord, Subject, TeachingAssignment, User


def actor(session, username: str) -> Actor:
    return Actor(session, session.exec(select(User).where(User.username == username)).one())


def fill_subjects(session, klass, student, *, score="8", comment="D", overrides=None) -> None:
    """Enter every assessment cell of both terms of every subject, each as the subject's assigned teacher."""
    overrides = overrides or {}
    assignments = session.exec(
        select(TeachingAssignment, Subject).join(Subject, Subject.id == TeachingAssignment.subject_id)
        .where(TeachingAssignment.class_id == klass.id)
    ).all()
    assert len(assignments) == 13, "every grade 6 subject of 6A1 has an assigned teacher in the demo"
    for assignment, subject in assignments:
        teacher = Actor(session, session.get(User, assignment.teacher_id))
        pair = gradebook.load_pair(session, class_id=klass.id, subject_id=subject.id)
        for term in gradebook.TERMS:
            for slot in gradebook.slots_for(pair, term):
                value = overrides.get(subject.code, score if slot.kind == "score" else comment)
                gradebook.save_cell(session=session, actor=teacher, class_id=klass.id, subject_id=subject.id,
                                    term=term, student_id=student.id, slot=slot.code, raw=value, version=0)
    session.commit()


def set_record(session, klass, student, term: str, key: str, value: str, *, username="hoant") -> StudentRecord:
    """Save a homeroom entry as the homeroom teacher, at its current version."""
    row = session.exec(select(StudentRecord).where(
        StudentRecord.student_id == student.id, StudentRecord.school_year_id == klass.school_year_id,
        StudentRecord.term == term, StudentRecord.key == key)).first()
    saved = gradebook.save_record(session=session, actor=actor(session, username), class_id=klass.id,
                                  student_id=student.id, term=term, key=key, raw=value,
                                  version=row.version if row else 0)
    session.commit()
    return saved


def set_year(session, klass, student, *, conduct=("T", "T"), absences=(0, 0, 0, 0)) -> None:
    """Enter conduct of both terms and the four absence counts."""
    for term, level in zip(("hk1", "hk2"), conduct, strict=True):
        set_record(session, klass, student, term, "conduct", level)
    counts = iter(absences)
    for term in ("hk1", "hk2"):
        for key in ("absences_excused", "absences_unexcused"):
            set_record(session, klass, student, term, key, str(next(counts)))


def set_retake(session, klass, student, subject_code: str, value: str) -> None:
    """Enter a re-assessment result (term "year", slot "retake") as the subject's assigned teacher."""
    subject, assignment = session.exec(
        select(Subject, TeachingAssignment).join(TeachingAssignment, TeachingAssignment.subject_id == Subject.id)
        .where(TeachingAssignment.class_id == klass.id, Subject.code == subject_code)
    ).one()
    teacher = Actor(session, session.get(User, assignment.teacher_id))
    gradebook.save_cell(session=session, actor=teacher, class_id=klass.id, subject_id=subject.id, term="year",
                        student_id=student.id, slot="retake", raw=value, version=0)
    session.commit()


def demo_year(session, klass, roster) -> None:
    """Three students with a whole year: a good one, one due for re-assessment in Ngữ văn, one absent 46 times."""
    fill_subjects(session, klass, roster[0], overrides={"toan": "9", "van": "9.5"})
    set_year(session, klass, roster[0], conduct=("K", "T"), absences=(1, 0, 2, 0))
    fill_subjects(session, klass, roster[1], score="6", overrides={"van": "3", "anh": "4"})
    set_year(session, klass, roster[1], conduct=("T", "K"), absences=(0, 0, 1, 0))
    fill_subjects(session, klass, roster[2])
    set_year(session, klass, roster[2], conduct=("T", "T"), absences=(30, 10, 6, 0))
