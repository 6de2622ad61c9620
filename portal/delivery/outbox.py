"""The outbox: one `submissions` row per configured endpoint for each release and revocation.

`record_release` and `record_revocation` are called by portal.transcripts.service right after the status
change, in the caller's transaction: the release and its submissions commit together or not at all, and
nothing is queued before the commit (the view or job calls `delivery.service.kick` afterwards; the
reconciler finds anything a crash left behind). phienban is 1 + the highest phienban of that record at that
endpoint, so it strictly increases; the unique constraint (endpoint, idbanghi, phienban) backs it when two
transactions race (SQLite serialises writers; on PostgreSQL the loser's commit fails and is retried by the
user).
"""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import func
from sqlmodel import Session, select

from portal.delivery import rules
from portal.models import Submission, Transcript, utcnow


def endpoints(app=None) -> dict[str, dict]:
    """The configured endpoints (SEND_ENDPOINTS: name → {url, token, timeout, label}), parsed when given as JSON."""
    app = app or current_app
    return config_mapping(app.config.get("SEND_ENDPOINTS"))


def config_mapping(value) -> dict:
    """A dict configuration key, also when it arrived as a JSON string (PORTAL_* environment variables)."""
    if not value:
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError("expected a mapping (a dict, or a JSON object in the environment variable)")
    return dict(value)


def _add(session: Session, transcript: Transcript, event: str, moment) -> list[Submission]:
    rows = []
    for name in endpoints():
        highest = session.exec(select(func.max(Submission.phienban)).where(
            Submission.endpoint == name, Submission.idbanghi == transcript.record_id)).one()
        if event == "RELEASE":
            sukien = rules.release_event(transcript.version, highest is not None)
        else:
            sukien = event
        row = Submission(transcript_id=transcript.id, endpoint=name, idbanghi=transcript.record_id, sukien=sukien,
                         phienban=rules.next_phienban(highest), thoigiancapnhat=rules.vn_timestamp(moment),
                         next_attempt_at=utcnow())
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def record_release(session: Session, transcript: Transcript) -> list[Submission]:
    """Add a NEW (or UPDATE, for a later version) submission per endpoint for a transcript just released."""
    return _add(session, transcript, "RELEASE", transcript.released_at or utcnow())


def record_revocation(session: Session, transcript: Transcript) -> list[Submission]:
    """Add a CANCEL submission per endpoint for a transcript just revoked."""
    return _add(session, transcript, "CANCEL", transcript.revoked_at or utcnow())
