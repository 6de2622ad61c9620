"""The audit trail: append-only, hash-chained events written in the same transaction as the change.

Every event carries the hash of the one before it:

    hash = SHA-256( prev_hash ‖ canonical JSON of the event )

where the canonical JSON is the event's fields (all columns but `hash` and `prev_hash`) as one JSON object
with sorted keys, no spaces, UTF-8 (`ensure_ascii=False`); `before` and `after` are themselves canonical
JSON texts (or ""). The first event's prev_hash is 64 zeros. Ids are consecutive from 1: an append takes
the next id from the single `audit_head` row, which it moves (count, last id, hash) in the same
transaction. On SQLite the write transaction (BEGIN IMMEDIATE) serialises appends; on PostgreSQL the head
row is read FOR UPDATE. Triggers abort UPDATE and DELETE on `audit_events` (migration 0003), so an
event can only be changed by someone who drops them first; `verify` then names the first bad event.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text, update
from sqlmodel import Session, select

from portal.models import AuditEvent, AuditHead

GENESIS = "0" * 64
FIELDS = ("id", "at", "action", "actor_id", "actor_name", "ip", "user_agent", "object_type", "object_id",
          "school_year_id", "class_id", "subject_id", "student_id", "period", "grant_id", "before", "after",
          "note")
_INT_FIELDS = ("actor_id", "school_year_id", "class_id", "subject_id", "student_id", "grant_id")
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

# What each action means, for the audit screen (Vietnamese).
ACTIONS = {
    "auth.login": "Đăng nhập",
    "auth.login_failed": "Đăng nhập thất bại",
    "auth.logout": "Đăng xuất",
    "auth.password_changed": "Đổi mật khẩu",
    "authz.denied": "Bị từ chối quyền truy cập",
    "assessment.saved": "Sửa điểm/mức đánh giá",
    "comment.saved": "Sửa nhận xét môn học",
    "record.saved": "Sửa mục chủ nhiệm",
    "period.locked": "Khóa kì đánh giá",
    "period.unlocked": "Mở khóa kì đánh giá",
    "period.deadline_changed": "Đổi hạn nhập",
    "deadline.changed": "Đổi hạn công việc",
    "unlock.requested": "Đề nghị mở khóa",
    "unlock.granted": "Cho mở khóa (có biên bản)",
    "unlock.refused": "Từ chối mở khóa",
    "export": "Xuất dữ liệu",
    "import": "Nhập dữ liệu",
    "admin.changed": "Quản trị: thay đổi dữ liệu",
    "audit.verified": "Kiểm tra chuỗi nhật ký",
    "transcript.prepared": "Lập học bạ",
    "transcript.reprepared": "Lập lại học bạ (dữ liệu đã thay đổi)",
    "transcript.signed": "Ký số học bạ",
    "transcript.sign_refused": "Từ chối ký (sai mật khẩu)",
    "transcript.released": "Phát hành học bạ",
    "transcript.revoked": "Thu hồi học bạ",
    "signer_key.imported": "Gán khóa ký số",
    "delivery.resend": "Gửi lại học bạ về CSDL",
    "delivery.backfill": "Bổ sung học bạ vào hàng gửi về CSDL",
    "parent.code_issued": "Cấp mã liên kết phụ huynh",
    "parent.claimed": "Phụ huynh liên kết với học sinh",
    "parent.claim_failed": "Nhập sai mã liên kết phụ huynh",
    "parent.registered": "Phụ huynh tạo tài khoản bằng mã",
    "results.published": "Công bố kết quả cho phụ huynh",
    "results.unpublished": "Thu hồi công bố kết quả",
}


def canonical(value: Any) -> str:
    """Canonical JSON text of a value (sorted keys, no spaces, UTF-8), or "" for None."""
    if value is None:
        return ""
    return _encode(value)


def event_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256((prev_hash + _encode(fields)).encode("utf-8")).hexdigest()


def now_text(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _request_context() -> dict:
    """Who and from where, when there is a request (empty values otherwise: CLI, jobs)."""
    from flask import has_request_context, request

    if not has_request_context():
        return {}
    context = {"ip": (request.remote_addr or "")[:64], "user_agent": (request.user_agent.string or "")[:300]}
    from flask_login import current_user

    try:
        if current_user and current_user.is_authenticated:
            context.update(actor_id=current_user.id, actor_name=current_user.full_name)
    except Exception:  # noqa: BLE001 - no user loader outside a full request: leave the actor empty
        pass
    return context


def record(session: Session, action: str, *, before: Any = None, after: Any = None, **fields) -> AuditEvent:
    """Append one event in the session's current transaction (the caller commits it with the change).

    Keyword fields: actor_id, actor_name, ip, user_agent (taken from the request when not given),
    object_type, object_id, school_year_id, class_id, subject_id, student_id, period, grant_id, note.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown audit fields: {sorted(unknown)}")
    values = {"actor_id": None, "actor_name": "", "ip": "", "user_agent": "", "object_type": "", "object_id": "",
              "school_year_id": None, "class_id": None, "subject_id": None, "student_id": None, "period": "",
              "grant_id": None, "note": ""}
    values.update(_request_context())
    values.update({k: v for k, v in fields.items() if v is not None or k not in values})
    values["object_id"] = str(values["object_id"] or "")
    for name in _INT_FIELDS:  # the column stores an integer: hash the integer, not e.g. the text "12" of a URL
        if values[name] is not None:
            values[name] = int(values[name])
    values["actor_name"] = (values["actor_name"] or "")[:150]
    values["note"] = (values["note"] or "")[:1000]
    # Core statements, not the ORM unit of work: this runs inside every write and holds SQLite's write lock.
    last_id, prev_hash = session.execute(
        select(AuditHead.last_id, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).one()
    values.update(id=last_id + 1, at=now_text(), action=action, before=canonical(before), after=canonical(after))
    digest = event_hash(prev_hash, {name: values[name] for name in FIELDS})
    row = {**values, "prev_hash": prev_hash, "hash": digest}
    session.execute(insert(AuditEvent).values(**row))
    session.execute(update(AuditHead).where(AuditHead.id == 1)
                    .values(count=AuditHead.count + 1, last_id=row["id"], hash=digest))
    return AuditEvent(**row)


def record_now(action: str, *, app=None, **fields) -> None:
    """Record an event in its own write transaction (for events whose request writes nothing else).

    The request's own session, if any, is rolled back first: on SQLite a second write transaction would
    otherwise wait for the request's own write lock.
    """
    from flask import g, has_app_context

    from portal.db import write_session

    if has_app_context():
        db = g.get("db")
        if db is not None:
            db.rollback()
    with write_session(app) as session:
        record(session, action, **fields)


# --- Verification -----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    count: int
    head: str
    bad_id: int | None = None
    problem: str = ""


# On SQLite the message of each row (prev_hash ‖ canonical JSON, as UTF-8 bytes) is built by SQLite itself:
# json_object() over the columns in sorted key order escapes strings byte-for-byte as Python does with
# ensure_ascii=False (checked over every code point), keeps integers and NULL as they are, and its text is
# cast to a blob so Python only hashes it. A row whose message does not hash right is re-encoded by
# `_encode` from its columns before it is called altered: a difference between the two encoders can cause
# no false alarm, and no tampered row can pass either (both are valid JSON: equal texts mean equal values).
# Rows are linked by comparing each stored prev_hash with the hash computed for the row before it, so the
# stored prev_hash that starts the message is the computed one. Measured: docs/benchmarks.md.
_SORTED = tuple(sorted(FIELDS))
_SQLITE_ROWS = ("SELECT id, prev_hash, CAST(prev_hash || json_object("  # noqa: S608 - fixed column names
                + ", ".join(f"'{name}', {name}" for name in _SORTED) + ") AS BLOB), hash FROM audit_events ORDER BY id")
_ROW_FIELDS = "SELECT " + ", ".join(FIELDS) + " FROM audit_events WHERE id = ?"  # noqa: S608
_ALL_ROWS = "SELECT " + ", ".join((*FIELDS, "prev_hash", "hash")) + " FROM audit_events ORDER BY id"  # noqa: S608


def _message(prev_hash: str, fields) -> bytes:
    return (prev_hash + _encode(dict(zip(FIELDS, fields, strict=True)))).encode("utf-8")


def _sqlite_rows(conn, batch: int):
    """(id, prev_hash, message, hash) per event from a raw sqlite3 cursor, and how to re-encode one in Python."""
    raw = conn.connection.driver_connection
    cursor = raw.cursor()
    cursor.execute(_SQLITE_ROWS)

    def rows():
        try:
            while chunk := cursor.fetchmany(batch):
                yield from chunk
        finally:
            cursor.close()

    def recompute(event_id: int, prev_hash: str) -> bytes:
        return _message(prev_hash, raw.execute(_ROW_FIELDS, (event_id,)).fetchone())

    return rows(), recompute


def _generic_rows(conn, batch: int):
    """(id, prev_hash, message, hash) per event, encoded in Python (PostgreSQL, or any other database)."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(text(_ALL_ROWS))
    return ((row[0], row[-2], _message(row[-2], row[:-2]), row[-1]) for row in result), None


def _walk(rows, recompute) -> Verdict:
    """Check each row's place, link and hash; return the verdict so far (ok until the first bad event)."""
    prev, expected_id, count = GENESIS, 1, 0
    sha256 = hashlib.sha256
    for event_id, prev_hash, message, stored_hash in rows:
        if event_id != expected_id:
            if event_id > expected_id:
                missing = f"sự kiện {expected_id}" if event_id == expected_id + 1 else \
                    f"các sự kiện {expected_id}–{event_id - 1}"
                return Verdict(False, count, prev, expected_id, f"Thiếu {missing} (đã bị xoá).")
            return Verdict(False, count, prev, event_id, f"Sự kiện {event_id} không đúng thứ tự.")
        if prev_hash != prev:
            return Verdict(False, count, prev, event_id,
                           f"Sự kiện {event_id} không nối với sự kiện trước nó (chuỗi bị sắp xếp lại hoặc sửa).")
        digest = sha256(message).hexdigest()
        if digest != stored_hash and recompute is not None:
            digest = sha256(recompute(event_id, prev)).hexdigest()
        if digest != stored_hash:
            return Verdict(False, count, prev, event_id, f"Sự kiện {event_id} đã bị sửa sau khi ghi.")
        prev, expected_id, count = digest, expected_id + 1, count + 1
    return Verdict(True, count, prev)


def verify(engine, *, batch: int = 20_000) -> Verdict:
    """Walk the chain in id order; report the first event that is missing, altered or out of place."""
    if engine.dialect.name == "postgresql":
        # One snapshot for the head and the events, so that appends made meanwhile are not seen as a cut.
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn:
        # The head is read first, in the transaction the events are then read in (SQLite: one WAL snapshot).
        head = conn.execute(text("SELECT count, last_id, hash FROM audit_head WHERE id = 1")).first()
        rows, recompute = (_sqlite_rows if engine.dialect.name == "sqlite" else _generic_rows)(conn, batch)
        with closing(rows):  # a verdict before the end closes the cursor before the connection is given back
            walked = _walk(rows, recompute)
    if not walked.ok:
        return walked
    count, prev = walked.count, walked.head
    if head is None:
        return Verdict(False, count, prev, None, "Thiếu bản ghi đầu chuỗi (audit_head).")
    if (head.count, head.last_id, head.hash) != (count, count, prev):
        if head.last_id > count:
            return Verdict(False, count, prev, count + 1,
                           f"Thiếu các sự kiện cuối từ {count + 1} đến {head.last_id} (đã bị xoá): đầu chuỗi ghi "
                           f"{head.count} sự kiện nhưng bảng chỉ có {count}.")
        if head.last_id < count:
            return Verdict(False, count, prev, head.last_id + 1,
                           f"Các sự kiện từ {head.last_id + 1} đến {count} không có trong đầu chuỗi (bị chèn thêm).")
        return Verdict(False, count, prev, count or None,
                       f"Hash đầu chuỗi không khớp với sự kiện cuối {count}: sự kiện cuối đã bị viết lại "
                       "hoặc đầu chuỗi bị sửa.")
    return Verdict(True, count, prev)
