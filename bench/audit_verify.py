#!/usr/bin/env python3
"""Time `flask --app wsgi audit verify` over N synthetic audit events (default 1,000,000).

    .venv/bin/python bench/audit_verify.py --events 1000000 --repeat 3

Makes a fresh temporary instance (SQLite), migrates it, appends N chained events with realistic fields
(writes through sqlite-utils in batches, outside the ORM, bypassing nothing: the rows carry the same
canonical hashes `portal.audit.record` writes), moves the chain head, then runs the real command R times
as a subprocess and reports each wall time and the median. Target (issue 4): ≤ 10 s for 1,000,000 events.
Then it edits one event in a copy (after dropping the trigger) and checks the command fails naming it.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from portal import audit  # noqa: E402

ACTIONS = ["assessment.saved", "comment.saved", "record.saved", "auth.login", "authz.denied", "export"]
NAMES = ["Nguyễn Thị Hoa", "Lê Minh Tuấn", "Trịnh Đức Vinh", "Nguyễn Văn Thành", "Phạm Thị Thu Hà"]
UA = "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile"


def fill(db_path: str, n: int, seed: int = 2026) -> str:
    import sqlite_utils

    rng = random.Random(seed)
    db = sqlite_utils.Database(db_path)
    table = db["audit_events"]
    prev = audit.GENESIS
    batch = []
    for i in range(1, n + 1):
        value = f"{rng.randrange(0, 101) / 10:.1f}"
        fields = {
            "id": i, "at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T08:{i % 60:02d}:00.{i % 1000000:06d}Z",
            "action": rng.choice(ACTIONS), "actor_id": 1 + i % 20, "actor_name": rng.choice(NAMES),
            "ip": f"192.168.1.{i % 250}", "user_agent": UA, "object_type": "assessment", "object_id": str(i),
            "school_year_id": 1, "class_id": 1 + i % 8, "subject_id": 1 + i % 14, "student_id": 1 + i % 240,
            "period": "ck1", "grant_id": None, "before": audit.canonical({"value": "8.0", "version": 3}),
            "after": audit.canonical({"value": value, "version": 4}), "note": "",
        }
        digest = audit.event_hash(prev, fields)
        batch.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
        if len(batch) == 20_000:
            table.insert_all(batch, batch_size=20_000)
            batch = []
    if batch:
        table.insert_all(batch, batch_size=20_000)
    db.execute("UPDATE audit_head SET count = ?, last_id = ?, hash = ? WHERE id = 1", [n, n, prev])
    db.conn.commit()
    return prev


def run_verify(env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return time.perf_counter() - start, done


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="audit_verify_")
    instance = os.path.join(folder, "instance")
    env = {**os.environ, "PORTAL_INSTANCE": instance}
    env.pop("DATABASE_URL", None)
    try:
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        db_path = os.path.join(instance, "portal.db")
        start = time.perf_counter()
        head = fill(db_path, args.events)
        print(f"filled {args.events} events in {time.perf_counter() - start:.1f} s; "
              f"database {os.path.getsize(db_path) / 1e6:.0f} MB; head {head}")
        times = []
        for i in range(args.repeat):
            seconds, done = run_verify(env)
            if done.returncode != 0 or head not in done.stdout:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            times.append(seconds)
            print(f"run {i + 1}: audit verify {seconds:.2f} s → {done.stdout.strip()}")
        print(f"median {statistics.median(times):.2f} s over {len(times)} runs (target ≤ 10 s)")
        # Tamper: drop the trigger, edit one event in the middle; the command must fail and name it.
        bad = args.events // 2
        conn = sqlite3.connect(db_path)
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET after = '{\"value\":\"10.0\",\"version\":4}' WHERE id = ?", (bad,))
        conn.commit()
        conn.close()
        seconds, done = run_verify(env)
        named = done.returncode == 1 and f"sự kiện {bad}" in done.stderr
        print(f"tampered event {bad}: exit {done.returncode} in {seconds:.2f} s, named: {named}")
        print(f"| {args.events:,} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} "
              f"| {'yes' if named else 'NO'} |")
        return 0 if named else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
