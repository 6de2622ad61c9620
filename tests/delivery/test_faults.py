"""Exactly once under failure: real `rq worker` processes (WarmWorker, --with-scheduler, a short --worker-ttl), a
private redis-server on a unix socket and the two receiving portals over loopback.

A batch of N released transcripts × 2 endpoints is sent three times, each time from a clean outbox:
(a) the workers are killed with SIGKILL (with their work horse and scheduler) 50 times at random points and
    restarted each time; (b) Redis is killed and restarted with an empty dataset mid-batch; (c) the Ministry's
    receiver is down for a while, then up. The end state is checked each time: every submission "sent" with the
    receipt of the one accepted record at its receiver, exactly one accepted record per (idbanghi, phienban),
    no duplicate. Figures (time to converge, retries, resends answered from an earlier receipt) are written
    to test-artifacts/delivery-faults.json; docs/reliability.md records them and how to reproduce.

Bounded: the batch is built once per session; every wait has a deadline (DEADLINE_S per scenario).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, update
from sqlmodel import select

from portal import create_app
from portal.db import engine_for, new_session, write_session
from portal.gradebook.service import class_roster
from portal.models import SchoolClass, SchoolYear, Submission, utcnow
from portal.pki import tokens
from portal.transcripts import demo, service
from tests.conftest import _worker, base_config
from tests.delivery.conftest import ROOT, endpoints_for, worker_environment
from tests.public.conftest import principal_actor
from tests.transcripts.conftest import copy_signed_instance

pytestmark = [
    pytest.mark.faults,
    # one xdist worker runs the three scenarios (they share the module's sender); with `--dist loadgroup` this
    # group, the largest unit, starts first instead of being the run's tail
    pytest.mark.xdist_group("faults"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
    pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed"),
]

TRANSCRIPTS = int(os.environ.get("DELIVERY_FAULT_TRANSCRIPTS", "30"))
KILLS = int(os.environ.get("DELIVERY_FAULT_KILLS", "50"))
SEED = int(os.environ.get("DELIVERY_FAULT_SEED", "20260820"))
DEADLINE_S = 420.0  # a bound, not a target: the kill loop took 108–225 s here, by machine load
TIMEOUT_S = 4  # each endpoint's HTTP timeout; a claim's lease is that + SEND_LEASE_MARGIN_SECONDS
FAST = {"SEND_BACKOFF_BASE_SECONDS": 0.5, "SEND_BACKOFF_MAX_SECONDS": 2, "SEND_LEASE_MARGIN_SECONDS": 2,
        "SEND_RECONCILE_SECONDS": 1}
WORKER_TTL = "16"  # the idle worker's loop comes round every TTL − 15 s (reconcile check)
RESULTS = ROOT / "test-artifacts" / "delivery-faults.json"


# --- The sending school, built once: N transcripts prepared, signed and released through the service -------


@pytest.fixture(scope="session")  # not "module": other tests may run between the scenarios on a worker
def sender(signed_template, receivers, tmp_path_factory):
    """The sending school with TRANSCRIPTS released transcripts of last year's 6A1 (2 submissions each)."""
    instance = tmp_path_factory.mktemp("fault-sender") / "instance"
    url = copy_signed_instance(signed_template, instance, pg_name=f"portal_flt_{_worker()}")
    app = create_app({**base_config(instance, url), "SEND_ENDPOINTS": endpoints_for(receivers, TIMEOUT_S),
                      "RECEIVER_TOKENS": {}, **FAST})
    started = time.monotonic()
    with app.app_context():
        with new_session(write=False, app=app) as s:
            previous = s.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
            klass = s.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                     SchoolClass.name == "6A1")).one()
            students = [st.id for _, st in class_roster(s, klass.id, include_left=True)][:TRANSCRIPTS]
        for student_id in students:
            with write_session(app) as s:
                transcript_id = service.prepare(s, actor=principal_actor(s), student_id=student_id,
                                                school_year_id=klass.school_year_id, app=app).transcript.id
            demo.sign_in_order(app, transcript_id)
            with write_session(app) as s:
                service.release(s, actor=principal_actor(s), transcript_id=transcript_id, app=app)
    app.extensions["fault_build_seconds"] = round(time.monotonic() - started, 1)
    with new_session(write=False, app=app) as s:
        assert s.exec(select(func.count()).select_from(Submission)).one() == 2 * len(students)
    yield app
    engine_for(app).dispose()


# --- One scenario's moving parts ----------------------------------------------------------------------------


def _session_pids(sid: int) -> list[int]:
    """Processes of the session a worker leads: itself, its work horse (own group) and its scheduler."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            found.append(int(entry))
    return found


class Worker:
    """One `rq worker` process (WarmWorker, with its scheduler) in its own session, restartable."""

    def __init__(self, harness: Harness, label: str):
        self.harness, self.label, self.proc, self.starts, self.started_at = harness, label, None, 0, 0.0

    @property
    def name(self) -> str:
        return f"{self.label}-{self.starts}"

    def start(self) -> None:
        self.starts += 1
        self.started_at = time.monotonic()
        rq = os.path.join(os.path.dirname(sys.executable), "rq")
        log = open(self.harness.dir / f"{self.label}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [rq, "worker", "--url", self.harness.redis_url, "--name", self.name, "--worker-class",
             "jobs.worker.WarmWorker", "--with-scheduler", "--worker-ttl", WORKER_TTL, "--logging_level", "WARNING",
             "default"], cwd=ROOT, env=self.harness.env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """Registered with Redis (bootstrap done: the reconcile runs right after)."""
        try:
            return bool(self.harness.redis.exists(f"rq:worker:{self.name}"))
        except RedisError:
            return False

    def horse(self) -> int | None:
        """The pid of the work horse running a job now (a child of the worker leading its own group)."""
        for pid in _session_pids(self.proc.pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and int(fields[2]) == pid:
                return pid
        return None

    def kill9(self) -> None:
        """SIGKILL the worker, its horse and its scheduler at once (only the processes of its own session)."""
        if self.proc is None:
            return
        for pid in _session_pids(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        for _ in range(100):
            if not _session_pids(self.proc.pid):
                break
            time.sleep(0.02)

    def stop(self) -> None:
        self.kill9()
        self.proc = None


class Harness:
    def __init__(self, app, peers, directory: Path):
        self.app, self.peers, self.dir = app, peers, directory
        self.socket = directory / "redis.sock"
        self.redis_url = f"unix://{self.socket}"
        self.redis_proc = None
        self.start_redis()
        self.redis = Redis(unix_socket_path=str(self.socket), socket_timeout=5)
        app.config["REDIS_URL"] = self.redis_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k not in (
            "DATABASE_URL", "SOFTHSM2_CONF")}
        self.env = {**env, **worker_environment(app), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.workers: list[Worker] = []
        self.restarts = 0  # workers found dead (not by us) and started again
        self.started = time.monotonic()

    def start_redis(self) -> None:
        if self.socket.exists():
            self.socket.unlink()
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.socket.exists() and Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except RedisError:
                pass
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)

    def restart_redis_empty(self) -> None:
        self.redis_proc.kill()
        self.redis_proc.wait()
        self.start_redis()

    def worker(self, label: str) -> Worker:
        worker = Worker(self, label)
        worker.start()
        self.workers.append(worker)
        return worker

    def supervise(self) -> None:
        """Start again any worker that died on its own (as systemd or `make run` would)."""
        for worker in self.workers:
            if worker.proc is not None and not worker.alive:
                self.restarts += 1
                worker.start()

    def state(self) -> dict:
        with new_session(write=False, app=self.app) as s:
            counts = dict(s.exec(select(Submission.status, func.count()).group_by(Submission.status)).all())
            attempts = s.exec(select(func.sum(Submission.attempts))).one() or 0
        return {"counts": counts, "attempts": int(attempts), "total": sum(counts.values())}

    def sent(self) -> int:
        return self.state()["counts"].get("sent", 0)

    def wait_all_sent(self, deadline: float) -> float:
        """Supervise until every submission is sent; return when (monotonic)."""
        while True:
            self.supervise()
            state = self.state()
            if state["counts"].get("sent", 0) == state["total"]:
                return time.monotonic()
            if time.monotonic() > deadline:
                pytest.fail(f"not converged: {state}\n{self.diagnose()}")
            time.sleep(0.2)

    def diagnose(self) -> str:
        """The unsent rows with the RQ job of their next attempt, and the end of the workers' logs."""
        from rq.job import Job as RQJob

        from portal.delivery.service import rq_job_id

        lines = []
        with new_session(write=False, app=self.app) as s:
            for row in s.exec(select(Submission).where(Submission.status != "sent")):
                try:
                    job = RQJob.fetch(rq_job_id(row.id, row.attempts), connection=self.redis)
                    job_state = f"{job.get_status()} started {job.started_at}"
                except Exception as exc:  # noqa: BLE001 - a diagnosis must not fail
                    job_state = type(exc).__name__
                lines.append(f"#{row.id} {row.endpoint} {row.status} attempts={row.attempts} "
                             f"updated={row.updated_at} next={row.next_attempt_at} job={job_state} {row.last_error}")
        for label in dict.fromkeys(w.label for w in self.workers):
            lines.append((self.dir / f"{label}.log").read_text(errors="replace")[-1500:])
        return "\n".join(lines)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.redis.close()
        self.redis_proc.kill()
        self.redis_proc.wait()


def reset_outbox(app) -> None:
    """Every submission pending again, as just released (the receivers are emptied by `peers`)."""
    now = utcnow()
    with write_session(app) as s:
        s.execute(update(Submission).values(status="pending", attempts=0, last_error=None, receipt=None,
                                            receipt_id=None, sent_at=None, next_attempt_at=now, updated_at=now))


@pytest.fixture
def harness(sender, peers, tmp_path):
    reset_outbox(sender)
    h = Harness(sender, peers, tmp_path)
    yield h
    h.close()


def check_end_state(h: Harness) -> dict:
    """Every submission sent with the receipt of its one accepted record; no duplicate anywhere."""
    with new_session(write=False, app=h.app) as s:
        rows = s.exec(select(Submission.endpoint, Submission.idbanghi, Submission.phienban, Submission.status,
                             Submission.receipt_id, Submission.attempts)).all()
    assert rows and {r.status for r in rows} == {"sent"}
    duplicates = 0
    for name, peer in h.peers.items():
        accepted = [r for r in peer.rows() if r.accepted]
        keys = [(r.idbanghi, r.phienban) for r in accepted]
        duplicates += len(keys) - len(set(keys))
        mine = {(r.idbanghi, r.phienban): r.receipt_id for r in rows if r.endpoint == name}
        assert sorted(keys) == sorted(mine), f"{name}: accepted {len(keys)} records for {len(mine)} submissions"
        assert {(r.idbanghi, r.phienban): r.receipt_id for r in accepted} == mine
        assert not [r for r in peer.rows() if not r.accepted], f"{name} refused something"
    assert duplicates == 0
    answers: dict[str, int] = {}
    for peer in h.peers.values():
        for status, n in peer.answers().items():
            answers[str(status)] = answers.get(str(status), 0) + n
    return {"submissions": len(rows), "attempts": sum(r.attempts for r in rows),
            "retries": sum(r.attempts for r in rows) - len(rows), "receiver_answers": answers,
            "accepted": answers.get("201", 0), "resends_answered_from_receipt": answers.get("200", 0),
            "duplicates_at_receivers": duplicates, "worker_restarts_after_own_death": h.restarts}


def record(scenario: str, figures: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[scenario] = figures
    RESULTS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{scenario}: {json.dumps(figures, ensure_ascii=False)}")


# --- The scenarios -----------------------------------------------------------------------------------------


def test_kill_the_workers_50_times_mid_batch(sender, harness):
    rng = random.Random(SEED)
    workers = [harness.worker("a"), harness.worker("b")]
    start = time.monotonic()
    deadline = start + DEADLINE_S
    modes = {"running a send": 0, "after start-up": 0, "during start-up": 0}
    for kill in range(KILLS):
        mode = ("running a send", "after start-up", "running a send", "during start-up", "running a send")[kill % 5]
        if mode == "during start-up":  # the one restarted last, wherever it is in its start-up
            target = max(workers, key=lambda w: w.started_at)
            time.sleep(max(0.0, target.started_at + rng.uniform(0.2, 3.0) - time.monotonic()))
        else:  # a ready worker (two workers: one starts while the other works)
            while not (ready := [w for w in workers if w.ready()]) and time.monotonic() < deadline:
                time.sleep(0.05)
            target = rng.choice(ready) if ready else workers[0]
            if mode == "running a send":  # in the claim, the POST, the receiver's check or the recording
                until = time.monotonic() + 2
                while not (busy := [w for w in ready if w.alive and w.horse()]) and time.monotonic() < until:
                    time.sleep(0.01)
                target = busy[0] if busy else target
                time.sleep(rng.uniform(0, 0.3))
            else:
                time.sleep(rng.uniform(0, 0.3))
        modes[mode] += 1
        target.kill9()
        target.start()
        assert time.monotonic() < deadline, f"only {kill} kills within {DEADLINE_S} s"
    last_kill = time.monotonic()
    sent_at_last_kill = harness.sent()
    converged = harness.wait_all_sent(last_kill + DEADLINE_S)
    figures = check_end_state(harness)
    figures.update(transcripts=TRANSCRIPTS, kills=KILLS, kill_points=modes, workers=2, seed=SEED,
                   sent_when_the_last_kill_struck=sent_at_last_kill,
                   seconds_killing=round(last_kill - start, 1), seconds_to_converge_after_last_kill=round(
                       converged - last_kill, 1), seconds_total=round(converged - start, 1),
                   seconds_to_build_the_batch=sender.extensions.get("fault_build_seconds"))
    record("a_kill_workers", figures)
    assert figures["retries"] >= 0


def test_redis_restarted_empty_mid_batch(sender, harness):
    harness.worker("a")
    start = time.monotonic()
    total = harness.state()["total"]
    while harness.sent() < total // 3:
        harness.supervise()
        assert time.monotonic() < start + DEADLINE_S
        time.sleep(0.1)
    before = harness.sent()
    assert harness.redis.keys("rq:job:*"), "the batch's jobs are in Redis before the restart"
    run_id = harness.redis.info("server")["run_id"]
    harness.redis.set("fault-test:marker", "1")  # a key no worker writes
    harness.restart_redis_empty()
    restarted = time.monotonic()
    # The living workers reconnect and write again at once (registration, heartbeats, and the reconciler
    # re-enqueues the same job ids): what shows a new, empty server is its run id and the marker's absence.
    assert harness.redis.info("server")["run_id"] != run_id
    assert not harness.redis.exists("fault-test:marker")
    converged = harness.wait_all_sent(restarted + DEADLINE_S)
    figures = check_end_state(harness)
    figures.update(transcripts=TRANSCRIPTS, sent_before_the_restart=before,
                   seconds_to_converge_after_restart=round(converged - restarted, 1),
                   seconds_total=round(converged - start, 1))
    record("b_redis_restarted_empty", figures)


def test_receiver_down_then_up(sender, harness):
    bo = harness.peers["bo"]
    bo.stop()
    start = time.monotonic()
    harness.worker("a")
    down_for = 6.0
    while time.monotonic() < start + down_for:
        harness.supervise()
        time.sleep(0.2)
    with new_session(write=False, app=sender) as s:
        failed = s.exec(select(func.count()).select_from(Submission).where(
            Submission.endpoint == "bo", Submission.status == "failed")).one()
        reasons = set(s.exec(select(Submission.last_error).where(Submission.endpoint == "bo",
                                                                Submission.status == "failed")).all())
        attempts_while_down = s.exec(select(func.sum(Submission.attempts)).where(Submission.endpoint == "bo")).one()
    assert failed > 0 and all(r.startswith("Không kết nối được tới Bộ GD&ĐT") for r in reasons), reasons
    bo.start()
    up = time.monotonic()
    converged = harness.wait_all_sent(up + DEADLINE_S)
    figures = check_end_state(harness)
    figures.update(transcripts=TRANSCRIPTS, receiver_down_seconds=round(up - start, 1),
                   failed_while_down=failed, attempts_at_bo_while_down=int(attempts_while_down or 0),
                   seconds_to_converge_after_up=round(converged - up, 1), seconds_total=round(converged - start, 1))
    record("c_receiver_down_then_up", figures)
