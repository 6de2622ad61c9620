"""`python -m portal.serve` (what `make run` starts), end to end in a temporary instance folder.

Migrates and seeds a fresh SQLite database with `flask --app wsgi setup`, starts the supervisor on a
free port, waits for it to print its address, logs nothing in but checks the login page and the demo
logins, sends a job through Redis and the RQ worker, then sends SIGINT: the supervisor must exit 0 and
leave no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.transcripts.conftest import retarget_token

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
    # The supervisor does not depend on the database engine: one run, on SQLite, is enough.
    pytest.mark.skipif(bool(os.environ.get("PORTAL_TEST_DATABASE_URL")), reason="runs in the SQLite pass only"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Return (pid, command line) of every live process whose command line or environment mentions text."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if text in cmdline or text in environ:
            found.append((int(entry.name), cmdline.strip()))
    return found


class Output:
    """Collect a process's output lines in a thread, so that waiting never blocks on a pipe."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{self.text}"
            assert time.monotonic() < deadline, f"{needle!r} not printed within {timeout} s:\n{self.text}"
            time.sleep(0.1)

    def join(self):
        self._thread.join(timeout=5)


def _environment(instance: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({
        "PORTAL_INSTANCE": str(instance),
        "DATABASE_URL": f"sqlite:///{instance}/portal.db",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
        "PORTAL_DEMO_RELEASED_TRANSCRIPTS": "2",
    })
    return env


@pytest.fixture(scope="module")
def set_up_instance(tmp_path_factory) -> Path:
    """An instance folder after `flask --app wsgi setup` (migrated, seeded, signers provisioned, 2 released
    transcripts), made once for the module: each test runs on a copy of it."""
    instance = tmp_path_factory.mktemp("serve-template") / "i"
    instance.mkdir()
    setup = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "setup"], cwd=ROOT,
                           env=_environment(instance, free_port()), capture_output=True, text=True, timeout=180,
                           check=False)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return instance


@pytest.fixture
def serve_env(set_up_instance, tmp_path):
    instance = tmp_path / "i"
    shutil.copytree(set_up_instance, instance, symlinks=True)
    retarget_token(set_up_instance, instance)
    return _environment(instance, free_port())


def test_serve_starts_everything_and_stops_cleanly_on_ctrl_c(serve_env):
    instance, port = serve_env["PORTAL_INSTANCE"], serve_env["PORT"]
    proc = subprocess.Popen([sys.executable, "-m", "portal.serve"], cwd=ROOT, env=serve_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(proc.stdout)
    try:
        output.wait_for("Ctrl-C", proc, timeout=60)
        assert f"http://127.0.0.1:{port}/" in output.text
        assert "Hocbaso@2026" in output.text and "quantri" in output.text and "hieutruong" in output.text

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dang-nhap", timeout=10) as response:
            assert response.status == 200
            assert "Đăng nhập" in response.read().decode()

        assert_a_job_runs_through_the_worker(instance, serve_env["DATABASE_URL"])

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, output.text
        output.join()
        assert "Đã dừng" in output.text
        left = processes_mentioning(instance) + processes_mentioning(f"0.0.0.0:{port}")
        assert not left, f"processes left behind: {left}"
        assert not os.path.exists(os.path.join(instance, "redis", "redis.sock"))
        assert os.path.exists(os.path.join(instance, "redis", "appendonlydir")), "appendonly is off"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, _cmdline in processes_mentioning(instance):
            os.kill(pid, signal.SIGKILL)


def assert_a_job_runs_through_the_worker(instance: str, database_url: str) -> None:
    """Enqueue jobs.system.ping on the supervisor's private Redis; its worker must mark the row done."""
    from portal import create_app, tasks
    from portal.db import engine_for, new_session
    from portal.models import Job

    app = create_app({"INSTANCE_PATH": instance, "DATABASE_URL": database_url, "REDIS_URL": None})
    try:
        with app.app_context(), new_session(write=True, app=app) as session:
            job = tasks.enqueue(session=session, kind="jobs.system.ping", func="jobs.system.ping")
        deadline = time.monotonic() + 20
        while True:
            with new_session(write=False, app=app) as session:
                row = session.get(Job, job.id)
            if row.status in ("done", "failed"):
                break
            assert time.monotonic() < deadline, f"job still {row.status} after 20 s"
            time.sleep(0.1)
        assert row.status == "done", row.error
    finally:
        engine_for(app).dispose()


def test_serve_stops_everything_and_fails_when_a_child_dies(serve_env):
    instance = serve_env["PORTAL_INSTANCE"]
    proc = subprocess.Popen([sys.executable, "-m", "portal.serve"], cwd=ROOT, env=serve_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(proc.stdout)
    try:
        output.wait_for("Ctrl-C", proc, timeout=60)
        redis = [pid for pid, cmdline in processes_mentioning(instance) if "redis-server " in cmdline]
        assert len(redis) == 1, processes_mentioning(instance)
        os.kill(redis[0], signal.SIGKILL)

        assert proc.wait(timeout=30) == 1, output.text
        output.join()
        assert "redis-server đã dừng" in output.text
        assert not processes_mentioning(instance), f"processes left behind: {processes_mentioning(instance)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, _cmdline in processes_mentioning(instance):
            os.kill(pid, signal.SIGKILL)
