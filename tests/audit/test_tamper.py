"""Acceptance: tamper with a copy of the SQLite database, then `flask --app wsgi audit verify` must name the event.

Each case copies the database file, drops the append-only triggers (as an intruder with file access would),
changes the events, and runs the real command as a subprocess with PORTAL_INSTANCE pointing at the copy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from portal import audit
from portal.db import engine_for
from tests.audit.conftest import add_events
from tests.conftest import PG_URL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.skipif(bool(PG_URL), reason="tampers with a copy of the SQLite database file")


@pytest.fixture
def chain(app, tmp_path):
    """A database holding a chain of at least 8 events; returns (path of a clean copy, count, head hash)."""
    add_events(app, [(action, {"actor_name": f"Người {i}", "class_id": 1 + i % 3, "note": f"sự kiện thử {i}",
                               "before": {"value": str(i)}, "after": {"value": str(i + 1)}})
                     for i, action in enumerate(["auth.login", "assessment.saved", "comment.saved", "export",
                                                 "authz.denied", "record.saved", "import", "auth.logout"])])
    engine = engine_for(app)
    verdict = audit.verify(engine)
    assert verdict.ok and verdict.count >= 8
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    clean = tmp_path / "clean.db"
    shutil.copyfile(os.path.join(app.instance_path, "portal.db"), clean)
    return clean, verdict.count, verdict.head


def _copy(clean, folder, statements: list[str]):
    """An instance folder holding a copy of the database, with the triggers dropped and the statements run."""
    folder.mkdir()
    target = folder / "portal.db"
    shutil.copyfile(clean, target)
    if statements:
        conn = sqlite3.connect(target)
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("DROP TRIGGER audit_events_no_delete")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    return folder


def _start_verify(instance) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORTAL_DATABASE_URL")}
    env["PORTAL_INSTANCE"] = str(instance)
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_untampered_and_tampered_copies(chain, tmp_path):
    clean, count, head = chain
    middle, last = count // 2, count
    cases = {
        # name: (statements, the event the command must name)
        "untampered": ([], None),
        "edit a field": ([f"UPDATE audit_events SET note = 'đã sửa' WHERE id = {middle}"], middle),
        "edit before/after": ([f"UPDATE audit_events SET after = '{{\"value\":\"10\"}}' WHERE id = {middle}"], middle),
        "delete a row in the middle": ([f"DELETE FROM audit_events WHERE id = {middle}"], middle),
        "delete the last row": ([f"DELETE FROM audit_events WHERE id = {last}"], last),
        "reorder two rows": ([f"UPDATE audit_events SET id = -1 WHERE id = {middle}",
                              f"UPDATE audit_events SET id = {middle} WHERE id = {middle + 1}",
                              f"UPDATE audit_events SET id = {middle + 1} WHERE id = -1"], middle),
    }
    # Start every command at once (each pays the app's start-up), then check each.
    running = {name: _start_verify(_copy(clean, tmp_path / f"case{i}", statements))
               for i, (name, (statements, _)) in enumerate(cases.items())}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        bad = cases[name][1]
        if bad is None:
            assert process.returncode == 0, (name, out, err)
            assert f"{count} sự kiện" in out and head in out, (name, out)
        else:
            assert process.returncode == 1, (name, out, err)
            assert f"sự kiện {bad}" in err, (name, err)
            assert "CHUỖI NHẬT KÝ BỊ HỎNG" in err, (name, err)


def test_a_consistent_rewrite_of_the_tail_is_caught_by_the_head(chain, tmp_path):
    """Re-hashing the chain after an edit still leaves the head row (moved in every append) disagreeing."""
    clean, count, _head = chain
    folder = _copy(clean, tmp_path / "rewrite", [])
    conn = sqlite3.connect(folder / "portal.db")
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("UPDATE audit_events SET note = 'viết lại' WHERE id = ?", (count,))
    columns = ", ".join(audit.FIELDS)
    row = conn.execute(f"SELECT {columns}, prev_hash FROM audit_events WHERE id = ?", (count,)).fetchone()
    digest = audit.event_hash(row[-1], dict(zip(audit.FIELDS, row[:-1], strict=True)))
    conn.execute("UPDATE audit_events SET hash = ? WHERE id = ?", (digest, count))
    conn.commit()
    conn.close()
    out, err = _start_verify(folder).communicate(timeout=120)
    assert "CHUỖI NHẬT KÝ BỊ HỎNG" in err and f"sự kiện {count}" in err and "đầu chuỗi" in err, (out, err)
