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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, select

from portal.models import AuditEvent, AuditHead

GENESIS = "0" * 64
FIELDS = ("id", "at", "action", "actor_id", "actor_name", "ip", "user_agent", "object_type", "object_id",
          "school_year_id", "class_id", "subject_id", "student_id", "period", "grant_id", "before", "after",
          "note")
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
    values["actor_name"] = (values["actor_name"] or "")[:150]
    values["note"] = (values["note"] or "")[:1000]
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                        .execution_options(populate_existing=True)).one()
    values.update(id=head.last_id + 1, at=now_text(), action=action, before=canonical(before),
                  after=canonical(after))
    digest = event_hash(head.hash, {name: values[name] for name in FIELDS})
    event = AuditEvent(**values, prev_hash=head.hash, hash=digest)
    session.add(event)
    session.flush()
    session.exec(update(AuditHead).where(AuditHead.id == 1)
                 .values(count=AuditHead.count + 1, last_id=event.id, hash=digest))
    return event


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


def verify(engine, *, batch: int = 20_000) -> Verdict:
    """Walk the chain in id order; report the first event that is missing, altered or out of place."""
    columns = ", ".join((*FIELDS, "prev_hash", "hash"))
    sql = text(f"SELECT {columns} FROM audit_events ORDER BY id")  # noqa: S608 - fixed column names
    prev, expected_id, count = GENESIS, 1, 0
    names = FIELDS
    sha256, encode = hashlib.sha256, _encode
    with engine.connect() as conn:
        head = conn.execute(text("SELECT count, last_id, hash FROM audit_head WHERE id = 1")).first()
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(sql)
        for row in result:
            fields = dict(zip(names, row[:-2], strict=True))
            event_id = fields["id"]
            if event_id != expected_id:
                if event_id > expected_id:
                    missing = f"sự kiện {expected_id}" if event_id == expected_id + 1 else \
                        f"các sự kiện {expected_id}–{event_id - 1}"
                    return Verdict(False, count, prev, expected_id, f"Thiếu {missing} (đã bị xoá).")
                return Verdict(False, count, prev, event_id, f"Sự kiện {event_id} không đúng thứ tự.")
            if row[-2] != prev:
                return Verdict(False, count, prev, event_id,
                               f"Sự kiện {event_id} không nối với sự kiện trước nó (chuỗi bị sắp xếp lại hoặc sửa).")
            digest = sha256((prev + encode(fields)).encode("utf-8")).hexdigest()
            if digest != row[-1]:
                return Verdict(False, count, prev, event_id, f"Sự kiện {event_id} đã bị sửa sau khi ghi.")
            prev, expected_id, count = digest, expected_id + 1, count + 1
    if head is None:
        return Verdict(False, count, prev, None, "Thiếu bản ghi đầu chuỗi (audit_head).")
    if (head.count, head.last_id, head.hash) != (count, count, prev):
        return Verdict(False, count, prev, count + 1 if head.last_id > count else None,
                       f"Đầu chuỗi ghi {head.count} sự kiện (cuối là {head.last_id}) nhưng bảng có {count}: "
                       "các sự kiện cuối đã bị xoá hoặc đầu chuỗi bị sửa.")
    return Verdict(True, count, prev)
