"""A state machine over the periods and gradebook services with a movable clock (issue 4, item 4).

Rules: teachers, the homeroom teacher and the principal enter values in a small fixed set of scopes (mid-term
and end-of-term cells, a subject comment, homeroom entries of a term and of the year); the principal locks
(school, grade or class) and releases locks; the right teacher asks to unlock a scope; the principal grants
(with the minutes — or tries without them, which must change nothing) or refuses; the clock moves, sometimes
to the very second a grant ends or a deadline passes.

The machine keeps its own model of what must be stored, written from the rules of PRODUCT.md §4.1 and not
from the code: a scope is locked when an active lock of its period covers the school, its grade or its class,
or from the midnight (Vietnam time) after its period's deadline; a grant covers (period, class, subject — or
the homeroom entries when it names none — and its student when it names one) from its start until, not
including, its end. After every step the database must hold exactly the model's values, every granted request
its minutes (number, date, approver), and every rule must have appended exactly one audit event per change it
made (none for a refused write, a refused decision or a repeated lock). At the end the audit chain verifies.

Each example runs on a fresh copy of the seeded template database (SQLite file copy, or PostgreSQL
CREATE DATABASE … TEMPLATE when PORTAL_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, text
from sqlmodel import select

from portal import audit, create_app
from portal import clock as portal_clock
from portal.authz import Actor
from portal.db import engine_for, new_session
from portal.errors import DomainError, Forbidden
from portal.gradebook import service as gradebook
from portal.models import (
    Assessment,
    AuditEvent,
    GradePeriod,
    PeriodLock,
    SchoolClass,
    SchoolYear,
    StudentRecord,
    Subject,
    SubjectComment,
    TeachingAssignment,
    UnlockRequest,
    User,
)
from portal.periods import service as periods
from portal.periods.service import VN, DecisionRefused, PeriodLocked
from tests import conftest

PERIOD_CODES = ("gk1", "ck1", "gk2", "ck2", "cn")
CLASSES = ("6A1", "6A2", "7A1")
USERS = ("hoant", "tuanlm", "hieutruong")
ROLES = ("assigned", "other_teacher", "homeroom", "principal")
ROLE = st.sampled_from(("assigned", "assigned", *ROLES))  # mostly the teacher who may write
SCOPE = st.sampled_from(("school", "grade", "class"))
MINUTES = st.sampled_from((1, 30, 90, 1440, 4320))  # a grant's length
DATA = {"cell": "assessment.saved", "comment": "comment.saved", "record": "record.saved"}


@dataclass(frozen=True)
class Place:
    """Where an entry is written: kind cell (slot), comment, or record (key); student = index in the roster."""

    kind: str
    class_name: str
    subject_code: str | None
    term: str
    slot: str | None
    student: int
    period: str
    values: tuple[str, ...]


SCORES = ("5", "7.5", "9", "")
PLACES = (
    Place("cell", "6A1", "toan", "hk1", "gk", 0, "gk1", SCORES),
    Place("cell", "6A1", "toan", "hk1", "ck", 0, "ck1", SCORES),
    Place("cell", "6A1", "toan", "hk1", "ck", 1, "ck1", SCORES),
    Place("cell", "6A1", "tinhoc", "hk1", "tx1", 0, "ck1", SCORES),
    Place("cell", "6A2", "toan", "hk1", "gk", 0, "gk1", SCORES),
    Place("cell", "7A1", "tinhoc", "hk2", "gk", 0, "gk2", SCORES),
    Place("comment", "6A1", "toan", "hk1", None, 1, "ck1", ("Chăm chỉ.", "Cần cố gắng hơn.", "")),
    Place("record", "6A1", None, "hk1", "conduct", 0, "ck1", ("T", "K", "D")),
    Place("record", "6A1", None, "year", "homeroom_comment", 1, "cn", ("Ngoan, học tốt.", "Tiến bộ.")),
)


@dataclass
class Request:
    id: int
    place: int  # index in PLACES of the scope it was asked for
    period: str
    class_id: int
    subject_id: int | None
    student_id: int | None
    status: str = "pending"
    starts: datetime | None = None
    ends: datetime | None = None


@dataclass
class Lock:
    id: int
    period: str
    scope: str
    grade_id: int | None
    class_id: int | None
    active: bool = True


@dataclass
class Facts:
    """The demo school's ids, read once from the template."""

    classes: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → (class id, grade id)
    subjects: dict[tuple[str, str], int] = field(default_factory=dict)  # (class name, code) → subject id
    students: dict[str, list[int]] = field(default_factory=dict)  # class name → first student ids
    users: dict[str, int] = field(default_factory=dict)  # username → id
    pairs: dict[int, set[tuple[int, int]]] = field(default_factory=dict)  # user id → (class id, subject id)
    homeroom: dict[int, int] = field(default_factory=dict)  # class id → homeroom teacher id
    year_id: int = 0


def read_facts(app) -> Facts:
    facts = Facts()
    with app.app_context(), new_session(write=False, app=app) as session:
        year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
        facts.year_id = year.id
        for name in CLASSES:
            klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                           SchoolClass.name == name)).one()
            facts.classes[name] = (klass.id, klass.grade_id)
            facts.homeroom[klass.id] = klass.homeroom_teacher_id
            facts.students[name] = [s.id for _, s in gradebook.class_roster(session, klass.id)][:2]
            for code in ("toan", "tinhoc"):
                facts.subjects[(name, code)] = session.exec(select(Subject.id).where(
                    Subject.grade_id == klass.grade_id, Subject.code == code)).one()
        for username in USERS:
            uid = session.exec(select(User.id).where(User.username == username)).one()
            facts.users[username] = uid
            facts.pairs[uid] = {(a.class_id, a.subject_id) for a in session.exec(
                select(TeachingAssignment).where(TeachingAssignment.teacher_id == uid))}
    return facts


# --- A fresh database per example ------------------------------------------------------------------------------


class Databases:
    """Fresh copies of the session's seeded template (the same copy the `database_url` fixture makes)."""

    def __init__(self, template: dict, folder):
        self.template, self.folder = template, folder
        self.admin = conftest._pg_admin_engine() if conftest.PG_URL else None

    def fresh(self) -> str:
        if self.admin is not None:
            name = f"portal_sm_{conftest._worker()}"
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template["name"]}"'))
            return conftest._pg_database_url(name)
        target = os.path.join(self.folder, "portal.db")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(target + suffix):
                os.remove(target + suffix)
        shutil.copyfile(self.template["instance"] / "portal.db", target)
        return "sqlite:///" + target

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "portal_sm_{conftest._worker()}" WITH (FORCE)'))
            self.admin.dispose()


# --- The machine ---------------------------------------------------------------------------------------------


class PeriodMachine(RuleBasedStateMachine):
    databases: Databases  # set by the test
    clock: list[datetime] = [datetime.now(UTC)]  # the portal's clock reads clock[0]

    locks = Bundle("locks")

    def __init__(self):
        super().__init__()
        self.app = create_app(conftest.base_config(self.databases.folder, self.databases.fresh()))
        self.facts = read_facts(self.app)
        start = datetime.now(UTC).replace(microsecond=0)
        self.set_now(start)
        # Deadlines one to five days ahead, so that the clock passes some within an example.
        today = start.astimezone(VN).date()
        self.deadlines = {code: today + timedelta(days=n) for n, code in enumerate(PERIOD_CODES, 1)}
        with self.app.app_context(), new_session(write=True, app=self.app) as session:
            for row in periods.ensure_periods(session, session.get(SchoolYear, self.facts.year_id)).values():
                row.deadline = self.deadlines[row.code]
                session.add(row)
            session.commit()
            self.period_ids = {p.code: p.id for p in session.exec(
                select(GradePeriod).where(GradePeriod.school_year_id == self.facts.year_id))}
        self.stored: dict[Place, str] = {}  # the model: what each place must hold (absent: no row)
        self.lock_model: dict[int, Lock] = {}
        self.request_model: dict[int, Request] = {}

    def teardown(self):
        try:
            verdict = audit.verify(engine_for(self.app))
            assert verdict.ok, verdict.problem
        finally:
            engine_for(self.app).dispose()

    # --- the model's rules (PRODUCT.md §4.1), not the code's ----------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock[0]

    def set_now(self, moment: datetime) -> None:
        self.clock[0] = moment

    def closes(self, code: str) -> datetime:
        return datetime.combine(self.deadlines[code] + timedelta(days=1), time(0), tzinfo=VN)

    def place_ids(self, place: Place) -> tuple[int, int, int | None, int]:
        class_id, grade_id = self.facts.classes[place.class_name]
        subject_id = self.facts.subjects[(place.class_name, place.subject_code)] if place.subject_code else None
        return class_id, grade_id, subject_id, self.facts.students[place.class_name][place.student]

    def locked(self, place: Place) -> bool:
        class_id, grade_id, _, _ = self.place_ids(place)
        by_lock = any(lock.active and lock.period == place.period and (
            lock.scope == "school" or lock.scope == "grade" and lock.grade_id == grade_id
            or lock.scope == "class" and lock.class_id == class_id) for lock in self.lock_model.values())
        return by_lock or self.now >= self.closes(place.period)

    def covering_grants(self, place: Place) -> set[int]:
        class_id, _, subject_id, student_id = self.place_ids(place)
        return {r.id for r in self.request_model.values()
                if r.status == "granted" and r.period == place.period and r.class_id == class_id
                and r.subject_id == subject_id and r.student_id in (None, student_id) and r.starts <= self.now < r.ends}

    def may_write(self, user_id: int, place: Place) -> bool:
        class_id, _, subject_id, _ = self.place_ids(place)
        if place.kind == "record":
            return self.facts.homeroom[class_id] == user_id
        return (class_id, subject_id) in self.facts.pairs[user_id]

    # --- plumbing -------------------------------------------------------------------------------------------------

    def call(self, work):
        """Run work(session) in a write transaction; commit, or roll back and return the domain error."""
        with self.app.app_context(), new_session(write=True, app=self.app) as session:
            try:
                result = work(session)
            except DomainError as exc:
                session.rollback()
                return None, exc
            session.commit()
            return result, None

    def actor(self, session, username: str) -> Actor:
        return Actor(session, session.get(User, self.facts.users[username]))

    def audit_counts(self) -> Counter:
        with new_session(write=False, app=self.app) as session:
            rows = session.exec(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()
            return Counter(dict(rows))

    def assert_events(self, before: Counter, expected: dict[str, int]) -> None:
        delta = self.audit_counts()
        delta.subtract(before)
        assert +delta == Counter(expected), f"audit events appended {dict(+delta)}, expected {expected}"

    def last_event(self) -> AuditEvent:
        with new_session(write=False, app=self.app) as session:
            return session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()

    def read_place(self, session, place: Place):
        class_id, _, subject_id, student_id = self.place_ids(place)
        if place.kind == "cell":
            return session.exec(select(Assessment).where(
                Assessment.student_id == student_id, Assessment.subject_id == subject_id,
                Assessment.term == place.term, Assessment.slot == place.slot)).first()
        if place.kind == "comment":
            return session.exec(select(SubjectComment).where(
                SubjectComment.student_id == student_id, SubjectComment.subject_id == subject_id,
                SubjectComment.term == place.term)).first()
        return session.exec(select(StudentRecord).where(
            StudentRecord.student_id == student_id, StudentRecord.term == place.term,
            StudentRecord.key == place.slot)).first()

    # --- rules ------------------------------------------------------------------------------------------------------

    @rule(role=ROLE, index=st.integers(0, len(PLACES) - 1), choice=st.integers(0, 3))
    def enter(self, role, index, choice):
        self.write(role, PLACES[index], choice)

    @precondition(lambda self: self.request_model)
    @rule(role=ROLE, which=st.integers(0, 99), choice=st.integers(0, 3))
    def enter_where_asked(self, role, which, choice):
        """Write where a request (preferably a granted one) was made."""
        asked = self.pick_request(which, ("granted",)) or self.pick_request(which)
        self.write(role, PLACES[asked.place], choice)

    @precondition(lambda self: self.request_model)
    @rule(which=st.integers(0, 99), pick=st.integers(0, len(PLACES) - 1), choice=st.integers(0, 3))
    def enter_next_to_a_grant(self, which, pick, choice):
        """The right teacher writes next to a granted (or asked) place: same period and class, but another
        student, another subject, or homeroom entries instead of a subject — which its grant must not open."""
        asked = PLACES[(self.pick_request(which, ("granted",)) or self.pick_request(which)).place]
        near = [p for p in PLACES if (p.period, p.class_name) == (asked.period, asked.class_name) and p != asked]
        if near:
            self.write("assigned", near[pick % len(near)], choice)

    def write(self, role: str, place: Place, choice: int) -> None:
        value = place.values[choice % len(place.values)]
        username = {"assigned": "tuanlm" if place.subject_code == "tinhoc" else "hoant",
                    "other_teacher": "hoant" if place.subject_code == "tinhoc" else "tuanlm",
                    "homeroom": "hoant", "principal": "hieutruong"}[role]
        class_id, _, subject_id, student_id = self.place_ids(place)

        def work(session):
            row = self.read_place(session, place)
            args = {"session": session, "actor": self.actor(session, username), "class_id": class_id,
                    "student_id": student_id, "term": place.term, "version": row.version if row else 0}
            if place.kind == "cell":
                return gradebook.save_cell(**args, subject_id=subject_id, slot=place.slot, raw=value)
            if place.kind == "comment":
                return gradebook.save_comment(**args, subject_id=subject_id, text=value)
            return gradebook.save_record(**args, key=place.slot, raw=value)

        allowed = self.may_write(self.facts.users[username], place)
        grants = self.covering_grants(place)
        open_ = not self.locked(place) or bool(grants)
        before = self.audit_counts()
        _, error = self.call(work)
        event("enter: " + ("forbidden" if not allowed else "refused, locked" if not open_
                           else "lands under a grant" if grants and self.locked(place) else "lands, open"))
        if not allowed:
            assert isinstance(error, Forbidden), error
        elif not open_:
            assert isinstance(error, PeriodLocked), f"a write landed in a locked scope ({place}): {error}"
            assert periods.PERIODS[place.period] in str(error) and "đề nghị mở khóa" in str(error)
        else:
            assert error is None, f"{place} refused: {error}"
        if error is not None:
            self.assert_events(before, {})  # a refused write adds no data event
            return
        changed = place not in self.stored or self.stored[place] != value
        self.stored[place] = value
        self.assert_events(before, {DATA[place.kind]: 1} if changed else {})
        if changed:
            written = self.last_event()
            assert (written.action, written.period) == (DATA[place.kind], place.period)
            if self.locked(place):
                assert written.grant_id in grants, "a write under a grant names it"
            else:
                assert written.grant_id is None

    @initialize(target=locks, index=st.integers(0, len(PLACES) - 1), scope=SCOPE, one_student=st.booleans(),
                minutes=MINUTES)
    def start(self, index, scope, one_student, minutes):
        """Start where the rules meet: a place locked by the principal, its teacher's request and the grant."""
        lock_id = self.lock(index, scope)
        self.decide_grant(self.ask(index, one_student), minutes, None, 0)
        return lock_id

    @rule(target=locks, index=st.integers(0, len(PLACES) - 1), scope=SCOPE)
    def lock(self, index, scope):
        """The principal locks the period of a place for the school, the place's grade or its class."""
        code = PLACES[index].period
        class_id, grade_id = self.facts.classes[PLACES[index].class_name]
        key = (code, scope, grade_id if scope == "grade" else None, class_id if scope == "class" else None)
        existing = next((lock for lock in self.lock_model.values()
                         if lock.active and (lock.period, lock.scope, lock.grade_id, lock.class_id) == key), None)
        before = self.audit_counts()
        row, error = self.call(lambda s: periods.lock(
            s, actor=self.actor(s, "hieutruong"), period_id=self.period_ids[code], scope=scope, grade_id=grade_id,
            class_id=class_id).id)
        assert error is None, error
        if existing is not None:
            assert row == existing.id, "locking a locked scope again returns its lock"
            self.assert_events(before, {})
        else:
            self.lock_model[row] = Lock(row, *key)
            self.assert_events(before, {"period.locked": 1})
        return row

    @rule(lock_id=locks)
    def release(self, lock_id):
        was_active = self.lock_model[lock_id].active
        before = self.audit_counts()
        _, error = self.call(lambda s: periods.release_lock(s, actor=self.actor(s, "hieutruong"), lock_id=lock_id))
        assert error is None, error
        self.lock_model[lock_id].active = False
        self.assert_events(before, {"period.unlocked": 1} if was_active else {})

    @rule(which=st.integers(0, 99), one_student=st.booleans())
    def request_unlock(self, which, one_student):
        """The right teacher asks to unlock a place — one that is locked now, as teachers do, when there is one."""
        locked = [i for i, p in enumerate(PLACES) if self.locked(p)] or range(len(PLACES))
        self.ask(locked[which % len(locked)], one_student)

    def ask(self, index: int, one_student: bool) -> Request:
        place = PLACES[index]
        class_id, _, subject_id, student_id = self.place_ids(place)
        username = "tuanlm" if place.subject_code == "tinhoc" else "hoant"  # the right teacher of the scope
        student = student_id if one_student else None
        before = self.audit_counts()
        row, error = self.call(lambda s: periods.request_unlock(
            s, actor=self.actor(s, username), period_id=self.period_ids[place.period], class_id=class_id,
            subject_id=subject_id, student_id=student, reason="Nhập nhầm, xin mở khóa để sửa.").id)
        assert error is None, error
        self.request_model[row] = Request(row, index, place.period, class_id, subject_id, student)
        self.assert_events(before, {"unlock.requested": 1})
        return self.request_model[row]

    def pick_request(self, which: int, statuses=("pending", "granted", "refused")) -> Request | None:
        found = [r for r in self.request_model.values() if r.status in statuses]
        return found[which % len(found)] if found else None

    @precondition(lambda self: self.request_model)
    @rule(which=st.integers(0, 99), decided=st.integers(0, 4), minutes=MINUTES,
          missing=st.sampled_from((None, None, None, "minutes_number", "minutes_date", "approver")),
          days_ago=st.integers(0, 3))
    def grant(self, which, decided, minutes, missing, days_ago):
        """The principal grants a pending request (now and then one already decided: refused) with the minutes,
        or tries without its number, its date or its approver: refused, nothing changes."""
        model = (decided != 0 and self.pick_request(which, ("pending",))) or self.pick_request(which)
        self.decide_grant(model, minutes, missing, days_ago)

    def decide_grant(self, model: Request, minutes: int, missing: str | None, days_ago: int) -> None:
        request_id = model.id
        ends = self.now + timedelta(minutes=minutes)
        written = {"minutes_number": "07/BB-HĐ", "minutes_date": self.now.astimezone(VN).date()
                   - timedelta(days=days_ago), "approver": "Nguyễn Văn Hiệu"}
        if missing:
            written[missing] = None if missing == "minutes_date" else "  "
        before = self.audit_counts()
        _, error = self.call(lambda s: periods.grant(
            s, actor=self.actor(s, "hieutruong"), request_id=request_id, ends_at=ends, **written))
        if missing or model.status != "pending":
            assert isinstance(error, DecisionRefused), error
            self.assert_events(before, {})  # nothing changes
            return
        assert error is None, error
        event("grant: granted")
        model.status, model.starts, model.ends = "granted", self.now, ends
        self.assert_events(before, {"unlock.granted": 1})

    @precondition(lambda self: self.request_model)
    @rule(which=st.integers(0, 99), decided=st.integers(0, 4))
    def refuse(self, which, decided):
        model = (decided != 0 and self.pick_request(which, ("pending",))) or self.pick_request(which)
        request_id = model.id
        before = self.audit_counts()
        _, error = self.call(lambda s: periods.refuse(s, actor=self.actor(s, "hieutruong"), request_id=request_id,
                                                      reason="Không có biên bản họp."))
        if model.status != "pending":
            assert isinstance(error, DecisionRefused), error
            self.assert_events(before, {})
            return
        assert error is None, error
        model.status = "refused"
        self.assert_events(before, {"unlock.refused": 1})

    @rule(kind=st.sampled_from(("minutes", "hours", "grant_end", "deadline")), n=st.integers(1, 100),
          offset=st.sampled_from((-1, 0, 1)))
    def advance_clock(self, kind, n, offset):
        """Move forward: a little, or to a second around the end of an active grant or a period's deadline."""
        moment = {"minutes": self.now + timedelta(minutes=n), "hours": self.now + timedelta(hours=n % 30)}.get(kind)
        if kind == "grant_end":
            ends = sorted(r.ends for r in self.request_model.values() if r.status == "granted" and r.ends > self.now)
            moment = ends[n % len(ends)] + timedelta(seconds=offset) if ends else None
        elif kind == "deadline":
            closes = sorted(self.closes(c) for c in PERIOD_CODES if self.closes(c) > self.now)
            moment = closes[n % len(closes)] + timedelta(seconds=offset) if closes else None
        if moment is not None and moment > self.now:
            self.set_now(moment)

    # --- invariants ---------------------------------------------------------------------------------------------

    @invariant()
    def the_database_holds_the_model(self):
        with new_session(write=False, app=self.app) as session:
            for place in PLACES:
                row = self.read_place(session, place)
                held = None if row is None else (row.text if place.kind == "comment" else row.value)
                assert held == self.stored.get(place), f"{place}: database {held!r}, model {self.stored.get(place)!r}"
            active = set(session.exec(select(PeriodLock.id).where(PeriodLock.released_at.is_(None))).all())
            assert active == {i for i, lock in self.lock_model.items() if lock.active}
            requests = {r.id: r for r in session.exec(select(UnlockRequest))}
            assert {i: r.status for i, r in requests.items()} == {i: r.status for i, r in self.request_model.items()}
            for row in requests.values():
                if row.status == "granted":
                    assert row.minutes_number and row.minutes_date and row.approver, "a grant without its minutes"
                    assert row.decided_by == self.facts.users["hieutruong"]
                    model = self.request_model[row.id]
                    assert (row.starts_at, row.ends_at) == (model.starts, model.ends)


def test_period_machine(template_database, tmp_path, monkeypatch):
    PeriodMachine.databases = Databases(template_database, tmp_path)
    monkeypatch.setattr(portal_clock, "now", lambda: PeriodMachine.clock[0])
    try:
        run_state_machine_as_test(PeriodMachine, settings=settings(
            max_examples=30, stateful_step_count=25, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        PeriodMachine.databases.close()
