"""Read models of the periods screens: what each screen shows, in Vietnamese, computed from the tables.

The service (service.py) decides and writes; this module only reads. Instants are stored in UTC (SQLite
and PostgreSQL hand them back naive) and shown in Vietnam time (UTC+7 all year).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from portal import audit, clock
from portal.models import (
    LOCK_SCOPES,
    PERIODS,
    YEAR_DEADLINES,
    AuditEvent,
    Grade,
    GradePeriod,
    PeriodLock,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    TeachingAssignment,
    UnlockRequest,
    User,
    YearDeadline,
)
from portal.periods import service
from portal.periods.service import VN

TERM_PERIODS = {"hk1": ("gk1", "ck1"), "hk2": ("gk2", "ck2")}
HOMEROOM = "cn"  # the scope value of a homeroom teacher's own entries (no subject)


def utc(moment: datetime | None) -> datetime | None:
    """The instant as an aware UTC datetime (the databases return naive values of what was stored in UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local(moment: datetime | None) -> str:
    """“25/11/2026 14:30” in Vietnam time."""
    moment = utc(moment)
    return moment.astimezone(VN).strftime("%d/%m/%Y %H:%M") if moment else ""


def local_input(moment: datetime) -> str:
    """The value of a datetime-local input, in Vietnam time."""
    return utc(moment).astimezone(VN).strftime("%Y-%m-%dT%H:%M")


def current_year(session: Session) -> SchoolYear | None:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def year_periods(session: Session, year: SchoolYear) -> dict[str, GradePeriod]:
    """The year's five periods; created with their defaults (in a write transaction of its own) if missing."""
    rows = {p.code: p for p in session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id))}
    have = session.exec(select(YearDeadline.code).where(YearDeadline.school_year_id == year.id)).all()
    if len(rows) < len(PERIODS) or len(have) < len(YEAR_DEADLINES):
        if session.get_bind().get_execution_options().get("portal_write"):
            service.ensure_periods(session, year)
        else:  # a GET: create them in a write transaction of their own, then read again in a new snapshot
            from portal.db import write_session

            year_id = year.id
            with write_session() as writer:
                service.ensure_periods(writer, writer.get(SchoolYear, year_id))
            session.rollback()
            year = session.get(SchoolYear, year_id)
        rows = {p.code: p for p in session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id))}
    return {code: rows[code] for code in PERIODS}


def user_names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all())


# --- The principal's periods screen --------------------------------------------------------------------


@dataclass
class LockView:
    lock: PeriodLock
    label: str  # “Toàn trường”, “Khối 6”, “Lớp 6A1”
    by: str
    at: str


@dataclass
class PeriodView:
    period: GradePeriod
    name: str
    closes: str  # when it locks by itself, Vietnam time
    by_deadline: bool
    locks: list[LockView]
    grants: int  # active grants under this period

    @property
    def school_locked(self) -> bool:
        return any(v.lock.scope == "school" for v in self.locks)

    @property
    def state(self) -> tuple[str, str]:
        """(badge class, text) of the period for the whole school."""
        if self.school_locked:
            return "err", "Hiệu trưởng đã khóa toàn trường"
        if self.by_deadline:
            return "err", "Đã khóa do quá hạn nhập"
        if self.locks:
            return "warn", "Đang mở · khóa riêng: " + ", ".join(v.label for v in self.locks)
        return "ok", "Đang mở"


def lock_label(session: Session, lock: PeriodLock) -> str:
    if lock.scope == "grade":
        return session.get(Grade, lock.grade_id).name
    if lock.scope == "class":
        return f"Lớp {session.get(SchoolClass, lock.class_id).name}"
    return LOCK_SCOPES["school"]


def period_overview(session: Session, year: SchoolYear, now: datetime | None = None) -> list[PeriodView]:
    now = now or clock.now()
    periods = year_periods(session, year)
    ids = [p.id for p in periods.values()]
    locks = session.exec(select(PeriodLock).where(PeriodLock.period_id.in_(ids), PeriodLock.released_at.is_(None))
                         .order_by(PeriodLock.id)).all()
    names = user_names(session, {lock.locked_by for lock in locks})
    grants = session.exec(select(UnlockRequest.period_id).where(
        UnlockRequest.period_id.in_(ids), UnlockRequest.status == "granted", UnlockRequest.starts_at <= now,
        UnlockRequest.ends_at > now)).all()
    views = []
    for code, period in periods.items():
        mine = [LockView(lock, lock_label(session, lock), names.get(lock.locked_by, ""), local(lock.locked_at))
                for lock in locks if lock.period_id == period.id]
        mine.sort(key=lambda v: ("school", "grade", "class").index(v.lock.scope))
        views.append(PeriodView(period=period, name=PERIODS[code], closes=local(service.closes_at(period)),
                                by_deadline=service.deadline_passed(period, now), locks=mine,
                                grants=sum(1 for p in grants if p == period.id)))
    return views


def lock_targets(session: Session, year: SchoolYear) -> list[tuple[str, list[tuple[str, str]]]]:
    """The choices of the lock form, grouped: the school, each grade of the year, each class."""
    classes = session.exec(
        select(SchoolClass, Grade).join(Grade, Grade.id == SchoolClass.grade_id)
        .where(SchoolClass.school_year_id == year.id).order_by(Grade.number, SchoolClass.name)).all()
    grades = {}
    for _klass, grade in classes:
        grades[grade.id] = grade
    return [
        ("Toàn trường", [("school", "Toàn trường")]),
        ("Theo khối", [(f"grade-{g.id}", g.name) for g in grades.values()]),
        ("Theo lớp", [(f"class-{c.id}", f"Lớp {c.name}") for c, _ in classes]),
    ]


def year_deadlines(session: Session, year: SchoolYear) -> list[tuple[YearDeadline, str]]:
    year_periods(session, year)
    rows = {d.code: d for d in session.exec(select(YearDeadline).where(YearDeadline.school_year_id == year.id))}
    return [(rows[code], label) for code, label in YEAR_DEADLINES.items() if code in rows]


# --- Unlock requests -------------------------------------------------------------------------------------


@dataclass
class RequestView:
    row: UnlockRequest
    scope: str
    requester: str
    requested: str
    decider: str = ""
    decided: str = ""
    active: bool = False  # a grant in force now

    @property
    def status(self) -> tuple[str, str]:
        """(badge class, text): “Chờ quyết định”, “Đã cho mở đến …”, “Hết hạn mở khóa …”, “Từ chối”."""
        row = self.row
        if row.status == "pending":
            return "warn", "Chờ quyết định"
        if row.status == "refused":
            return "err", "Từ chối"
        if self.active:
            return "ok", f"Đã cho mở đến {local(row.ends_at)}"
        if utc(row.starts_at) and utc(row.starts_at) > clock.now():
            return "ok", f"Sẽ mở từ {local(row.starts_at)}"
        return "", f"Đã hết hạn mở khóa ({local(row.ends_at)})"


def request_views(session: Session, rows, now: datetime | None = None) -> list[RequestView]:
    now = now or clock.now()
    names = user_names(session, {r.requested_by for r in rows} | {r.decided_by for r in rows})
    return [RequestView(row=r, scope=service.describe_scope(session, r), requester=names.get(r.requested_by, ""),
                        requested=local(r.requested_at), decider=names.get(r.decided_by, ""),
                        decided=local(r.decided_at),
                        active=r.status == "granted" and utc(r.starts_at) <= now < utc(r.ends_at))
            for r in rows]


def inbox(session: Session, *, decided_limit: int = 50) -> tuple[list[RequestView], list[RequestView]]:
    """Pending requests (oldest first, they have waited longest), then the latest decisions."""
    pending = session.exec(select(UnlockRequest).where(UnlockRequest.status == "pending")
                           .order_by(UnlockRequest.requested_at, UnlockRequest.id)).all()
    decided = session.exec(select(UnlockRequest).where(UnlockRequest.status != "pending")
                           .order_by(UnlockRequest.decided_at.desc(), UnlockRequest.id.desc())
                           .limit(decided_limit)).all()
    return request_views(session, pending), request_views(session, decided)


def pending_count(session: Session) -> int:
    from sqlalchemy import func

    return session.exec(select(func.count()).select_from(UnlockRequest)
                        .where(UnlockRequest.status == "pending")).one()


def requests_of(session: Session, user_id: int, *, homeroom: bool | None = None, limit: int = 20,
                since_days: int = 60) -> list[RequestView]:
    """A requester's requests: all pending ones and those decided in the last `since_days` days, newest first.

    homeroom=True: only the homeroom ones (no subject); False: only the subject ones; None: both.
    """
    since = clock.now() - timedelta(days=since_days)
    query = select(UnlockRequest).where(UnlockRequest.requested_by == user_id,
                                        (UnlockRequest.status == "pending") | (UnlockRequest.decided_at >= since))
    if homeroom is True:
        query = query.where(UnlockRequest.subject_id.is_(None))
    elif homeroom is False:
        query = query.where(UnlockRequest.subject_id.is_not(None))
    rows = session.exec(query.order_by(UnlockRequest.requested_at.desc(), UnlockRequest.id.desc()).limit(limit)).all()
    return request_views(session, rows)


def scope_state(session: Session, row: UnlockRequest, now: datetime | None = None) -> tuple[str, str]:
    """(badge class, text): is the request's scope locked now, and why (for the decision screen)."""
    period = session.get(GradePeriod, row.period_id)
    klass = session.get(SchoolClass, row.class_id)
    scope = service.Scope(school_year_id=period.school_year_id, period=period.code, class_id=klass.id,
                          grade_id=klass.grade_id, subject_id=row.subject_id, student_id=row.student_id)
    state = service.lock_state(session, scope, now)
    if not state.locked:
        return "ok", f"Đang mở (hạn nhập {period.deadline.strftime('%d/%m/%Y')}): chưa cần mở khóa"
    why = (f"Hiệu trưởng đã khóa: {lock_label(session, state.by_principal)}" if state.by_principal
           else f"quá hạn nhập {period.deadline.strftime('%d/%m/%Y')}")
    if state.grant is not None:
        return "ok", f"Đã khóa ({why}), đang được mở khóa đến {local(state.grant.ends_at)}"
    return "err", f"Đã khóa ({why})"


# --- The edits made under a grant -------------------------------------------------------------------------

TERM_NAMES = {"hk1": "HK I", "hk2": "HK II", "year": "Cả năm"}
FIELD_NAMES = {"value": "Giá trị", "text": "Nội dung"}


@dataclass
class Change:
    name: str
    before: str
    after: str


@dataclass
class EditView:
    event: AuditEvent
    at: str
    action: str
    what: str  # student · subject · term/slot
    changes: list[Change] = field(default_factory=list)


def _shown(key: str, value) -> str:
    if value is None or value == "":
        return "(trống)"
    if key == "value" and isinstance(value, str):
        from portal.gradebook.rules import display

        return display(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _changes(before: str, after: str) -> list[Change]:
    old = json.loads(before) if before else {}
    new = json.loads(after) if after else {}
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [Change("", _shown("", old or None), _shown("", new or None))]
    keys = [k for k in dict.fromkeys([*old, *new]) if k != "version"]
    return [Change(FIELD_NAMES.get(k, k), _shown(k, old.get(k)), _shown(k, new.get(k))) for k in keys
            if old.get(k) != new.get(k)]


def _where(note: str) -> str:
    """“hk1/tx1” → “HK I · TX1”."""
    if not note:
        return ""
    term, _, rest = note.partition("/")
    return " · ".join(p for p in (TERM_NAMES.get(term, term), rest.upper().replace("_", " ")) if p)


def edits_under(session: Session, request_id: int) -> list[EditView]:
    """Every audited change made under the grant (the decision events themselves excluded), oldest first."""
    events = session.exec(select(AuditEvent).where(AuditEvent.grant_id == request_id,
                                                   AuditEvent.action.not_like("unlock.%"))
                          .order_by(AuditEvent.id)).all()
    students = {s.id: s.full_name for s in session.exec(select(Student).where(
        Student.id.in_({e.student_id for e in events if e.student_id})))} if events else {}
    subjects = {s.id: s.name for s in session.exec(select(Subject).where(
        Subject.id.in_({e.subject_id for e in events if e.subject_id})))} if events else {}
    views = []
    for e in events:
        at = datetime.strptime(e.at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        parts = [students.get(e.student_id, ""), subjects.get(e.subject_id, "") if e.subject_id else "Chủ nhiệm",
                 _where(e.note)]
        views.append(EditView(event=e, at=local(at), action=audit.ACTIONS.get(e.action, e.action),
                              what=" · ".join(p for p in parts if p), changes=_changes(e.before, e.after)))
    return views


# --- The gradebook grid's banner ----------------------------------------------------------------------------


@dataclass
class Banner:
    period: str  # code
    name: str
    locked: bool
    why: str
    grants: list[tuple[str, str]]  # (whom: “cả lớp” or a student's name, until)


def grid_banner(session: Session, *, klass: SchoolClass, subject_id: int, term: str,
                now: datetime | None = None) -> list[Banner]:
    """The term's periods that are locked for (class, subject), with the grants in force under them."""
    now = now or clock.now()
    year_periods(session, session.get(SchoolYear, klass.school_year_id))
    banners = []
    for code in TERM_PERIODS.get(term, ()):
        scope = service.Scope(school_year_id=klass.school_year_id, period=code, class_id=klass.id,
                              grade_id=klass.grade_id, subject_id=subject_id, student_id=None)
        state = service.lock_state(session, scope, now)
        if not state.locked:
            continue
        why = ("Hiệu trưởng đã khóa kì này" if state.by_principal
               else f"đã quá hạn nhập {state.period.deadline.strftime('%d/%m/%Y')}")
        rows = session.exec(select(UnlockRequest).where(
            UnlockRequest.period_id == state.period.id, UnlockRequest.class_id == klass.id,
            UnlockRequest.subject_id == subject_id, UnlockRequest.status == "granted",
            UnlockRequest.starts_at <= now, UnlockRequest.ends_at > now).order_by(UnlockRequest.ends_at)).all()
        grants = [(session.get(Student, r.student_id).full_name if r.student_id else "cả lớp", local(r.ends_at))
                  for r in rows]
        banners.append(Banner(period=code, name=PERIODS[code], locked=True, why=why, grants=grants))
    return banners


# --- The request form ------------------------------------------------------------------------------------------


def requester_scopes(session: Session, actor, year: SchoolYear | None) -> list[tuple[str, str]]:
    """(value, label) of what the actor may ask to unlock: their (class, subject) pairs, their homeroom classes."""
    if year is None:
        return []
    options = []
    pairs = session.exec(
        select(SchoolClass, Subject).join(TeachingAssignment, TeachingAssignment.class_id == SchoolClass.id)
        .join(Subject, Subject.id == TeachingAssignment.subject_id)
        .where(TeachingAssignment.teacher_id == actor.id, SchoolClass.school_year_id == year.id)
        .order_by(SchoolClass.name, Subject.position)).all()
    options += [(f"{c.id}-{s.id}", f"{s.name} · lớp {c.name}") for c, s in pairs]
    homerooms = session.exec(select(SchoolClass).where(SchoolClass.homeroom_teacher_id == actor.id,
                                                       SchoolClass.school_year_id == year.id)
                             .order_by(SchoolClass.name)).all()
    options += [(f"{c.id}-{HOMEROOM}", f"Chủ nhiệm lớp {c.name} (rèn luyện, chuyên cần, nhận xét)") for c in homerooms]
    return options


def parse_scope(value: str) -> tuple[int, int | None] | None:
    """“12-34” → (12, 34); “12-cn” → (12, None) (homeroom entries); anything else → None."""
    klass, _, subject = (value or "").partition("-")
    if not klass.isdigit() or not (subject.isdigit() or subject == HOMEROOM):
        return None
    return int(klass), (int(subject) if subject.isdigit() else None)


def class_students(session: Session, class_id: int) -> list[tuple[int, str]]:
    from portal.gradebook.service import class_roster

    return [(s.id, f"{e.number}. {s.full_name}" if e.number else s.full_name)
            for e, s in class_roster(session, class_id)]


def today_local() -> date:
    return clock.now().astimezone(VN).date()
