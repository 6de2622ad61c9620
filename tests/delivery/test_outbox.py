"""The outbox: submissions are written by release and revocation in their own transaction, with the envelope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from portal.delivery import rules
from portal.delivery import service as delivery
from portal.gradebook.service import class_roster
from portal.models import Submission, Transcript
from portal.transcripts import service
from tests.delivery.conftest import SCHOOL_CODE
from tests.public.conftest import principal_actor, sign_and_release


def submissions(session, transcript_id: int | None = None) -> list[Submission]:
    session.expire_all()
    query = select(Submission).order_by(Submission.endpoint, Submission.phienban)
    if transcript_id is not None:
        query = query.where(Submission.transcript_id == transcript_id)
    return list(session.exec(query))


def test_a_release_adds_one_new_submission_per_endpoint(app, session, released):
    rows = submissions(session)
    assert [(r.endpoint, r.sukien, r.phienban, r.status) for r in rows] == [("bo", "NEW", 1, "pending"),
                                                                           ("so", "NEW", 1, "pending")]
    assert {r.transcript_id for r in rows} == {released.id} and {r.idbanghi for r in rows} == {released.record_id}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r.thoigiancapnhat) for r in rows)
    # Vietnam time of the release, to the second
    stamp = datetime.strptime(rows[0].thoigiancapnhat, "%Y-%m-%d %H:%M:%S").replace(tzinfo=rules.VN)
    released_at = session.get(Transcript, released.id).released_at.replace(tzinfo=UTC)
    assert abs(stamp - released_at) < timedelta(seconds=1)
    assert rows[0].attempts == 0 and rows[0].receipt_id is None


def test_a_refused_release_adds_nothing(app, session, previous_class):
    assert not session.exec(select(Transcript.id)).all()
    student = class_roster(session, previous_class.id, include_left=True)[0][1]
    with app.app_context():
        prepared = service.prepare(session, actor=principal_actor(session), student_id=student.id,
                                   school_year_id=previous_class.school_year_id, app=app)
        session.commit()
        with pytest.raises(service.ChecksFailed):  # nobody has signed yet
            service.release(session, actor=principal_actor(session), transcript_id=prepared.transcript.id, app=app)
        session.rollback()
    assert submissions(session) == []


def test_a_rolled_back_release_leaves_no_submission(app, session, release_student, previous_class):
    first = release_student(0)
    assert len(submissions(session, first.id)) == 2
    # Prepare and sign the second student, then release it in a transaction that is rolled back.
    students = list(session.exec(select(Transcript.student_id)).all())

    other = next(s for _, s in class_roster(session, previous_class.id, include_left=True) if s.id not in students)
    with app.app_context():
        prepared = service.prepare(session, actor=principal_actor(session), student_id=other.id,
                                   school_year_id=previous_class.school_year_id, app=app)
        session.commit()
    transcript_id = prepared.transcript.id
    while waiting := service.waiting_for(service.signatures_of(session, transcript_id)):
        session.commit()
        for user_id in dict.fromkeys(s.user_id for s in waiting if s.user_id):
            service.sign_for(user_id=user_id, transcript_id=transcript_id, app=app)
        session.expire_all()
    session.commit()
    with app.app_context():
        service.release(session, actor=principal_actor(session), transcript_id=transcript_id, app=app)
        assert len(submissions(session, transcript_id)) == 2  # visible inside the transaction
        session.rollback()
    assert submissions(session, transcript_id) == []
    assert session.get(Transcript, transcript_id).status == "signing"


def test_revocation_cancels_and_the_next_release_updates_with_higher_versions(app, session, released):
    with app.app_context():
        prepared = service.revoke(session, actor=principal_actor(session), transcript_id=released.id,
                                  reason="Nhập nhầm điểm môn Toán học kì II.", minutes_number="07/QĐ",
                                  minutes_date=datetime.now(UTC).date(), approver="Nguyễn Văn Thành")
        session.commit()
    rows = submissions(session)
    assert [(r.endpoint, r.sukien, r.phienban, r.transcript_id) for r in rows] == [
        ("bo", "NEW", 1, released.id), ("bo", "CANCEL", 2, released.id),
        ("so", "NEW", 1, released.id), ("so", "CANCEL", 2, released.id)]
    new_id = prepared.transcript.id
    assert new_id != released.id
    second = sign_and_release(app, session, new_id)
    assert second.version == 2
    rows = submissions(session, new_id)
    assert [(r.endpoint, r.sukien, r.phienban) for r in rows] == [("bo", "UPDATE", 3), ("so", "UPDATE", 3)]
    assert {r.idbanghi for r in rows} == {released.record_id}


def test_no_endpoint_configured_means_no_submission(app, session, release_student):
    app.config["SEND_ENDPOINTS"] = {}
    release_student(0)
    assert submissions(session) == []


def test_the_envelope_carries_the_record_and_both_signed_files(app, session, released):
    row = submissions(session)[0]
    body = delivery.build_payload(session, row)
    envelope, problems = rules.parse_envelope(body)
    assert problems == []
    transcript = session.get(Transcript, released.id)
    assert (envelope.bang, envelope.idbanghi, envelope.sukien, envelope.phienban, envelope.matruong) == (
        "thongtinsohocbasothcsthpt", transcript.record_id, "NEW", 1, SCHOOL_CODE)
    assert envelope.thoigiancapnhat == row.thoigiancapnhat
    assert envelope.xml == transcript.xml and envelope.pdf == transcript.pdf
    assert body["pdf_sha256"] == transcript.pdf_sha256
    assert rules.idempotency_key(envelope.idbanghi, envelope.phienban) == f"{transcript.record_id}:1"
