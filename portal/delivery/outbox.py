"""The outbox: one `submissions` row per configured endpoint for each release and revocation.

`record_release` and `record_revocation` are called by portal.transcripts.service right after the status
change, in the caller's transaction: the release and its submissions commit together or not at all, and
nothing is queued before the commit (the view or job calls `delivery.service.kick` afterwards; the
reconciler finds anything a crash left behind). phienban is 1 + the highest phienban of that record at that
endpoint, so it strictly increases; the unique constraint (endpoint, idbanghi, phienban) backs it when two
transactions race (SQLite serialises writers; on PostgreSQL the loser's commit fails and is retried by the
user).

`backfill` adds what an endpoint missed because it was configured after the event (SEND_ENDPOINTS empty at
the release, or an endpoint added later): every released version and every revocation of a record, in their
order, from the first one this endpoint has not heard of onwards, with the same envelope rules. An event older
than one the endpoint already has is not sent (it would arrive with a higher phienban and undo the newer one).
It is idempotent (run twice, it adds nothing the second time) and runs under row locks on the record's
transcripts, the same rows a release or revocation updates, so it never interleaves with one (PostgreSQL;
SQLite serialises writers).
"""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import and_, func, literal_column, or_, union_all
from sqlalchemy.orm import aliased, defer
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


def add_submission(session: Session, transcript: Transcript, name: str, event: str, moment) -> Submission:
    """Add the submission of one event (RELEASE or CANCEL) of a transcript for one endpoint, with its envelope."""
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
    session.flush()  # the next event of this record at this endpoint counts this one's phienban
    return row


def _add(session: Session, transcript: Transcript, event: str, moment) -> list[Submission]:
    return [add_submission(session, transcript, name, event, moment) for name in endpoints()]


def record_release(session: Session, transcript: Transcript) -> list[Submission]:
    """Add a NEW (or UPDATE, for a later version) submission per endpoint for a transcript just released."""
    return _add(session, transcript, "RELEASE", transcript.released_at or utcnow())


def record_revocation(session: Session, transcript: Transcript) -> list[Submission]:
    """Add a CANCEL submission per endpoint for a transcript just revoked."""
    return _add(session, transcript, "CANCEL", transcript.revoked_at or utcnow())


# --- Backfill ---------------------------------------------------------------------------------------------

RELEASED = ("released", "revoked")  # statuses of a version that was released (a revoked one was, before)


def _missing(name: str, record_ids=None):
    """Events of released transcripts that endpoint `name` still has to hear of: (transcript id, record, version,
    event), with neither a submission of their own there nor one of a later event of the same record."""
    known = aliased(Submission)
    version = aliased(Transcript)
    later = select(known.id).join(version, version.id == known.transcript_id).where(
        known.endpoint == name, known.idbanghi == Transcript.record_id)

    def events(event: str):
        query = select(Transcript.id, Transcript.record_id, Transcript.version,
                       literal_column(f"'{event}'").label("event")).where(Transcript.released_at.is_not(None))
        return query if record_ids is None else query.where(Transcript.record_id.in_(record_ids))

    releases = events("RELEASE").where(Transcript.status.in_(RELEASED),
                                       ~later.where(version.version >= Transcript.version).exists())
    cancels = events("CANCEL").where(Transcript.status == "revoked", ~later.where(or_(
        version.version > Transcript.version, and_(version.id == Transcript.id, known.sukien == "CANCEL"))).exists())
    return union_all(releases, cancels)


def missing_records(session: Session, names) -> list[str]:
    """The records (idbanghi) with an event that one of these endpoints has not heard of yet."""
    found: set[str] = set()
    for name in names:
        found.update(session.execute(select(_missing(name).subquery().c.record_id).distinct()).scalars())
    return sorted(found)


def count_missing(session: Session, names) -> int:
    """How many submissions a backfill would add now."""
    return sum(session.execute(select(func.count()).select_from(_missing(name).subquery())).scalar_one()
               for name in names)


def backfill(session: Session, names, record_ids) -> list[Submission]:
    """Add the missing submissions of these records for these endpoints, in the caller's transaction.

    The record's transcript rows are locked first (FOR UPDATE on PostgreSQL): a release or revocation of the
    record, which updates one of them, waits for this transaction or this one for it; then what is missing is
    read again, so a row added meanwhile by someone else is not added twice.
    """
    record_ids = list(record_ids)
    if not record_ids:
        return []
    transcripts = {row.id: row for row in session.exec(
        select(Transcript).where(Transcript.record_id.in_(record_ids)).order_by(Transcript.id)
        .options(defer(Transcript.pdf), defer(Transcript.xml), defer(Transcript.data_json)).with_for_update())}
    rows = []
    for name in names:
        events = session.execute(_missing(name, record_ids)).all()
        for transcript_id, _record, _version, event in sorted(
                events, key=lambda e: (e.record_id, rules.history_position(e.version, e.event))):
            transcript = transcripts[transcript_id]
            moment = (transcript.released_at if event == "RELEASE" else transcript.revoked_at) or utcnow()
            rows.append(add_submission(session, transcript, name, event, moment))
    return rows
