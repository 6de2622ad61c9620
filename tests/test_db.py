"""The database layer: SQLite pragmas and transaction discipline, migrations equal to the models."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlmodel import SQLModel, select

from portal.db import engine_for, new_session
from portal.models import Job


def test_sqlite_pragmas(app):
    engine = engine_for(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_write_sessions_begin_immediate_and_read_sessions_do_not(app):
    engine = engine_for(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with new_session(write=True, app=app) as s:
            s.exec(select(Job)).all()
            s.commit()
        with new_session(write=False, app=app) as s:
            s.exec(select(Job)).all()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    begins = [st for st in statements if st.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def test_foreign_keys_are_enforced(app):
    from sqlalchemy.exc import IntegrityError

    from portal.models import Enrollment

    with new_session(write=True, app=app) as s:
        s.add(Enrollment(student_id=999_999, class_id=999_999))
        with pytest.raises(IntegrityError):
            s.commit()


def test_concurrent_read_then_write_loses_nothing(app):
    """Eight threads increment one counter 25 times each through read-then-write transactions."""
    with new_session(write=True, app=app) as s:
        job = Job(kind="test.counter")
        s.add(job)
        s.commit()
        job_id = job.id
    errors = []

    def worker():
        for _ in range(25):
            try:
                with new_session(write=True, app=app) as s:
                    row = s.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
                    row.done = row.done + 1
                    s.add(row)
                    s.commit()
            except Exception as exc:  # any "database is locked" fails the test below
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with new_session(write=False, app=app) as s:
        assert s.get(Job, job_id).done == 200


def test_migrations_match_the_models(app):
    """The schema Alembic builds is the schema the models describe (no missing migration)."""
    with engine_for(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
