"""Fixtures for public verification: the signed template of tests/transcripts and a released transcript."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.authz import Actor
from portal.gradebook.service import class_roster
from portal.models import Transcript, User
from portal.transcripts import service
from tests.transcripts.conftest import database_url, previous_class  # noqa: F401


def principal_actor(session) -> Actor:
    return Actor(session, session.exec(select(User).where(User.username == "hieutruong")).one())


def sign_and_release(app, session, transcript_id: int) -> Transcript:
    """Sign a prepared transcript by every signer in the legal order, then release it."""
    session.commit()
    while True:
        session.expire_all()
        waiting = service.waiting_for(service.signatures_of(session, transcript_id))
        session.commit()
        if not waiting:
            break
        for user_id in dict.fromkeys(s.user_id for s in waiting if s.user_id is not None):
            service.sign_for(user_id=user_id, transcript_id=transcript_id, app=app)
    with app.app_context():
        row = service.release(session, actor=principal_actor(session), transcript_id=transcript_id, app=app)
        session.commit()
    return row


@pytest.fixture
def release_student(app, session, previous_class):  # noqa: F811
    """Return release(index): prepare, sign and release the transcript of the class's index-th student."""
    locked, why = service.year_locked(session, previous_class)
    assert locked, why
    students = [s.id for _, s in class_roster(session, previous_class.id, include_left=True)]

    def _release(index: int = 0) -> Transcript:
        with app.app_context():
            prepared = service.prepare(session, actor=principal_actor(session), student_id=students[index],
                                       school_year_id=previous_class.school_year_id, app=app)
            session.commit()
        return sign_and_release(app, session, prepared.transcript.id)

    return _release


@pytest.fixture
def released(release_student) -> Transcript:
    """A fully signed and released transcript of last year's 6A1."""
    return release_student(0)
