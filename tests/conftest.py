"""Fixtures: a fresh seeded database per test, clients, sessions, login_as(role).

The demo school is migrated and seeded once per test session into a template; each test gets a copy
(SQLite: a file copy; PostgreSQL: CREATE DATABASE … TEMPLATE). Set PORTAL_TEST_DATABASE_URL to a
PostgreSQL server URL (e.g. postgresql://root@127.0.0.1:5432/test) to run the suite on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.db import engine_for, new_session

pytest_plugins = ["tests.session_templates"]  # the expensive session templates, defined once

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
TODAY = date.today()

# The demo account used for each role in tests (see portal/seed.py).
ROLE_USERS = {
    "admin": "quantri",
    "principal": "hieutruong",
    "vice_principal": "phohieutruong",
    "department_head": "vinhtd",
    "homeroom": "hoant",
    "teacher": "tuanlm",
    "office": "vanthu",
    "parent": "phuhuynh1",
}
DEMO_PASSWORD = "Hocbaso@2026"


def base_config(instance_path, database_url) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_path),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        # Argon2id at 1 MiB instead of 46 MiB: the seeded template's hashes and every test login (~100 ms each
        # at the production cost, over a thousand logins per run). The production cost is config's default,
        # exercised by tests/test_serve.py's real instance; the code path is the same.
        "ARGON2_MEMORY_KIB": 1024,
    }


def _pg_admin_engine():
    url = make_url(_sqlalchemy_pg(PG_URL))
    return create_engine(url, isolation_level="AUTOCOMMIT")


def pg_create(name: str, *, template: str | None = None) -> str:
    """(Re)create a PostgreSQL database, empty or as a copy of `template`; return its URL."""
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return _pg_database_url(name)


def pg_drop(name: str) -> None:
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def settle(app) -> None:
    """Fold SQLite's WAL into the database file (so that a file copy is whole) and close the app's connections."""
    engine = engine_for(app)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def _sqlalchemy_pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def _pg_database_url(name: str) -> str:
    return make_url(_sqlalchemy_pg(PG_URL)).set(database=name).render_as_string(hide_password=False)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """Migrate and seed the demo school once; return how to make a fresh copy of it."""
    from portal import migrate, seed

    instance = tmp_path_factory.mktemp("template-instance")
    name = f"portal_tpl_{_worker()}"
    url = pg_create(name) if PG_URL else "sqlite:///" + str(instance / "portal.db")
    app = create_app(base_config(instance, url))
    migrate.upgrade(app)
    seed.seed_demo_if_empty(app, today=TODAY)
    settle(app)
    yield {"url": url, "instance": instance, "name": name if PG_URL else None}
    if PG_URL:  # this worker's databases (the last test's copies, templates): leave the shared server clean
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                                 {"pattern": f"portal\\_%\\_{_worker()}"}).scalars().all()
        admin.dispose()
        for leftover in {*names, name}:
            pg_drop(leftover)


@pytest.fixture
def database_url(template_database, tmp_path):
    """A fresh copy of the seeded template for this test."""
    if PG_URL:
        return pg_create(f"portal_t_{_worker()}", template=template_database["name"])
    target = tmp_path / "instance" / "portal.db"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(template_database["instance"] / "portal.db", target)
    return "sqlite:///" + str(target)


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    """The test app's configuration; override keys in a test module by overriding this fixture."""
    (tmp_path / "instance").mkdir(exist_ok=True)
    return base_config(tmp_path / "instance", database_url)


class SessionAwareClient(FlaskClient):
    """A test client that ends the test's own database transaction before each request.

    The test session's arrangements are committed and its objects expired, so the app sees them, holds
    no lock the app must wait for, and later reads in the test see what the request wrote.
    """

    def open(self, *args, **kwargs):
        for s in self.application.extensions.get("test_sessions", ()):
            s.commit()
            s.expire_all()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = SessionAwareClient
    app.extensions["test_sessions"] = []
    yield app
    engine = engine_for(app)
    leaked = engine.pool.checkedout()
    engine.dispose()
    # A connection nobody returned is finalised later by the garbage collector, in whatever test runs
    # then and after its database may have been dropped: fail here, in the test that leaked it.
    assert leaked == 0, f"{leaked} database connection(s) still checked out when the test ended"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A session on the test database, for arranging and checking data.

    It pushes no app context: Flask would reuse a pushed context for the test client's requests and
    leak `g` (the signed-in user, the request's session) from one request to the next. Wrap calls that
    need one in `with app.app_context():` or use the `app_ctx` fixture in tests without requests.
    """
    s = new_session(write=False, app=app)
    app.extensions["test_sessions"].append(s)
    yield s
    s.close()


@pytest.fixture
def app_ctx(app):
    """An application context, for service-level tests that make no request."""
    with app.app_context():
        yield app


@pytest.fixture
def login_as(client):
    """Sign the test client in as the demo user of a role (or a given username); return the client."""

    def _login(role: str | None = None, *, username: str | None = None, password: str = DEMO_PASSWORD):
        name = username or ROLE_USERS[role]
        response = client.post("/dang-nhap", data={"username": name, "password": password})
        assert response.status_code == 302, f"login of {name} failed: {response.status_code}"
        return client

    return _login


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one per xdist worker (the browser tests' `page_at` makes pages).

    Defined here, once for the whole suite: Playwright's sync API runs an event loop in this thread while it
    is open, so a second instance in the same worker (a second fixture definition elsewhere) cannot start.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM} (set PORTAL_TEST_CHROMIUM); never `playwright install`.")
    with sync_playwright() as p:
        browser = p.chromium.launch(headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_configure(config):
    """Register the suite's markers: `make test` runs pytest with --strict-markers."""
    config.addinivalue_line("markers", "browser: drives a real Chromium against a live server (tests/browser)")
