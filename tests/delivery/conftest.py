"""Fixtures of delivery: released transcripts (tests/public), a private Redis (tests/test_tasks) and receivers.

A receiver is a second instance of the portal, run as its own `gunicorn wsgi:app` on a loopback port with its
own instance folder and SQLite database (migrated, empty), configured only through the environment
(`PORTAL_INSTANCE`, `DATABASE_URL`, `PORTAL_RECEIVER_TOKENS` as JSON, …); it trusts the sending school's CA,
copied into its `instance/pki/trust/`. Two of them ("bo": the Ministry, "so": the Department) run for the whole
test session and are emptied before each test that uses them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import jobs
from portal import create_app, migrate
from portal.db import engine_for
from tests.conftest import base_config
from tests.public.conftest import principal_actor, release_student, released, sign_and_release  # noqa: F401
from tests.test_tasks import redis_socket, run_burst_worker  # noqa: F401
from tests.transcripts.conftest import database_url, previous_class  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCHOOL_CODE = "37101234"  # the demo school's matruong (portal/seed.py)
TOKENS = {"bo": "token-bo-7c1f0e", "so": "token-so-52aa9d"}
LABELS = {"bo": "Bộ GD&ĐT", "so": "Sở GD&ĐT"}


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: fault-injection tests of sending (tests/delivery/test_faults.py, "
                                       "bounded to a few minutes)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A receiving portal run by gunicorn on 127.0.0.1:<port>; `stop` and `start` keep the port and the data."""

    def __init__(self, root: Path, name: str, ca_pem: Path, school_code: str):
        self.name = name
        self.root = root
        self.instance = root / "instance"
        (self.instance / "pki" / "trust").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca_pem, self.instance / "pki" / "trust" / "sender-ca.pem")
        self.db_url = "sqlite:///" + str(self.instance / "portal.db")
        app = create_app(base_config(self.instance, self.db_url))
        migrate.upgrade(app)
        engine_for(app).dispose()
        self.engine = create_engine(self.db_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/nhan-hoc-ba"
        self.access_log = root / "access.log"
        self.tokens = {TOKENS[name]: school_code}
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k not in (
            "DATABASE_URL", "SOFTHSM2_CONF")}
        env.update(PORTAL_INSTANCE=str(self.instance), DATABASE_URL=self.db_url, PORTAL_SECRET_KEY="receiver-secret",
                   PORTAL_RECEIVER_TOKENS=json.dumps(self.tokens), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        return env

    def start(self, timeout: float = 60) -> None:
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        log = open(self.root / "gunicorn.log", "ab")  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4", "--graceful-timeout",
             "3", "--access-logfile", str(self.access_log), "--access-logformat", '%(m)s %(U)s %(s)s',
             "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, (self.root / "gunicorn.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/dang-nhap", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"receiver {self.name} did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM received_records"))
        self.access_log.write_text("")

    def rows(self, where: str = "1=1") -> list:
        with self.engine.connect() as conn:
            return conn.execute(text(f"SELECT sender, idbanghi, phienban, sukien, accepted, receipt_id, reasons "
                                     f"FROM received_records WHERE {where} ORDER BY id")).all()

    def answers(self) -> dict[int, int]:
        """HTTP statuses of the POSTs to the API since the last reset (from gunicorn's access log)."""
        counts: dict[int, int] = {}
        for line in self.access_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "POST" and parts[1] == "/api/nhan-hoc-ba":
                counts[int(parts[2])] = counts.get(int(parts[2]), 0) + 1
        return counts


@pytest.fixture(scope="session")
def receivers(signed_template, tmp_path_factory):  # noqa: F811
    """The Ministry's ("bo") and the Department's ("so") receivers, running for the session."""
    ca_pem = signed_template["instance"] / "pki" / "ca.pem"
    started = {}
    try:
        for name in ("bo", "so"):
            started[name] = Receiver(tmp_path_factory.mktemp(f"receiver-{name}"), name, ca_pem, SCHOOL_CODE)
            started[name].start()
        yield started
    finally:
        for receiver in started.values():
            receiver.stop()
            receiver.engine.dispose()


@pytest.fixture
def peers(receivers):
    """Both receivers, running and emptied for this test."""
    for receiver in receivers.values():
        if not receiver.running:
            receiver.start()
        receiver.reset()
    return receivers


def endpoints_for(receivers: dict, timeout: float = 10) -> dict:
    return {name: {"url": r.url, "token": TOKENS[name], "timeout": timeout, "label": LABELS[name]}
            for name, r in receivers.items()}


@pytest.fixture
def app_config(app_config, redis_socket, receivers):  # noqa: F811
    """The sending school: its private Redis, both receivers as endpoints, short retries; it receives too."""
    return {**app_config, "REDIS_URL": f"unix://{redis_socket}", "SEND_ENDPOINTS": endpoints_for(receivers),
            "SEND_BACKOFF_BASE_SECONDS": 10, "SEND_BACKOFF_MAX_SECONDS": 3600,
            "RECEIVER_TOKENS": {"token-self": SCHOOL_CODE}}


SENDING_KEYS = ("SEND_ENDPOINTS", "RECEIVER_TOKENS", "SEND_BACKOFF_BASE_SECONDS", "SEND_BACKOFF_MAX_SECONDS",
                "SEND_LEASE_MARGIN_SECONDS", "SEND_RECONCILE_SECONDS")


def worker_environment(app) -> dict[str, str]:
    """What a worker process needs to build this test's app (as tests/test_tasks.worker_env, plus sending)."""
    env = {"PORTAL_INSTANCE": app.instance_path, "DATABASE_URL": app.config["DATABASE_URL"],
           "PORTAL_SECRET_KEY": "test-secret-key", "PORTAL_REDIS_URL": app.config["REDIS_URL"]}
    for key in SENDING_KEYS:
        value = app.config[key]
        env[f"PORTAL_{key}"] = json.dumps(value) if isinstance(value, dict) else str(value)
    return env


@pytest.fixture
def worker_env(monkeypatch, app):
    """Point a job's own create_app() at this test's instance, database, Redis and endpoints."""
    for key, value in worker_environment(app).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(jobs, "_app", None)
    yield
    if jobs._app is not None:
        engine_for(jobs._app).dispose()
