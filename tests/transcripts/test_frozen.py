"""A released transcript and the data it was made from cannot change: the gradebook refuses with a message and
the database triggers (migration 0005) refuse any direct UPDATE/DELETE, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from portal.authz import Actor
from portal.errors import Conflict
from portal.gradebook import service as gradebook
from portal.gradebook.service import class_roster
from portal.models import Assessment, Subject, TeachingAssignment, Transcript, User
from tests.factories import current_class


def _transcript(session, *, student_id: int, klass, status: str = "released", version: int = 1) -> Transcript:
    row = Transcript(student_id=student_id, school_year_id=klass.school_year_id, class_id=klass.id, version=version,
                     record_id="00000000-0000-4000-8000-000000000001", verify_code=f"HB-TEST-{status[:4]}-{version}",
                     status=status, regime="tt22", data_json="{}", data_sha256="0" * 64, xml=b"<x/>", pdf=b"%PDF-",
                     pdf_sha256="0" * 64, issue_date=date(2026, 6, 1), issue_place="Ninh Bình", prepared_by=1)
    session.add(row)
    session.commit()
    return row


def _refused(session, statement: str, **params) -> str:
    with pytest.raises(DBAPIError) as info:
        session.execute(text(statement), params)
        session.flush()
    session.rollback()
    return str(info.value)


def test_a_released_row_changes_only_by_revocation_and_then_never(session):
    klass = current_class(session, "6A1")
    student = class_roster(session, klass.id)[0][1]
    row = _transcript(session, student_id=student.id, klass=klass)
    assert "cannot change" in _refused(session, "UPDATE transcripts SET pdf = :b WHERE id = :i", b=b"%PDF-x", i=row.id)
    assert "cannot change" in _refused(session, "UPDATE transcripts SET status = 'signing' WHERE id = :i", i=row.id)
    assert "cannot change" in _refused(
        session, "UPDATE transcripts SET status = 'revoked', data_json = :d WHERE id = :i", d='{"a": 1}', i=row.id)
    assert "cannot change" in _refused(session, "DELETE FROM transcripts WHERE id = :i", i=row.id)
    session.execute(text("UPDATE transcripts SET status = 'revoked', revoke_reason = 'Sai sót điểm môn Toán' "
                         "WHERE id = :i"), {"i": row.id})
    session.commit()
    assert "cannot change" in _refused(session, "UPDATE transcripts SET revoke_reason = 'khác' WHERE id = :i", i=row.id)
    assert "cannot change" in _refused(session, "DELETE FROM transcripts WHERE id = :i", i=row.id)


def test_signatures_of_a_released_transcript_are_frozen(session):
    klass = current_class(session, "6A1")
    student = class_roster(session, klass.id)[0][1]
    row = _transcript(session, student_id=student.id, klass=klass, status="signing")
    session.execute(text("INSERT INTO transcript_signatures (transcript_id, position, stage, role, user_id, "
                         "signer_name, subjects, field_name, status) VALUES (:t, 1, 1, 'subject', NULL, 'A', '', "
                         "'ChuKy01_subject', 'pending')"), {"t": row.id})
    session.execute(text("UPDATE transcripts SET status = 'released' WHERE id = :i"), {"i": row.id})
    session.commit()
    assert "cannot change" in _refused(
        session, "UPDATE transcript_signatures SET status = 'signed' WHERE transcript_id = :t", t=row.id)
    assert "cannot change" in _refused(session, "DELETE FROM transcript_signatures WHERE transcript_id = :t", t=row.id)


def test_the_data_of_a_released_year_cannot_change_in_the_database(session):
    klass = current_class(session, "6A1")
    (_, first), (_, second) = class_roster(session, klass.id)[:2]
    subject = session.exec(select(Subject).join(TeachingAssignment, TeachingAssignment.subject_id == Subject.id)
                           .where(TeachingAssignment.class_id == klass.id)).first()
    for student in (first, second):
        session.add(Assessment(student_id=student.id, subject_id=subject.id, school_year_id=klass.school_year_id,
                               class_id=klass.id, term="hk1", slot="tx1", value="8", updated_by=1))
    session.commit()
    _transcript(session, student_id=first.id, klass=klass)
    params = {"s": first.id, "y": klass.school_year_id}
    assert "data cannot change" in _refused(
        session, "UPDATE assessments SET value = '10' WHERE student_id = :s AND school_year_id = :y", **params)
    assert "data cannot change" in _refused(
        session, "DELETE FROM assessments WHERE student_id = :s AND school_year_id = :y", **params)
    assert "data cannot change" in _refused(
        session, "INSERT INTO student_records (student_id, school_year_id, class_id, term, key, value, version, "
        "updated_by, updated_at) VALUES (:s, :y, :c, 'hk1', 'conduct', 'T', 1, 1, CURRENT_TIMESTAMP)",
        c=klass.id, **params)
    assert "data cannot change" in _refused(
        session, "INSERT INTO subject_comments (student_id, subject_id, school_year_id, class_id, term, text, version, "
        "updated_by, updated_at) VALUES (:s, :j, :y, :c, 'hk1', 'x', 1, 1, CURRENT_TIMESTAMP)",
        c=klass.id, j=subject.id, **params)
    # Another student of the same class is not affected.
    session.execute(text("UPDATE assessments SET value = '9' WHERE student_id = :s"), {"s": second.id})
    session.commit()


def test_the_gradebook_refuses_a_released_year_with_a_message(session):
    klass = current_class(session, "6A1")
    student = class_roster(session, klass.id)[0][1]
    assignment = session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == klass.id)).first()
    teacher = session.get(User, assignment.teacher_id)
    _transcript(session, student_id=student.id, klass=klass)
    with pytest.raises(Conflict, match="đã phát hành"):
        gradebook.save_cell(session=session, actor=Actor(session, teacher), class_id=klass.id,
                            subject_id=assignment.subject_id, term="hk1", student_id=student.id, slot="tx1",
                            raw="8", version=0)
    session.rollback()
    assert session.exec(select(Assessment).where(Assessment.student_id == student.id,
                                                 Assessment.school_year_id == klass.school_year_id)).first() is None
