"""Helpers of the audit tests: append events, read them back, break the append-only guard on purpose."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from portal import audit
from portal.db import engine_for, write_session
from portal.models import AuditEvent


def events(session, action: str | None = None) -> list[AuditEvent]:
    """Every event (of one action), oldest first, read in a fresh transaction."""
    session.commit()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.exec(stmt))


def add_events(app, specs: list[tuple[str, dict]]) -> list[int]:
    """Append events (action, fields) in one write transaction; return their ids."""
    with write_session(app) as s:
        return [audit.record(s, action, **fields).id for action, fields in specs]


def drop_guard(app) -> None:
    """Disable the triggers that make audit_events append-only (what an intruder would do first)."""
    engine = engine_for(app, write=True)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))


@pytest.fixture
def leader(login_as):
    return login_as("principal")
