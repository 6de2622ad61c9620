"""Grade periods: which period a write belongs to, whether it is locked, locks, unlock requests and grants.

A period is locked for a scope when the principal locked it (for the school, the scope's grade or its
class) OR its entry deadline has passed (the day after the deadline, Vietnam time) — unless an active
unlock grant covers the scope. It is computed at write time (`require_open`), so no scheduler is needed and
a stopped worker never leaves a period open. A grant covers (period, class, subject — or the homeroom
entries when it names no subject — and, when it names one, a single student) from its start to its end.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import or_
from sqlmodel import Session, select

from portal import audit, clock
from portal.errors import DomainError, Forbidden, NotFound
from portal.models import (
    PERIODS,
    YEAR_DEADLINES,
    Grade,
    GradePeriod,
    PeriodLock,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    UnlockRequest,
    YearDeadline,
)

VN = timezone(timedelta(hours=7), "ICT")  # Vietnam has no daylight saving time
GRANT_DEFAULT = timedelta(hours=48)
GRANT_MAX = timedelta(days=7)
SCAN_MAX_BYTES = 10 * 1024 * 1024
SCAN_TYPES = {  # magic bytes → (MIME type, extension)
    b"%PDF-": ("application/pdf", "pdf"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
}


class PeriodLocked(DomainError):
    """A write in a locked scope without an active grant."""

    status = 423


class DecisionRefused(DomainError):
    """A lock, request or decision that cannot be recorded as given (bad or missing fields)."""

    status = 422


# --- Which period, which deadlines ----------------------------------------------------------------------


def period_for(term: str, slot: str | None = None) -> str:
    """The period code of a write: mid-term cells → gk1/gk2; the rest of a term → ck1/ck2; year data → cn."""
    if term == "year":
        return "cn"
    number = {"hk1": "1", "hk2": "2"}[term]
    if slot is not None and (slot == "gk" or slot.startswith("gk_")):
        return "gk" + number
    return "ck" + number


def default_period_deadlines(year: SchoolYear) -> dict[str, date]:
    """Defaults for a school year Y–Y+1: mid-term I 15/11, end of term I 15/1, mid-term II 31/3, end of term
    II and the whole year 20/5 (seed 002 §III.1: data entry complete by 20/5)."""
    first, second = year.start_date.year, year.end_date.year
    return {"gk1": date(first, 11, 15), "ck1": date(second, 1, 15), "gk2": date(second, 3, 31),
            "ck2": date(second, 5, 20), "cn": date(second, 5, 20)}


def default_year_deadlines(year: SchoolYear) -> dict[str, date]:
    """Seed 002 §III.1: signing by 31/5 (the last grade of the level by 21/5), sending by 20/8."""
    second = year.end_date.year
    return {"signing": date(second, 5, 31), "signing_final": date(second, 5, 21), "sending": date(second, 8, 20)}


def ensure_periods(session: Session, year: SchoolYear) -> dict[str, GradePeriod]:
    """The year's five periods (and its other deadlines), created with the defaults when missing."""
    periods = {p.code: p for p in session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id))}
    defaults = default_period_deadlines(year)
    for code in PERIODS:
        if code not in periods:
            periods[code] = GradePeriod(school_year_id=year.id, code=code, deadline=defaults[code])
            session.add(periods[code])
    have = set(session.exec(select(YearDeadline.code).where(YearDeadline.school_year_id == year.id)))
    for code, due in default_year_deadlines(year).items():
        if code not in have and code in YEAR_DEADLINES:
            session.add(YearDeadline(school_year_id=year.id, code=code, due=due))
    session.flush()
    return {code: periods[code] for code in PERIODS}


def deadline_passed(period: GradePeriod, now: datetime | None = None) -> bool:
    """True from midnight (Vietnam time) after the deadline day."""
    now = (now or clock.now()).astimezone(VN)
    return now >= datetime.combine(period.deadline + timedelta(days=1), time(0), tzinfo=VN)


def closes_at(period: GradePeriod) -> datetime:
    return datetime.combine(period.deadline + timedelta(days=1), time(0), tzinfo=VN).astimezone(UTC)


# --- Lock state -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a write touches: used to decide whether it may land."""

    school_year_id: int
    period: str
    class_id: int
    grade_id: int
    subject_id: int | None  # None: a homeroom entry
    student_id: int | None


@dataclass
class LockState:
    period: GradePeriod
    locked: bool  # locked before any grant is considered
    by_principal: PeriodLock | None
    by_deadline: bool
    grant: UnlockRequest | None

    @property
    def writable(self) -> bool:
        return not self.locked or self.grant is not None


def scope_for(klass: SchoolClass, *, term: str, slot: str | None, subject_id: int | None,
              student_id: int | None) -> Scope:
    return Scope(school_year_id=klass.school_year_id, period=period_for(term, slot), class_id=klass.id,
                 grade_id=klass.grade_id, subject_id=subject_id, student_id=student_id)


def active_locks(session: Session, period_id: int, *, class_id: int, grade_id: int) -> list[PeriodLock]:
    return list(session.exec(select(PeriodLock).where(
        PeriodLock.period_id == period_id, PeriodLock.released_at.is_(None),
        or_(PeriodLock.scope == "school",
            (PeriodLock.scope == "grade") & (PeriodLock.grade_id == grade_id),
            (PeriodLock.scope == "class") & (PeriodLock.class_id == class_id)))
        .order_by(PeriodLock.id)))


def active_grant(session: Session, scope: Scope, period_id: int, now: datetime) -> UnlockRequest | None:
    subject = (UnlockRequest.subject_id.is_(None) if scope.subject_id is None
               else UnlockRequest.subject_id == scope.subject_id)
    student = UnlockRequest.student_id.is_(None)
    if scope.student_id is not None:
        student = or_(student, UnlockRequest.student_id == scope.student_id)
    return session.exec(select(UnlockRequest).where(
        UnlockRequest.period_id == period_id, UnlockRequest.class_id == scope.class_id, subject, student,
        UnlockRequest.status == "granted", UnlockRequest.starts_at <= now, UnlockRequest.ends_at > now)
        .order_by(UnlockRequest.ends_at.desc())).first()


def lock_state(session: Session, scope: Scope, now: datetime | None = None) -> LockState:
    now = now or clock.now()
    period = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == scope.school_year_id,
                                                    GradePeriod.code == scope.period)).first()
    if period is None:  # a year created before its periods: create them with the defaults
        period = ensure_periods(session, session.get(SchoolYear, scope.school_year_id))[scope.period]
    locks = active_locks(session, period.id, class_id=scope.class_id, grade_id=scope.grade_id)
    by_deadline = deadline_passed(period, now)
    locked = bool(locks) or by_deadline
    grant = active_grant(session, scope, period.id, now) if locked else None
    return LockState(period=period, locked=locked, by_principal=locks[0] if locks else None,
                     by_deadline=by_deadline, grant=grant)


def require_open(session: Session, scope: Scope, now: datetime | None = None) -> int | None:
    """Refuse a write in a locked scope; return the id of the grant it is made under (None when open)."""
    state = lock_state(session, scope, now)
    if state.writable:
        return state.grant.id if state.grant else None
    name = PERIODS[scope.period]
    why = ("Hiệu trưởng đã khóa kì này" if state.by_principal
           else f"đã quá hạn nhập ({state.period.deadline.strftime('%d/%m/%Y')})")
    raise PeriodLocked(f"Kì “{name}” đã khóa ({why}). Dữ liệu chưa được lưu. Muốn sửa, hãy gửi đề nghị mở "
                       "khóa (mục “Đề nghị mở khóa” trên trang chủ) để Hiệu trưởng xem xét theo biên bản.")


# --- Principal: lock and unlock ---------------------------------------------------------------------------


def lock(session: Session, *, actor, period_id: int, scope: str, grade_id: int | None = None,
         class_id: int | None = None) -> PeriodLock:
    period = session.get(GradePeriod, period_id)
    if period is None:
        raise NotFound("Không tìm thấy kì đánh giá.")
    if scope not in ("school", "grade", "class"):
        raise DecisionRefused("Phạm vi khóa không hợp lệ.")
    grade_id = grade_id if scope == "grade" else None
    class_id = class_id if scope == "class" else None
    if scope == "grade" and grade_id is None or scope == "class" and class_id is None:
        raise DecisionRefused("Hãy chọn khối hoặc lớp cần khóa.")
    if grade_id is not None and session.get(Grade, grade_id) is None:
        raise DecisionRefused("Không tìm thấy khối này.")  # else the lock's foreign key fails (500)
    if class_id is not None:
        klass = session.get(SchoolClass, class_id)
        if klass is None or klass.school_year_id != period.school_year_id:
            raise DecisionRefused("Lớp không thuộc năm học của kì này.")
    existing = session.exec(select(PeriodLock).where(
        PeriodLock.period_id == period_id, PeriodLock.scope == scope, PeriodLock.grade_id == grade_id,
        PeriodLock.class_id == class_id, PeriodLock.released_at.is_(None))).first()
    if existing is not None:
        return existing
    row = PeriodLock(period_id=period_id, scope=scope, grade_id=grade_id, class_id=class_id, locked_by=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, "period.locked", object_type="period_lock", object_id=row.id,
                 school_year_id=period.school_year_id, class_id=class_id, period=period.code,
                 after={"period": period.code, "scope": scope, "grade_id": grade_id, "class_id": class_id})
    return row


def release_lock(session: Session, *, actor, lock_id: int) -> PeriodLock:
    row = session.get(PeriodLock, lock_id)
    if row is None:
        raise NotFound("Không tìm thấy lệnh khóa.")
    if row.released_at is None:
        period = session.get(GradePeriod, row.period_id)
        row.released_at, row.released_by = clock.now(), actor.id
        session.add(row)
        session.flush()
        audit.record(session, "period.unlocked", object_type="period_lock", object_id=row.id,
                     school_year_id=period.school_year_id, class_id=row.class_id, period=period.code,
                     before={"scope": row.scope, "grade_id": row.grade_id, "class_id": row.class_id,
                             "locked": True},
                     after={"locked": False})
    return row


def _move_date(session: Session, row, field: str, new: date, action: str, **event) -> None:
    """Set a deadline-like date on a row and record the change (nothing when it is unchanged)."""
    before = getattr(row, field)
    if before != new:
        setattr(row, field, new)
        session.add(row)
        session.flush()
        audit.record(session, action, object_type=row.__tablename__.rstrip("s"), object_id=row.id,
                     school_year_id=row.school_year_id, before={field: before.isoformat()},
                     after={field: new.isoformat()}, **event)


def set_deadline(session: Session, *, actor, period_id: int, deadline: date) -> GradePeriod:
    period = session.get(GradePeriod, period_id)
    if period is None:
        raise NotFound("Không tìm thấy kì đánh giá.")
    _move_date(session, period, "deadline", deadline, "period.deadline_changed", period=period.code)
    return period


def set_year_deadline(session: Session, *, actor, deadline_id: int, due: date) -> YearDeadline:
    row = session.get(YearDeadline, deadline_id)
    if row is None:
        raise NotFound("Không tìm thấy hạn này.")
    _move_date(session, row, "due", due, "deadline.changed", note=row.code)
    return row


# --- Unlock requests ----------------------------------------------------------------------------------------


def request_unlock(session: Session, *, actor, period_id: int, class_id: int, subject_id: int | None,
                   student_id: int | None, reason: str) -> UnlockRequest:
    """A teacher's (or homeroom teacher's) request to write in a locked scope."""
    period = session.get(GradePeriod, period_id)
    klass = session.get(SchoolClass, class_id)
    if period is None or klass is None or klass.school_year_id != period.school_year_id:
        raise NotFound("Không tìm thấy kì hoặc lớp này.")
    if subject_id is None:
        if class_id not in actor.homeroom_class_ids:
            raise Forbidden(f"Bạn không phải giáo viên chủ nhiệm lớp {klass.name}.")
    else:
        subject = session.get(Subject, subject_id)
        if subject is None or subject.grade_id != klass.grade_id:
            raise NotFound("Không tìm thấy môn học này.")
        if (class_id, subject_id) not in actor.teaching_pairs:
            raise Forbidden(f"Bạn không dạy môn {subject.name} lớp {klass.name}.")
    if student_id is not None:
        from portal.gradebook.service import require_enrolled

        require_enrolled(session, student_id=student_id, class_id=class_id)
    reason = " ".join((reason or "").split())
    if len(reason) < 10:
        raise DecisionRefused("Hãy ghi rõ lý do đề nghị mở khóa (ít nhất 10 ký tự).")
    if len(reason) > 1000:
        raise DecisionRefused("Lý do dài quá 1000 ký tự.")
    row = UnlockRequest(period_id=period_id, class_id=class_id, subject_id=subject_id, student_id=student_id,
                        reason=reason, requested_by=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, "unlock.requested", object_type="unlock_request", object_id=row.id,
                 school_year_id=period.school_year_id, class_id=class_id, subject_id=subject_id,
                 student_id=student_id, period=period.code, after={"reason": reason})
    return row


@dataclass
class Scan:
    data: bytes
    filename: str


def check_scan(scan: Scan) -> tuple[str, str]:
    """The scan's MIME type and extension from its magic bytes; refuse anything else or anything too big."""
    if len(scan.data) > SCAN_MAX_BYTES:
        raise DecisionRefused("Tệp biên bản quá lớn (tối đa 10 MB).")
    for magic, kind in SCAN_TYPES.items():
        if scan.data.startswith(magic):
            return kind
    raise DecisionRefused("Tệp biên bản phải là PDF, JPEG hoặc PNG (nội dung tệp không đúng định dạng).")


def _pending(session: Session, request_id: int) -> UnlockRequest:
    row = session.get(UnlockRequest, request_id)
    if row is None:
        raise NotFound("Không tìm thấy đề nghị mở khóa.")
    if row.status != "pending":
        raise DecisionRefused("Đề nghị này đã được quyết định.")
    return row


def grant(session: Session, *, actor, request_id: int, minutes_number: str, minutes_date: date | None,
          approver: str, ends_at: datetime | None = None, scan: Scan | None = None, instance_path: str | None = None,
          now: datetime | None = None) -> UnlockRequest:
    """Grant an unlock, recording the written approval (minutes number, date, approver, optional scan)."""
    now = now or clock.now()
    row = _pending(session, request_id)
    minutes_number = " ".join((minutes_number or "").split())
    approver = " ".join((approver or "").split())
    problems = []
    if not minutes_number:
        problems.append("số biên bản")
    if minutes_date is None:
        problems.append("ngày biên bản")
    if not approver:
        problems.append("người phê duyệt")
    if problems:
        raise DecisionRefused("Chỉ cho mở khóa khi có biên bản: hãy nhập " + ", ".join(problems) + ".")
    if minutes_date > now.astimezone(VN).date():
        raise DecisionRefused("Ngày biên bản không được sau hôm nay.")
    if len(minutes_number) > 50 or len(approver) > 150:
        raise DecisionRefused("Số biên bản (tối đa 50 ký tự) hoặc tên người phê duyệt (tối đa 150 ký tự) quá dài.")
    ends_at = ends_at or now + GRANT_DEFAULT
    if ends_at <= now:
        raise DecisionRefused("Thời điểm hết hạn mở khóa phải sau bây giờ.")
    if ends_at - now > GRANT_MAX:
        raise DecisionRefused("Mở khóa tối đa 7 ngày.")
    if scan is not None:
        mime, ext = check_scan(scan)
        digest = hashlib.sha256(scan.data).hexdigest()
        relative = os.path.join("approvals", f"{row.id}-{digest[:16]}.{ext}")
        path = os.path.join(instance_path, relative)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(scan.data)
        os.replace(path + ".tmp", path)
        row.scan_path, row.scan_sha256, row.scan_mime = relative, digest, mime
        row.scan_name = os.path.basename(scan.filename or "")[:200] or f"bien-ban.{ext}"
    row.status, row.decided_by, row.decided_at = "granted", actor.id, now
    row.minutes_number, row.minutes_date, row.approver = minutes_number, minutes_date, approver
    row.starts_at, row.ends_at = now, ends_at
    session.add(row)
    session.flush()
    period = session.get(GradePeriod, row.period_id)
    audit.record(session, "unlock.granted", object_type="unlock_request", object_id=row.id,
                 school_year_id=period.school_year_id, class_id=row.class_id, subject_id=row.subject_id,
                 student_id=row.student_id, period=period.code, grant_id=row.id,
                 after={"minutes_number": minutes_number, "minutes_date": minutes_date.isoformat(),
                        "approver": approver, "starts_at": audit.now_text(now), "ends_at": audit.now_text(ends_at),
                        "scan_sha256": row.scan_sha256})
    return row


def refuse(session: Session, *, actor, request_id: int, reason: str, now: datetime | None = None) -> UnlockRequest:
    row = _pending(session, request_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DecisionRefused("Hãy ghi lý do từ chối.")
    if len(reason) > 1000:
        raise DecisionRefused("Lý do dài quá 1000 ký tự.")
    row.status, row.decided_by, row.decided_at, row.refusal_reason = "refused", actor.id, now or clock.now(), reason
    session.add(row)
    session.flush()
    period = session.get(GradePeriod, row.period_id)
    audit.record(session, "unlock.refused", object_type="unlock_request", object_id=row.id,
                 school_year_id=period.school_year_id, class_id=row.class_id, subject_id=row.subject_id,
                 student_id=row.student_id, period=period.code, after={"reason": reason})
    return row


def describe_scope(session: Session, row: UnlockRequest) -> str:
    """“Cuối học kì I · lớp 6A1 · Toán · Nguyễn Hữu An” for screens and messages."""
    period = session.get(GradePeriod, row.period_id)
    parts = [PERIODS[period.code], f"lớp {session.get(SchoolClass, row.class_id).name}"]
    parts.append(session.get(Subject, row.subject_id).name if row.subject_id else "mục chủ nhiệm")
    if row.student_id:
        parts.append(session.get(Student, row.student_id).full_name)
    return " · ".join(parts)
