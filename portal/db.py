"""Engine and sessions: SQLite (WAL) by default, PostgreSQL through DATABASE_URL.

SQLite: WAL, synchronous=FULL, foreign_keys=ON and a busy timeout on every connection. pysqlite's own
transaction handling is switched off and every transaction is begun explicitly: read transactions with
a plain BEGIN, write transactions with BEGIN IMMEDIATE, so that a read-then-write never upgrades its
lock halfway (measured: deferred BEGIN lost updates and raised "database is locked" under load).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from flask import current_app, g, has_request_context, request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database_url(app) -> str:
    """Return the configured database URL, defaulting to SQLite in the instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    return "sqlite:///" + os.path.join(app.instance_path, "portal.db")


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas and transaction discipline described above."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            write = conn.get_execution_options().get("portal_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def init_app(app) -> None:
    """Create the engines for this app and close request sessions on teardown."""
    engine = make_engine(database_url(app))
    app.extensions["portal.engine"] = engine
    app.extensions["portal.write_engine"] = engine.execution_options(portal_write=True)
    app.teardown_appcontext(_close_session)


def engine_for(app=None, *, write: bool = False) -> Engine:
    app = app or current_app
    return app.extensions["portal.write_engine" if write else "portal.engine"]


def new_session(*, write: bool, app=None) -> Session:
    """Open a session; write=True begins its transactions with BEGIN IMMEDIATE on SQLite."""
    return Session(engine_for(app, write=write), expire_on_commit=False)


def get_session() -> Session:
    """Return the session of this request (a write session for unsafe methods) or of this app context."""
    if "db" not in g:
        write = not (has_request_context() and request.method in SAFE_METHODS)
        g.db = new_session(write=write)
    return g.db


def read_session() -> Session:
    """Return a read session of this request: the request's own session for GET, a separate one otherwise.

    Authentication and authorization read through it, so that a POST's write transaction (BEGIN IMMEDIATE,
    which holds SQLite's single write lock) begins only when the view's service starts its work.
    """
    if has_request_context() and request.method in SAFE_METHODS:
        return get_session()
    if "read_db" not in g:
        g.read_db = new_session(write=False)
    return g.read_db


@contextmanager
def write_session(app=None):
    """Open a separate write session, committed on success (e.g. to record something during a GET)."""
    session = new_session(write=True, app=app)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _close_session(_exc):
    for name in ("db", "read_db"):
        db = g.pop(name, None)
        if db is not None:
            db.close()
