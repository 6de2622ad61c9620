#!/usr/bin/env python3
"""Concurrent grade entry benchmark: N teachers save random gradebook cells for T seconds.

    .venv/bin/python bench/grade_load.py --clients 128 --seconds 30

What it does, all on loopback (127.0.0.1) and bounded in time:

1. makes a fresh temporary instance folder, points ``PORTAL_INSTANCE`` and ``DATABASE_URL`` at it (SQLite
   file inside it; or ``--database-url postgresql://root@127.0.0.1:5432/NAME``: a database NAME that does
   not exist yet, created here and dropped at the end), runs ``flask --app wsgi setup`` (migrations + demo
   school) and starts ``gunicorn --bind 127.0.0.1:PORT --workers W --threads K wsgi:app`` in its own
   process group;
2. reads the plan from the database (sqlite-utils for SQLite, psycopg for PostgreSQL): every teacher's
   (class, subject) pairs of the current school year, each class's students, each subject's TT22 slots
   (tx1..txN with N from periods per year: ≤ 35 → 2, 36–70 → 3, > 70 → 4; gk; ck) and the current
   version of every existing cell;
3. logs N clients in (round-robin over the teachers that have assignments; each client has its own
   session and cookie jar), reading the CSRF token from the login form and then from ``hx-headers`` on the
   grid page's <body>; logins are not part of the measured window;
4. for T seconds every client, closed-loop (``--think-ms`` adds a pause), picks a cell of its teacher —
   ``--hot-ratio`` (default 10 %) of writes go to a small per-teacher hot set shared by the clients of that
   teacher, to make them collide — and POSTs ``/giang-day/<class>/<subject>/<term>/o`` with student_id,
   slot, value and the version it believes current. 200 → new version from ``data-version`` in the
   fragment; 409 → the concurrency control working (counted apart, not an error): the version is taken
   from the fragment and the write is retried once; anything else (or a transport failure) is an error;
5. after the clients stop, reads every cell back and checks each acknowledged write: for every cell the
   database must hold at least the highest acknowledged version, with the value of that write when the
   versions are equal; a version acknowledged twice, or more acknowledgements than version increments,
   means a write was silently overwritten. All of these are "lost writes";
6. prints the numbers and a Markdown table row, stops gunicorn (SIGTERM to its group, SIGKILL after
   10 s), removes the temporary folder (unless ``--keep``) and exits 1 when there were errors or lost
   writes (2 when the run itself could not be made).

``--repeat R`` runs the load phase R times against the same server (fresh logins each time) and prints the
median of each figure as well. ``--json FILE`` appends one JSON object per run.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_PASSWORD = "Hocbaso@2026"
TERMS = ("hk1", "hk2")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CellKey = tuple[int, int, str, str]  # (student_id, subject_id, term, slot)


# --- The gradebook's rules, restated (the benchmark must not trust the code it measures) ---------------


def regular_count(periods_per_year: int) -> int:
    """TT22: regular assessments per term: ≤ 35 periods a year → 2, 36–70 → 3, > 70 → 4."""
    if periods_per_year <= 35:
        return 2
    if periods_per_year <= 70:
        return 3
    return 4


def tt22_slots(periods_per_year: int) -> tuple[str, ...]:
    return (*(f"tx{i}" for i in range(1, regular_count(periods_per_year) + 1)), "gk", "ck")


def score_value(rng: random.Random) -> tuple[str, str]:
    """Return (what a teacher types, what the server stores) for a random score 0–10 with ≤ 1 decimal."""
    tenths = rng.randrange(0, 101)
    whole, decimal = divmod(tenths, 10)
    stored = str(whole) if decimal == 0 else f"{whole}.{decimal}"
    if decimal == 0:
        typed = rng.choice((str(whole), f"{whole},0", f"{whole}.0"))
    else:
        typed = rng.choice((f"{whole},{decimal}", f"{whole}.{decimal}"))
    return typed, stored


COMMENT_TYPED = (("Đ", "D"), ("CĐ", "CD"), ("D", "D"), ("CD", "CD"), ("đạt", "D"), ("chưa đạt", "CD"))


def comment_value(rng: random.Random) -> tuple[str, str]:
    return rng.choice(COMMENT_TYPED)


def value_for(kind: str, rng: random.Random) -> tuple[str, str]:
    return score_value(rng) if kind == "score" else comment_value(rng)


def same_value(kind: str, stored: str, expected: str) -> bool:
    if stored == expected:
        return True
    if kind == "score":  # tolerate a different spelling of the same number ("8" / "8.0"), count it apart
        try:
            return float(stored) == float(expected)
        except ValueError:
            return False
    return False


# --- Parsing responses ---------------------------------------------------------------------------------

_VERSION = re.compile(r"""data-version\s*=\s*["']?(\d+)""")
_CSRF_INPUT = re.compile(r"""<input\b[^>]*\bname=["']csrf_token["'][^>]*>""", re.I)
_VALUE_ATTR = re.compile(r"""\bvalue=(["'])(.*?)\1""", re.S)
_HX_HEADERS = re.compile(r"""<body\b[^>]*\bhx-headers=(["'])(.*?)\1""", re.I | re.S)


def parse_version(text: str) -> int | None:
    """Return the data-version of a cell fragment (its root element's, i.e. the first), or None."""
    match = _VERSION.search(text)
    return int(match.group(1)) if match else None


def parse_csrf_input(text: str) -> str | None:
    tag = _CSRF_INPUT.search(text)
    if not tag:
        return None
    value = _VALUE_ATTR.search(tag.group(0))
    return html.unescape(value.group(2)) if value else None


def parse_csrf_header(text: str) -> str | None:
    match = _HX_HEADERS.search(text)
    if not match:
        return None
    try:
        return json.loads(html.unescape(match.group(2))).get("X-CSRFToken")
    except (ValueError, AttributeError):
        return None


# --- Statistics -----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of values (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- Acknowledged writes and their verification --------------------------------------------------------


@dataclass
class Verification:
    cells: int = 0  # cells with at least one acknowledged write
    acked: int = 0  # acknowledged writes (200 responses)
    lost: int = 0  # the sum of the four kinds below
    duplicate_versions: int = 0  # a version acknowledged to two writes: one of them was overwritten
    beyond_db: int = 0  # acknowledged versions higher than the database's (row missing: all of them)
    stale_acks: int = 0  # acknowledged versions not above the version the cell had before the run
    wrong_value: int = 0  # the database holds the highest acknowledged version with another value
    missing_rows: int = 0  # cells (already counted in beyond_db) that have no row at all
    unacked_newer: int = 0  # committed writes whose answer never came back (only with errors)
    spelling: int = 0  # same number spelled differently ("8" vs "8.0"): not lost, but reported
    examples: list[str] = field(default_factory=list)


def verify(acks: dict[CellKey, list[tuple[int, str]]], initial: dict[CellKey, int],
           stored: dict[CellKey, tuple[int, str]], kinds: dict[int, str]) -> Verification:
    """Check acknowledged writes against the database.

    acks: cell → [(version, normalized value)] of every 200; initial: cell → version before the run (absent
    = 0); stored: cell → (version, value) read at the end; kinds: subject_id → "score" | "comment".
    Each successful write raises a cell's version by exactly one, so every acknowledged version must lie
    in (version before, version now], no version may be acknowledged twice, and the highest acknowledged
    version, when it is the database's, must carry the acknowledged value.
    """
    result = Verification()
    for cell, writes in acks.items():
        result.cells += 1
        result.acked += len(writes)
        base = initial.get(cell, 0)
        db_version, db_value = stored.get(cell, (0, None))
        versions = Counter(v for v, _ in writes)
        dup = sum(n - 1 for n in versions.values() if n > 1)
        beyond = sum(1 for v in versions if v > db_version)
        stale = sum(1 for v in versions if v <= base)
        top_version = max(versions)
        top_values = {value for v, value in writes if v == top_version}
        wrong = 0
        if top_version == db_version:
            if not any(same_value(kinds.get(cell[1], "score"), db_value, value) for value in top_values):
                wrong = 1
            elif db_value not in top_values:
                result.spelling += 1
        result.duplicate_versions += dup
        result.beyond_db += beyond
        result.stale_acks += stale
        result.wrong_value += wrong
        result.missing_rows += cell not in stored
        result.unacked_newer += max(0, (db_version - base) - len(versions))
        lost_here = dup + beyond + stale + wrong
        if lost_here:
            result.lost += lost_here
            if len(result.examples) < 5:
                result.examples.append(
                    f"{cell}: before v{base}, db v{db_version} {db_value!r}, acked "
                    + ", ".join(f"v{v} {value!r}" for v, value in sorted(writes)))
    return result


# --- The database, read outside the ORM ----------------------------------------------------------------

PLAN_PAIRS = """
SELECT u.username AS username, ta.class_id AS class_id, ta.subject_id AS subject_id, s.kind AS kind,
       s.periods_per_year AS periods, g.number AS grade
FROM teaching_assignments ta
JOIN classes c ON c.id = ta.class_id
JOIN school_years y ON y.id = c.school_year_id
JOIN subjects s ON s.id = ta.subject_id
JOIN grades g ON g.id = c.grade_id
JOIN users u ON u.id = ta.teacher_id
WHERE y.is_current AND u.active AND NOT u.must_change_password
ORDER BY u.username, c.name, s.position
"""
PLAN_STUDENTS = """
SELECT e.class_id AS class_id, e.student_id AS student_id
FROM enrollments e
JOIN classes c ON c.id = e.class_id
JOIN school_years y ON y.id = c.school_year_id
WHERE y.is_current AND e.left_on IS NULL
ORDER BY e.class_id, e.number
"""
CELLS = """
SELECT a.student_id AS student_id, a.subject_id AS subject_id, a.term AS term, a.slot AS slot,
       a.value AS value, a.version AS version
FROM assessments a
JOIN school_years y ON y.id = a.school_year_id
WHERE y.is_current
"""


class Database:
    """Plain SQL reads: sqlite-utils for SQLite, psycopg for PostgreSQL."""

    def __init__(self, url: str):
        self.url = url

    def rows(self, sql: str) -> list[dict]:
        if self.url.startswith("sqlite:///"):
            import sqlite3

            import sqlite_utils

            path = self.url[len("sqlite:///"):]
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                return list(sqlite_utils.Database(conn).query(sql))
            finally:
                conn.close()
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, connect_timeout=5, row_factory=dict_row) as conn:
            return list(conn.execute(sql))

    def cells(self) -> dict[CellKey, tuple[int, str]]:
        return {(r["student_id"], r["subject_id"], r["term"], r["slot"]): (r["version"], r["value"])
                for r in self.rows(CELLS)}


@dataclass(frozen=True)
class Pair:
    class_id: int
    subject_id: int
    kind: str  # score | comment
    slots: tuple[str, ...]
    students: tuple[int, ...]

    def url(self, term: str) -> str:
        return f"/giang-day/{self.class_id}/{self.subject_id}/{term}/o"


@dataclass
class Plan:
    teachers: dict[str, list[Pair]]
    hot: dict[str, list[tuple[Pair, str, int, str]]]  # teacher → [(pair, term, student_id, slot)]
    kinds: dict[int, str]


def load_plan(db: Database, *, hot_cells: int, seed: int) -> Plan:
    students: dict[int, list[int]] = {}
    for row in db.rows(PLAN_STUDENTS):
        students.setdefault(row["class_id"], []).append(row["student_id"])
    teachers: dict[str, list[Pair]] = {}
    kinds: dict[int, str] = {}
    for row in db.rows(PLAN_PAIRS):
        if row["grade"] < 6 or not students.get(row["class_id"]):
            continue  # primary (TT27) pairs have other slots; this benchmark writes TT22 cells
        kind = "score" if row["kind"] == "score" else "comment"
        kinds[row["subject_id"]] = kind
        teachers.setdefault(row["username"], []).append(
            Pair(row["class_id"], row["subject_id"], kind, tt22_slots(row["periods"]),
                 tuple(students[row["class_id"]])))
    rng = random.Random(seed)
    hot = {}
    for username, pairs in teachers.items():
        pair = pairs[0]
        hot[username] = [(pair, rng.choice(TERMS), rng.choice(pair.students), rng.choice(pair.slots))
                         for _ in range(hot_cells)]
    return Plan(teachers=teachers, hot=hot, kinds=kinds)


# --- Load ------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, every save request
    ok: int = 0
    conflicts: int = 0  # 409 answers (first try and retries)
    conflicts_final: int = 0  # still 409 after the one retry
    errors: Counter = field(default_factory=Counter)
    acks: dict[CellKey, list[tuple[int, str]]] = field(default_factory=dict)
    login_latencies: list[float] = field(default_factory=list)
    measure_from: float = math.inf  # time.monotonic() at which the measured window opens


class SetupError(Exception):
    pass


class Client:
    def __init__(self, index: int, username: str, base_url: str, timeout: float):
        import httpx

        self.index = index
        self.username = username
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1), trust_env=False,
            headers={"User-Agent": f"grade_load/{index}"},
        )
        self.csrf = ""
        self.versions: dict[CellKey, int] = {}

    async def login(self, pair: Pair, stats: Stats) -> None:
        started = time.perf_counter()
        page = await self.http.get("/dang-nhap")
        token = parse_csrf_input(page.text)
        if page.status_code != 200 or not token:
            raise SetupError(f"GET /dang-nhap → {page.status_code}, csrf_token {'found' if token else 'missing'}")
        answer = await self.http.post("/dang-nhap", data={"username": self.username, "password": DEMO_PASSWORD,
                                                           "csrf_token": token})
        if answer.status_code != 302 or "doi-mat-khau" in answer.headers.get("location", ""):
            raise SetupError(f"login {self.username} → {answer.status_code} {answer.headers.get('location', '')}")
        stats.login_latencies.append(time.perf_counter() - started)
        grid = await self.http.get(f"/giang-day/{pair.class_id}/{pair.subject_id}/hk1")
        self.csrf = parse_csrf_header(grid.text) or ""
        if grid.status_code != 200 or not self.csrf:
            raise SetupError(f"grid page of {self.username} → {grid.status_code}, "
                             f"X-CSRFToken {'found' if self.csrf else 'missing in <body hx-headers>'}")

    async def save(self, pair: Pair, cell: CellKey, typed: str, version: int, stats: Stats) -> tuple[int, int | None]:
        student_id, _subject_id, term, slot = cell
        measured = time.monotonic() >= stats.measure_from  # warm-up requests are checked, not timed
        started = time.perf_counter()
        try:
            answer = await self.http.post(
                pair.url(term), data={"student_id": str(student_id), "slot": slot, "value": typed,
                                      "version": str(version)},
                headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
            )
        except Exception as exc:  # transport failure or timeout: an error, latency up to the failure
            if measured:
                stats.latencies.append(time.perf_counter() - started)
            stats.errors[type(exc).__name__] += 1
            return 0, None
        if measured:
            stats.latencies.append(time.perf_counter() - started)
        return answer.status_code, parse_version(answer.text) if answer.status_code in (200, 409) else None

    async def run(self, plan: Plan, stats: Stats, *, initial: dict[CellKey, int], start: asyncio.Event,
                  window: list[float], hot_ratio: float, think: float, rng: random.Random) -> None:
        pairs = plan.teachers[self.username]
        hot = plan.hot[self.username]
        await start.wait()
        deadline = window[1]
        while time.monotonic() < deadline:
            if hot and rng.random() < hot_ratio:
                pair, term, student_id, slot = rng.choice(hot)
            else:
                pair = rng.choice(pairs)
                term, student_id, slot = rng.choice(TERMS), rng.choice(pair.students), rng.choice(pair.slots)
            cell = (student_id, pair.subject_id, term, slot)
            typed, stored = value_for(pair.kind, rng)
            version = self.versions.get(cell, initial.get(cell, 0))
            for attempt in (1, 2):
                status, new_version = await self.save(pair, cell, typed, version, stats)
                if status == 200 and new_version is not None:
                    stats.ok += 1
                    stats.acks.setdefault(cell, []).append((new_version, stored))
                    self.versions[cell] = new_version
                    break
                if status == 409 and new_version is not None:
                    stats.conflicts += 1
                    self.versions[cell] = version = new_version
                    if attempt == 2:
                        stats.conflicts_final += 1
                    continue
                if status:
                    reason = f"HTTP {status}" + (" without data-version" if status in (200, 409) else "")
                    stats.errors[reason] += 1
                break
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class RunResult:
    run: int
    clients: int
    seconds: float
    workers: int
    threads: int
    database: str
    think_ms: float
    requests: int
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ok: int
    conflicts: int
    conflicts_final: int
    errors: int
    error_kinds: dict
    lost_writes: int
    verification: dict
    login_p50_ms: float
    login_max_ms: float
    login_seconds: float
    server_cpu_s: float
    client_cpu_s: float


async def load_once(args, base_url: str, db: Database, plan: Plan, run_no: int, server_pgid: int | None,
                    ) -> RunResult:
    usernames = sorted(plan.teachers)
    if not usernames:
        raise SetupError("no teacher with an assignment in the current school year")
    initial = {cell: version for cell, (version, _value) in db.cells().items()}
    stats = Stats()
    clients = [Client(i, usernames[i % len(usernames)], base_url, args.request_timeout) for i in range(args.clients)]
    try:
        gate = asyncio.Semaphore(args.login_concurrency)

        async def login(client: Client):
            async with gate:
                await client.login(plan.teachers[client.username][0], stats)

        login_started = time.monotonic()
        await asyncio.gather(*(login(c) for c in clients))
        login_seconds = time.monotonic() - login_started
        print(f"run {run_no}: {len(clients)} clients signed in ({login_seconds:.1f} s); {args.warmup:g} s warm-up, "
              f"then {args.seconds:g} s measured", flush=True)

        start = asyncio.Event()
        window = [0.0, 0.0]
        seed = args.seed + 1000 * run_no
        tasks = [asyncio.create_task(c.run(plan, stats, initial=initial, start=start, window=window,
                                           hot_ratio=args.hot_ratio, think=args.think_ms / 1000,
                                           rng=random.Random(seed + c.index)))
                 for c in clients]
        opened = time.monotonic()
        stats.measure_from = window[0] = opened + args.warmup
        window[1] = window[0] + args.seconds
        start.set()
        if args.warmup:
            await asyncio.sleep(args.warmup)
        server_cpu0, client_cpu0 = process_group_cpu(server_pgid), time.process_time()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - window[0]
        server_cpu = process_group_cpu(server_pgid) - server_cpu0
        client_cpu = time.process_time() - client_cpu0
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    check = verify(stats.acks, initial, db.cells(), plan.kinds)
    lat = stats.latencies
    return RunResult(
        run=run_no, clients=args.clients, seconds=args.seconds, workers=args.workers, threads=args.threads,
        database="postgresql" if db.url.startswith("postgresql") else "sqlite", think_ms=args.think_ms,
        requests=len(lat), throughput=len(lat) / elapsed if elapsed else 0.0,
        p50_ms=percentile(lat, 50) * 1000, p95_ms=percentile(lat, 95) * 1000, p99_ms=percentile(lat, 99) * 1000,
        max_ms=max(lat, default=math.nan) * 1000, ok=stats.ok, conflicts=stats.conflicts,
        conflicts_final=stats.conflicts_final, errors=sum(stats.errors.values()), error_kinds=dict(stats.errors),
        lost_writes=check.lost, verification=asdict(check),
        login_p50_ms=percentile(stats.login_latencies, 50) * 1000,
        login_max_ms=max(stats.login_latencies, default=math.nan) * 1000, login_seconds=login_seconds,
        server_cpu_s=server_cpu, client_cpu_s=client_cpu,
    )


def process_group_cpu(pgid: int | None) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group (Linux /proc)."""
    if pgid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # fields[0] is state: pgrp is the 5th field of stat, [2] after the name
            total += int(fields[11]) + int(fields[12])
    return total / ticks


# --- Server --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_loopback_postgres(url: str) -> tuple[str, str]:
    """Return (maintenance URL, database name) for a loopback PostgreSQL URL, or raise SetupError."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SetupError("--database-url must be postgresql://…")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise SetupError(f"--database-url must point at loopback, not {parts.hostname!r}")
    name = parts.path.lstrip("/") or f"hocba_bench_{os.getpid()}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name in ("test", "postgres", "template0", "template1"):
        raise SetupError(f"refusing database name {name!r}: give a new name, e.g. …/hocba_bench")
    return urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, "")), name


def create_postgres(url: str) -> tuple[str, callable]:
    import psycopg

    admin_url, name = require_loopback_postgres(url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise SetupError(f"database {name!r} already exists: this benchmark only uses a database it creates")
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)

    def drop():
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, "")), drop


class Server:
    def __init__(self, args, env: dict, workdir: str):
        self.args = args
        self.env = env
        self.log_path = os.path.join(workdir, "gunicorn.log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        a = self.args
        cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{a.port}", "--workers", str(a.workers),
               "--threads", str(a.threads), "--timeout", "60", "--graceful-timeout", "5",
               "--keep-alive", "30", a.wsgi]
        print("$", " ".join(cmd[1:]) if cmd[0] == sys.executable else " ".join(cmd), flush=True)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SetupError(f"gunicorn exited with {self.proc.returncode}:\n{self.tail()}")
                try:
                    if http.get(f"http://127.0.0.1:{self.args.port}/dang-nhap").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise SetupError(f"gunicorn did not answer /dang-nhap within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of the group (workers outliving their arbiter)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)
        self.log.close()


# --- Report --------------------------------------------------------------------------------------------

TABLE_HEADER = ("| clients | s | db | workers×threads | think ms | requests | req/s | p50 ms | p95 ms | p99 ms "
                "| 409 | errors | lost writes |\n"
                "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def table_row(r: RunResult | dict, label: str = "") -> str:
    r = r if isinstance(r, dict) else asdict(r)
    return (f"| {r['clients']} | {r['seconds']:g} | {r['database']} | {r['workers']}×{r['threads']} "
            f"| {r['think_ms']:g} | {r['requests']} | {r['throughput']:.0f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {r['conflicts']} | {r['errors']} | {r['lost_writes']} |{label}")


def median_row(results: list[RunResult]) -> dict:
    rows = [asdict(r) for r in results]
    out = dict(rows[0])
    for key in ("requests", "throughput", "p50_ms", "p95_ms", "p99_ms", "conflicts", "errors", "lost_writes"):
        value = statistics.median(r[key] for r in rows)
        out[key] = int(value) if key in ("requests", "conflicts", "errors", "lost_writes") else value
    return out


def describe(r: RunResult) -> str:
    v = r.verification
    lines = [
        f"run {r.run}: {r.requests} requests in {r.seconds:g} s → {r.throughput:.1f} req/s; latency ms "
        f"p50 {r.p50_ms:.1f}, p95 {r.p95_ms:.1f}, p99 {r.p99_ms:.1f}, max {r.max_ms:.1f}",
        f"  200: {r.ok}; 409: {r.conflicts} ({r.conflicts_final} still 409 after the retry); errors: {r.errors}"
        + (f" {r.error_kinds}" if r.errors else ""),
        f"  verification: {v['acked']} acknowledged writes on {v['cells']} cells; lost {r.lost_writes} "
        f"(duplicate versions {v['duplicate_versions']}, beyond the db {v['beyond_db']} (rows missing "
        f"{v['missing_rows']}), stale {v['stale_acks']}, wrong value {v['wrong_value']}); "
        f"unacknowledged newer {v['unacked_newer']}, other spelling {v['spelling']}",
        f"  logins: {r.clients} in {r.login_seconds:.1f} s (p50 {r.login_p50_ms:.0f} ms, max {r.login_max_ms:.0f} ms);"
        f" CPU during the window: server {r.server_cpu_s:.1f} s, client {r.client_cpu_s:.1f} s"
        f" of {os.cpu_count()}×{r.seconds:g} s",
    ]
    lines += [f"  lost: {e}" for e in v["examples"]]
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--seconds", type=float, default=30.0, help="measured window per run (default 30)")
    p.add_argument("--port", type=int, default=0, help="gunicorn port on 127.0.0.1 (default: a free one)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4, see bench/README.md)")
    p.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    p.add_argument("--database-url", default=None,
                   help="postgresql://USER@127.0.0.1:5432/NEWNAME: a database this run creates and drops "
                        "(default: SQLite in the temporary instance folder)")
    p.add_argument("--repeat", type=int, default=1, help="load runs against the same server (default 1)")
    p.add_argument("--think-ms", type=float, default=0.0,
                   help="mean pause between a client's saves, uniform ±50 %% (default 0: closed loop)")
    p.add_argument("--warmup", type=float, default=3.0,
                   help="seconds of saves before the measured window: verified, not timed (default 3)")
    p.add_argument("--hot-ratio", type=float, default=0.10, help="share of writes to the hot cells (default 0.1)")
    p.add_argument("--hot-cells", type=int, default=8, help="hot cells per teacher (default 8)")
    p.add_argument("--login-concurrency", type=int, default=4, help="logins in flight at once (default 4)")
    p.add_argument("--request-timeout", type=float, default=10.0, help="per request, seconds (default 10)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--wsgi", default="wsgi:app", help="gunicorn app (default wsgi:app)")
    p.add_argument("--json", dest="json_path", default=None, help="append one JSON object per run to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (and PostgreSQL database)")
    args = p.parse_args(argv)
    if args.warmup < 0 or args.warmup > 60:
        p.error("--warmup is 0–60 s")
    if args.clients < 1 or args.seconds <= 0 or args.workers < 1 or args.threads < 1 or args.repeat < 1:
        p.error("--clients, --seconds, --workers, --threads and --repeat must be positive")
    if args.clients > 1024 or args.seconds > 600:
        p.error("bounded: at most 1024 clients and 600 s per run")
    if not 0 <= args.hot_ratio <= 1:
        p.error("--hot-ratio is a share between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.port = args.port or free_port()
    workdir = tempfile.mkdtemp(prefix="grade_load_")
    instance = os.path.join(workdir, "instance")
    os.makedirs(instance)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PORTAL_DATABASE_URL", "PORTAL_INSTANCE")}
    server = Server(args, env, workdir)
    drop_db = None
    results: list[RunResult] = []
    try:
        if args.database_url:
            url, drop_db = create_postgres(args.database_url)
        else:
            url = "sqlite:///" + os.path.join(instance, "portal.db")
        env.update(PORTAL_INSTANCE=instance, DATABASE_URL=url)
        print(f"instance {instance}; database {url}", flush=True)
        started = time.monotonic()
        setup = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "setup"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
        if setup.returncode != 0:
            raise SetupError(f"flask setup failed:\n{setup.stdout}{setup.stderr}")
        print(f"setup (migrations + demo school) {time.monotonic() - started:.1f} s", flush=True)
        db = Database(url)
        plan = load_plan(db, hot_cells=args.hot_cells, seed=args.seed)
        cells = sum(len(p.students) * len(p.slots) * len(TERMS) for ps in plan.teachers.values() for p in ps)
        print(f"plan: {len(plan.teachers)} teachers, {sum(map(len, plan.teachers.values()))} pairs, "
              f"{cells} cells", flush=True)
        server.start()
        server.wait_ready()
        base_url = f"http://127.0.0.1:{args.port}"
        budget = args.seconds + 120 + args.clients * 2.0  # logins + window + verification, hard stop
        for run_no in range(1, args.repeat + 1):
            result = asyncio.run(asyncio.wait_for(load_once(args, base_url, db, plan, run_no, server.pgid),
                                                  timeout=budget))
            results.append(result)
            print(describe(result), flush=True)
            if args.json_path:
                with open(args.json_path, "a") as f:
                    f.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
            if server.proc.poll() is not None:
                raise SetupError(f"gunicorn died during the run:\n{server.tail()}")
    except (SetupError, TimeoutError, subprocess.TimeoutExpired) as exc:
        print(f"grade_load: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(server.tail(), file=sys.stderr)
        return 2
    finally:
        server.stop()
        if drop_db and not args.keep:
            try:
                drop_db()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
                print(f"grade_load: could not drop the database: {exc}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(TABLE_HEADER)
    for r in results:
        print(table_row(r))
    if len(results) > 1:
        print(table_row(median_row(results), " median"))
    bad = any(r.errors or r.lost_writes for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
