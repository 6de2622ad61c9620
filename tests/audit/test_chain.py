"""The hash chain: the formula recomputed independently, verify, the append-only triggers (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal import audit
from portal.db import engine_for
from portal.models import AuditHead
from tests.audit.conftest import add_events, drop_guard, events

# The documented canonical form, written out here rather than taken from portal.audit.
COLUMNS = ["id", "at", "action", "actor_id", "actor_name", "ip", "user_agent", "object_type", "object_id",
           "school_year_id", "class_id", "subject_id", "student_id", "period", "grant_id", "before", "after", "note"]
TRICKY = 'Nguyễn Thị Hoà "Hoa" \\ tab\t newline\n ctrl\x01\x1f del\x7f ‖ \u2028 😀 =1+1'


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _specs() -> list[tuple[str, dict]]:
    return [
        ("auth.login", {"actor_id": 1, "actor_name": "Trần Văn Hiệu", "ip": "10.0.0.1", "user_agent": "Firefox"}),
        ("assessment.saved", {"actor_id": 5, "actor_name": "Lê Minh Tuấn", "object_type": "assessments",
                              "object_id": 42, "class_id": 3, "subject_id": 7, "student_id": 11, "period": "ck1",
                              "school_year_id": 1, "before": {"value": "7.5", "version": 1},
                              "after": {"value": "8.0", "version": 2}, "note": "hk1/tx1"}),
        ("unlock.granted", {"grant_id": 9, "after": {"approver": "Hiệu trưởng", "reason": TRICKY}}),
        ("authz.denied", {"note": "GET /tong-hop " + TRICKY}),
        ("export", {"actor_name": TRICKY, "object_id": "tong-hop.xlsx"}),
    ]


def _recompute(rows) -> str:
    prev = "0" * 64
    for row in rows:
        fields = {name: getattr(row, name) for name in COLUMNS}
        assert row.prev_hash == prev, f"event {row.id} does not point at the one before"
        digest = hashlib.sha256((prev + _json(fields)).encode("utf-8")).hexdigest()
        assert row.hash == digest, f"event {row.id}: stored hash is not SHA-256(prev ‖ canonical JSON)"
        prev = digest
    return prev


def test_chain_of_several_events_verifies_and_matches_the_documented_formula(app, session):
    ids = add_events(app, _specs())
    rows = events(session)
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))  # consecutive from 1
    assert ids == [r.id for r in rows[-len(ids):]]
    saved = next(r for r in rows if r.action == "assessment.saved")
    assert saved.before == '{"value":"7.5","version":1}' and saved.after == '{"value":"8.0","version":2}'
    assert saved.object_id == "42" and saved.period == "ck1"
    head_hash = _recompute(rows)
    head = session.get(AuditHead, 1)
    assert (head.count, head.last_id, head.hash) == (len(rows), rows[-1].id, head_hash)
    verdict = audit.verify(engine_for(app))
    assert verdict.ok and verdict.count == len(rows) and verdict.head == head_hash


def test_integer_fields_are_hashed_as_integers(app, session):
    """A URL argument passed as text ("12") is stored and hashed as the integer the column holds."""
    add_events(app, [("export", {"class_id": "12", "student_id": "7"})])
    row = events(session)[-1]
    assert row.class_id == 12 and row.student_id == 7
    _recompute(events(session))
    assert audit.verify(engine_for(app)).ok


def test_unknown_fields_are_refused(app):
    with pytest.raises(TypeError):
        add_events(app, [("export", {"colour": "red"})])


def test_verify_falls_back_to_python_encoding_when_the_fast_path_text_differs(app, monkeypatch):
    """On SQLite a row whose SQLite-built JSON does not hash right is re-encoded in Python before it is blamed."""
    if engine_for(app).dialect.name != "sqlite":
        pytest.skip("the json_object fast path is SQLite's")
    add_events(app, _specs())
    monkeypatch.setattr(audit, "_SQLITE_ROWS", audit._SQLITE_ROWS.replace("json_object(", "' ' || json_object("))
    verdict = audit.verify(engine_for(app))
    assert verdict.ok and verdict.count == len(_specs())
    drop_guard(app)
    with engine_for(app, write=True).begin() as conn:
        conn.execute(text("UPDATE audit_events SET note = 'x' WHERE id = 2"))
    verdict = audit.verify(engine_for(app))
    assert not verdict.ok and verdict.bad_id == 2


def test_verify_reports_an_edit_with_the_sqlite_fast_path_and_without(app):
    add_events(app, _specs())
    drop_guard(app)
    with engine_for(app, write=True).begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor_id = 6 WHERE id = 2"))
    verdict = audit.verify(engine_for(app))
    assert (verdict.ok, verdict.bad_id, verdict.count) == (False, 2, 1)
    assert "đã bị sửa" in verdict.problem


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET note = 'sửa lén' WHERE id = 1",
    "UPDATE audit_events SET hash = prev_hash",
    "DELETE FROM audit_events WHERE id = 1",
    "DELETE FROM audit_events",
])
def test_update_and_delete_are_refused_by_the_database(app, session, statement):
    add_events(app, _specs())
    before = [(r.id, r.note, r.hash) for r in events(session)]
    with pytest.raises(DBAPIError) as caught:
        with engine_for(app, write=True).begin() as conn:
            conn.execute(text(statement))
    assert "append-only" in str(caught.value)
    assert [(r.id, r.note, r.hash) for r in events(session)] == before
    assert audit.verify(engine_for(app)).ok


def test_truncate_is_refused_on_postgresql(app, session):
    if engine_for(app).dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    add_events(app, _specs())
    with pytest.raises(DBAPIError, match="append-only"):
        with engine_for(app, write=True).begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
    assert len(events(session)) == len(_specs())


def test_a_failed_transaction_leaves_no_event_and_no_gap(app, session):
    """The event belongs to the caller's transaction: rolled back with it, and the next append reuses the id."""
    from portal.db import write_session

    with pytest.raises(RuntimeError), write_session(app) as s:
        audit.record(s, "export", note="rolled back")
        raise RuntimeError
    add_events(app, [("export", {"note": "kept"})])
    rows = events(session)
    assert [r.note for r in rows][-1:] == ["kept"] and "rolled back" not in [r.note for r in rows]
    assert audit.verify(engine_for(app)).ok


def test_the_seeded_chain_verifies(app, session):
    verdict = audit.verify(engine_for(app))
    assert verdict.ok and verdict.count == len(events(session))
    assert verdict.head == (events(session)[-1].hash if verdict.count else "0" * 64)
