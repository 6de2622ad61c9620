"""portal.tasks with a real Redis (a private redis-server on a unix socket) and a real RQ worker.

The worker runs in this process (rq's SimpleWorker, burst mode): the job builds its own app from the
environment (PORTAL_INSTANCE, DATABASE_URL), exactly as in a worker process, against this test's
database copy.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import SimpleWorker
from sqlmodel import select

import jobs
from portal import tasks
from portal.db import new_session
from portal.models import Job

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


@pytest.fixture
def redis_socket(tmp_path):
    """Start a private redis-server (no TCP, nothing saved) on a unix socket; yield the socket's path."""
    path = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")],
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if path.exists() and Redis(unix_socket_path=str(path)).ping():
                    break
            except RedisConnectionError:
                pass
            assert proc.poll() is None, f"redis-server exited with {proc.returncode}"
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            time.sleep(0.05)
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def app_config(app_config, redis_socket):
    return {**app_config, "REDIS_URL": f"unix://{redis_socket}"}


@pytest.fixture
def worker_env(monkeypatch, app):
    """Point a job's own create_app() at this test's instance and database, and forget any cached app."""
    monkeypatch.setenv("PORTAL_INSTANCE", app.instance_path)
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("PORTAL_REDIS_URL", app.config["REDIS_URL"])
    monkeypatch.setattr(jobs, "_app", None)
    yield
    if jobs._app is not None:
        from portal.db import engine_for

        engine_for(jobs._app).dispose()


def job_row(app, job_id: int) -> Job:
    """Read the Job row in a short read transaction (a held write transaction would block the worker)."""
    with new_session(write=False, app=app) as s:
        return s.get(Job, job_id)


def run_burst_worker(app) -> None:
    """Run an RQ SimpleWorker until the queues are empty, keeping pytest's own signal handlers."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        queue = tasks.get_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_enqueue_records_the_row_then_a_worker_marks_it_done(app, session, worker_env):
    with app.app_context():
        job = tasks.enqueue(session=session, kind="jobs.system.ping", func="jobs.system.ping", args=())
    assert job_row(app, job.id).status == "queued"

    queue = tasks.get_queue(app)
    rq_job = queue.fetch_job(f"job-{job.id}")
    assert rq_job is not None and rq_job.func_name == "jobs.system.ping" and rq_job.args == (job.id,)

    run_burst_worker(app)

    row = job_row(app, job.id)
    assert (row.status, row.total, row.done, row.error) == ("done", 1, 1, None)
    assert queue.fetch_job(f"job-{job.id}").return_value() == "pong"


def test_sending_the_same_row_twice_queues_it_once(app, session, worker_env):
    with app.app_context():
        job = tasks.enqueue(session=session, kind="jobs.system.ping", func="jobs.system.ping", args=())
        tasks.send(session=session, job=job, func="jobs.system.ping")
        assert tasks.get_queue(app).count == 1


def test_a_job_delivered_after_it_is_done_changes_nothing(app, session, worker_env):
    from jobs.system import ping

    with app.app_context():
        job = tasks.enqueue(session=session, kind="jobs.system.ping", func="jobs.system.ping", args=())
    run_burst_worker(app)
    finished = job_row(app, job.id)
    assert finished.status == "done"

    assert ping(job.id) == "pong"
    assert job_row(app, job.id).updated_at == finished.updated_at


def test_enqueue_without_redis_marks_the_row_failed(app, session, tmp_path):
    app.config["REDIS_URL"] = f"unix://{tmp_path}/nothing-listens-here.sock"
    with app.app_context(), pytest.raises(tasks.QueueUnavailable):
        tasks.enqueue(session=session, kind="jobs.system.ping", func="jobs.system.ping", args=())
    with new_session(write=False, app=app) as s:
        row = s.exec(select(Job).order_by(Job.id.desc())).first()
    assert row.status == "failed" and "Redis" in row.error


def test_default_redis_url_is_the_private_socket_in_the_instance(app):
    app.config["REDIS_URL"] = None
    assert tasks.redis_url(app) == f"unix://{app.instance_path}/redis/redis.sock"
