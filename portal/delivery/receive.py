"""The receiver: another portal posts its transcripts here (a Department server, or a school taking transfers).

POST /api/nhan-hoc-ba with ``Authorization: Bearer <token>`` (RECEIVER_TOKENS maps each token to the sending
school's code, matruong) and the JSON envelope of portal/delivery/rules.py. The answer is JSON:

- 201 with the receipt when a new (idbanghi, phienban) is accepted;
- 200 with the very same receipt when that key was accepted before with the same payload (a resend: the
  sender's retry after a lost answer, a worker killed after posting) — nothing is stored twice;
- 409 when that key was accepted with a different payload;
- 422 with the reasons (Vietnamese) when the files or the envelope do not verify (portal/delivery/verify.py);
- 401 for a missing or unknown token, 404 when this portal receives nothing (RECEIVER_TOKENS empty).

Verification (~0.5 s of CPU) runs before the write transaction; the check-then-insert of an accepted key runs
inside one write transaction (SQLite: BEGIN IMMEDIATE serialises writers; PostgreSQL: an advisory lock on the
key), so two identical requests at once store one record and both get its receipt.
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, func, text
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from portal.db import new_session, write_session
from portal.delivery import rules
from portal.delivery.outbox import config_mapping
from portal.delivery.verify import verify_submission
from portal.models import ReceivedRecord, utcnow


@dataclass
class Answer:
    status: int
    body: dict
    replayed: bool = False


def tokens(app=None) -> dict[str, str]:
    """RECEIVER_TOKENS: bearer token → the sending school's code (a dict, or JSON in the environment)."""
    return {str(k): str(v) for k, v in config_mapping((app or current_app).config.get("RECEIVER_TOKENS")).items()}


def enabled(app=None) -> bool:
    return bool(tokens(app))


def authenticate(header: str | None, app=None) -> str | None:
    """The school code of the bearer token in an Authorization header, or None (compared in constant time)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = None
    for known, school in tokens(app).items():
        if hmac.compare_digest(known.encode(), token.strip().encode()):
            found = school
    return found


def _refusal(status: int, reasons: list[str]) -> Answer:
    return Answer(status, {"trangthai": "tu_choi", "lydo": reasons})


def _accepted(session: Session, sender: str, envelope: rules.Envelope) -> ReceivedRecord | None:
    return session.exec(select(ReceivedRecord).where(
        ReceivedRecord.sender == sender, ReceivedRecord.idbanghi == envelope.idbanghi,
        ReceivedRecord.phienban == envelope.phienban, ReceivedRecord.accepted)).first()


def _replay(existing: ReceivedRecord, fingerprint: str) -> Answer:
    receipt = json.loads(existing.receipt)
    if receipt.get("sha256") == fingerprint:
        return Answer(200, receipt, replayed=True)
    return _refusal(409, [f"Đã nhận phiên bản {existing.phienban} của bản ghi {existing.idbanghi} với nội dung khác "
                          f"(biên nhận {existing.receipt_id}); phiên bản mới phải mang số phiên bản lớn hơn."])


def _store(session: Session, *, sender: str, envelope: rules.Envelope, accepted: bool, reasons: list[str],
           receipt: dict, record) -> ReceivedRecord:
    hocba = record.hocba if record is not None else {}
    row = ReceivedRecord(sender=sender[:20], idbanghi=envelope.idbanghi[:150], phienban=envelope.phienban,
                         sukien=envelope.sukien, accepted=accepted,
                         reasons=json.dumps(reasons, ensure_ascii=False), receipt_id=receipt.get("receipt_id", ""),
                         receipt=json.dumps(receipt, ensure_ascii=False, sort_keys=True) if receipt else "",
                         student_name=str(hocba.get("hovaten", ""))[:150], school_year=str(hocba.get("namhoc", ""))[:9],
                         class_name=str(hocba.get("tenlop", ""))[:10], xml=envelope.xml if accepted else None,
                         pdf=envelope.pdf if accepted else None, pdf_sha256=rules.sha256(envelope.pdf))
    session.add(row)
    return row


def receive(*, sender: str, body, idempotency_key: str | None = None, app=None) -> Answer:
    """Verify and store one submission from `sender` (a school code); answer with a receipt or the reasons."""
    app = app or current_app
    envelope, problems = rules.parse_envelope(body)
    if envelope is None:
        return _refusal(422, problems)
    if idempotency_key and idempotency_key.strip() != envelope.key:
        return _refusal(422, [f"Idempotency-Key “{idempotency_key[:200]}” khác “{envelope.key}” (idbanghi:phienban)."])
    fingerprint = envelope.fingerprint()
    with new_session(write=False, app=app) as session:
        existing = _accepted(session, sender, envelope)
    if existing is not None:
        return _replay(existing, fingerprint)
    _verified, reasons, record = verify_submission(None, xml=envelope.xml, pdf=envelope.pdf, app=app)
    if record is not None:
        reasons += rules.envelope_problems(envelope, table=record.table, hocba=record.hocba, sender=sender)
    with write_session(app) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                            {"key": f"receive:{sender}:{envelope.key}"})
        existing = _accepted(session, sender, envelope)
        if existing is not None:
            return _replay(existing, fingerprint)  # an identical request running at the same time won
        if reasons:
            _store(session, sender=sender, envelope=envelope, accepted=False, reasons=reasons, receipt={},
                   record=record)
            return _refusal(422, reasons)
        receipt = {"receipt_id": f"BN-{uuid.uuid4().hex[:24].upper()}", "idbanghi": envelope.idbanghi,
                   "phienban": envelope.phienban, "sukien": envelope.sukien, "matruong": sender,
                   "thoigiannhan": rules.vn_timestamp(utcnow()), "sha256": fingerprint,
                   "pdf_sha256": rules.sha256(envelope.pdf)}
        _store(session, sender=sender, envelope=envelope, accepted=True, reasons=[], receipt=receipt, record=record)
    return Answer(201, receipt)


# --- What was received -----------------------------------------------------------------------------------


@dataclass
class ReceivedRow:
    row: ReceivedRecord
    reasons: list[str]
    current: bool  # the highest accepted phienban of its record
    cancelled: bool  # the record's current version is a CANCEL


def received(session: Session, *, limit: int = 200) -> tuple[list[ReceivedRow], dict[str, int]]:
    """The latest received submissions (newest first) and counts: accepted, rejected, records, cancelled."""
    rows = session.exec(select(ReceivedRecord).options(defer(ReceivedRecord.xml), defer(ReceivedRecord.pdf))
                        .order_by(ReceivedRecord.id.desc()).limit(limit)).all()
    top = select(ReceivedRecord.sender, ReceivedRecord.idbanghi, func.max(ReceivedRecord.phienban).label("phienban")
                 ).where(ReceivedRecord.accepted).group_by(ReceivedRecord.sender, ReceivedRecord.idbanghi).subquery()
    heads = session.exec(select(ReceivedRecord.sender, ReceivedRecord.idbanghi, ReceivedRecord.phienban,
                                ReceivedRecord.sukien).join(top, and_(
                                    ReceivedRecord.sender == top.c.sender, ReceivedRecord.idbanghi == top.c.idbanghi,
                                    ReceivedRecord.phienban == top.c.phienban)).where(ReceivedRecord.accepted)).all()
    current = {(sender, idbanghi): (version, event) for sender, idbanghi, version, event in heads}
    out = []
    for row in rows:
        head = current.get((row.sender, row.idbanghi))
        is_current = row.accepted and head is not None and head[0] == row.phienban
        out.append(ReceivedRow(row, json.loads(row.reasons or "[]"), is_current, is_current and head[1] == "CANCEL"))
    counts = dict(session.exec(select(ReceivedRecord.accepted, func.count()).group_by(ReceivedRecord.accepted)).all())
    summary = {"accepted": counts.get(True, 0), "rejected": counts.get(False, 0), "records": len(current),
               "cancelled": sum(1 for _version, event in current.values() if event == "CANCEL")}
    return out, summary
