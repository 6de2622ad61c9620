"""Parents: claim codes the school hands out, the claim that links an account to a child, and the
principal's publication of a class's term results to parents.

A claim code is shown once, when it is made; the database keeps only its SHA-256, its student, the relation
it gives (mother, father, guardian), who made it and until when it is valid. Claiming links the parent's
account (through their Guardian row, made on the first claim) to the student and marks the code used, in
one transaction with the audit event; a wrong, used or expired code is an audited failure, and too many
failures for one account or from one address within the window refuse further attempts (HTTP 429). A parent
without an account may create one with the code (`register_with_code`: username = phone number); the code is
the only authority either way, so the same checks and the same throttle apply.

Results are computed from the gradebook whenever a parent opens them (portal/parents/read.py); what a
publication decides is only whether a class's term (hk1, hk2 or the whole year) may be shown. The principal
publishes a term once its period is locked (the end of term I, of term II, or the whole year), and may
withdraw the publication. Every write here is audited in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from flask import current_app
from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from portal import audit, clock
from portal.auth import passwords
from portal.authz import Actor
from portal.errors import DomainError, Forbidden, NotFound
from portal.models import (
    GUARDIAN_RELATIONS,
    AuditEvent,
    Enrollment,
    Guardian,
    ParentClaimCode,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentGuardian,
    TermPublication,
    User,
    UserRole,
)
from portal.parents import rules
from portal.periods import service as periods
from portal.periods.read import local, utc

PUBLISH_TERMS = {"hk1": "Học kì I", "hk2": "Học kì II", "year": "Cả năm"}
# The period whose lock closes each term's data.
TERM_PERIODS = {"hk1": "ck1", "hk2": "ck2", "year": "cn"}
CLAIM_FAILED = "parent.claim_failed"


class ClaimRefused(DomainError):
    """A code that links nothing (wrong, used, expired); the message is shown next to the form."""

    status = 422


class ClaimThrottled(DomainError):
    status = 429


class PublishRefused(DomainError):
    status = 409


def _lifetime():
    return current_app.config["PARENT_CODE_LIFETIME"]


def local_day(moment: datetime | None) -> str:
    """“25/11/2026” in Vietnam time."""
    moment = utc(moment)
    return moment.astimezone(periods.VN).strftime("%d/%m/%Y") if moment else ""


# --- Claim codes ----------------------------------------------------------------------------------------------


@dataclass
class IssuedCode:
    """A code just made: the only moment its clear text exists, to be printed on the slip."""

    row: ParentClaimCode
    code: str  # printed form, ABCD-EFGH-JKLM
    student: Student
    klass: SchoolClass | None
    year: SchoolYear | None
    school: School | None

    @property
    def relation_label(self) -> str:
        return GUARDIAN_RELATIONS.get(self.row.relation, self.row.relation)

    @property
    def expires(self) -> str:
        return local(self.row.expires_at)

    @property
    def issued(self) -> str:
        return local(self.row.created_at)


def current_class(session: Session, student_id: int) -> tuple[SchoolClass, SchoolYear] | None:
    """The student's class of the current school year (the one they are still in, if they moved)."""
    return session.exec(
        select(SchoolClass, SchoolYear).join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .where(Enrollment.student_id == student_id, SchoolYear.is_current)
        .order_by(Enrollment.left_on.is_not(None), Enrollment.id.desc())).first()


def issue_code(*, session: Session, actor: Actor, student_id: int, relation: str) -> IssuedCode:
    """Make a one-time claim code for a student; store its hash only, audit it, return the clear code."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    if relation not in GUARDIAN_RELATIONS:
        raise DomainError("Chọn quan hệ của người nhận mã với học sinh (cha, mẹ hoặc người giám hộ).")
    code = rules.new_code()
    now = clock.now()
    row = ParentClaimCode(student_id=student.id, code_sha256=rules.code_digest(code), relation=relation,
                          created_by=actor.id, created_at=now, expires_at=now + _lifetime())
    session.add(row)
    session.flush()
    placed = current_class(session, student.id)
    audit.record(session, "parent.code_issued", actor_id=actor.id, actor_name=actor.user.full_name,
                 object_type="parent_claim_code", object_id=row.id, student_id=student.id,
                 class_id=placed[0].id if placed else None, school_year_id=placed[1].id if placed else None,
                 note=f"Mã liên kết phụ huynh ({GUARDIAN_RELATIONS[relation].lower()}) của {student.full_name}, "
                      f"hết hạn {local_day(row.expires_at)}")
    return IssuedCode(row, rules.format_code(code), student, placed[0] if placed else None,
                      placed[1] if placed else None, session.exec(select(School)).first())


@dataclass
class CodeView:
    """A code already made, as the staff's list shows it (never its clear text)."""

    row: ParentClaimCode
    created_by: str
    used_by: str

    @property
    def relation_label(self) -> str:
        return GUARDIAN_RELATIONS.get(self.row.relation, self.row.relation)

    @property
    def state(self) -> str:
        if self.row.used_at is not None:
            return "used"
        return "expired" if utc(self.row.expires_at) <= clock.now() else "valid"

    @property
    def state_label(self) -> str:
        return {"used": f"Đã dùng {local_day(self.row.used_at)} ({self.used_by})", "expired": "Đã hết hạn",
                "valid": f"Còn hiệu lực đến {local_day(self.row.expires_at)}"}[self.state]


def codes_of(session: Session, student_id: int) -> list[CodeView]:
    """The student's claim codes, newest first."""
    rows = session.exec(select(ParentClaimCode).where(ParentClaimCode.student_id == student_id)
                        .order_by(ParentClaimCode.created_at.desc(), ParentClaimCode.id.desc())).all()
    ids = {r.created_by for r in rows} | {r.used_by for r in rows if r.used_by}
    names = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
    return [CodeView(r, names.get(r.created_by, ""), names.get(r.used_by, "") if r.used_by else "") for r in rows]


def check_claim_throttle(session: Session, *, user_id: int | None, ip: str, now: datetime | None = None) -> None:
    """Refuse when the account (if any) or the address has too many failed claims within the window."""
    cfg = current_app.config
    since = audit.now_text((now or clock.now()) - cfg["PARENT_CLAIM_WINDOW"])
    who = AuditEvent.ip == (ip or "")[:64]
    if user_id is not None:
        who = or_(AuditEvent.actor_id == user_id, who)
    failures = session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == CLAIM_FAILED, AuditEvent.at >= since, who)).one()
    if failures >= cfg["PARENT_CLAIM_MAX_FAILURES"]:
        minutes = int(cfg["PARENT_CLAIM_WINDOW"].total_seconds() // 60)
        raise ClaimThrottled(f"Bạn đã nhập sai mã quá nhiều lần. Vì an toàn, vui lòng thử lại sau {minutes} phút "
                             "hoặc liên hệ nhà trường.")


def _refuse(session: Session, *, user: User | None, ip: str, message: str, note: str, **fields) -> NoReturn:
    """Record the failed claim (it counts towards the throttle), commit that alone and refuse."""
    session.rollback()
    who = {"actor_id": user.id, "actor_name": user.full_name, "object_id": user.id} if user else {}
    audit.record(session, CLAIM_FAILED, ip=(ip or "")[:64], object_type="user", note=note, **who, **fields)
    session.commit()
    raise ClaimRefused(message)


def _find_code(session: Session, code: str, *, user: User | None, ip: str) -> ParentClaimCode:
    """The row of a typed code; refuse (audited) a malformed or unknown one."""
    normalized = rules.normalize_code(code)
    if normalized is None:
        hint = (" Mã không dùng chữ O, chữ I và các chữ số 0, 1." if rules.lookalike_hint(code) else "")
        _refuse(session, user=user, ip=ip, note="mã sai định dạng",
                message=f"Mã liên kết gồm {rules.CODE_LENGTH} chữ cái và chữ số, in trên phiếu nhà trường phát "
                        f"(ví dụ ABCD-EFGH-JKLM).{hint}")
    row = session.exec(select(ParentClaimCode).where(
        ParentClaimCode.code_sha256 == rules.code_digest(normalized))).first()
    if row is None:
        _refuse(session, user=user, ip=ip, note="mã không tồn tại",
                message="Mã liên kết không đúng. Vui lòng kiểm tra lại mã trên phiếu nhà trường phát.")
    return row


def _check_usable(session: Session, row: ParentClaimCode, *, user: User | None, ip: str) -> None:
    """Refuse (audited) a code already used or expired."""
    if row.used_at is not None:
        _refuse(session, user=user, ip=ip, note=f"mã đã dùng (mã số {row.id})", student_id=row.student_id,
                message="Mã liên kết này đã được sử dụng. Mỗi mã chỉ dùng được một lần: đề nghị nhà trường cấp mã "
                        "mới nếu cần.")
    if utc(row.expires_at) <= clock.now():
        _refuse(session, user=user, ip=ip, note=f"mã hết hạn (mã số {row.id})", student_id=row.student_id,
                message=f"Mã liên kết này đã hết hạn ngày {local_day(row.expires_at)}. Đề nghị nhà trường cấp mã mới.")


def _use_and_link(session: Session, row: ParentClaimCode, *, user: User, ip: str) -> Student:
    """Use the code up (once, even against a concurrent claim) and link the user's guardian row to its student."""
    used = session.execute(update(ParentClaimCode).where(
        ParentClaimCode.id == row.id, ParentClaimCode.used_at.is_(None)).values(used_by=user.id, used_at=clock.now()))
    if used.rowcount != 1:  # used by someone else between our read and our write
        _refuse(session, user=user, ip=ip, note=f"mã đã dùng (mã số {row.id})", student_id=row.student_id,
                message="Mã liên kết này đã được sử dụng.")
    student = session.get(Student, row.student_id)
    guardian = session.exec(select(Guardian).where(Guardian.user_id == user.id)).first()
    if guardian is None:  # the account's first child: the guardian is the account's holder, in the code's relation
        guardian = Guardian(full_name=user.full_name, relation=row.relation, phone=user.phone, user_id=user.id)
        session.add(guardian)
        session.flush()
    session.add(StudentGuardian(student_id=student.id, guardian_id=guardian.id))
    session.flush()
    placed = current_class(session, student.id)
    audit.record(session, "parent.claimed", actor_id=user.id, actor_name=user.full_name, object_type="guardian",
                 object_id=guardian.id, student_id=student.id, class_id=placed[0].id if placed else None,
                 school_year_id=placed[1].id if placed else None,
                 after={"guardian_id": guardian.id, "student_id": student.id, "code_id": row.id},
                 note=f"{user.full_name} liên kết với học sinh {student.full_name} bằng mã số {row.id} "
                      f"({GUARDIAN_RELATIONS.get(row.relation, row.relation).lower()})")
    return student


def claim_child(*, session: Session, actor: Actor, code: str, ip: str) -> Student:
    """Link the parent's account to the student of a valid code, and use the code up; commit a failure."""
    check_claim_throttle(session, user_id=actor.id, ip=ip)
    row = _find_code(session, code, user=actor.user, ip=ip)
    guardian = session.exec(select(Guardian).where(Guardian.user_id == actor.id)).first()
    if guardian is not None and session.get(StudentGuardian, (row.student_id, guardian.id)) is not None:
        # Not a guess: the code is real and already of no use to this account. Leave it for the other parent.
        name = session.get(Student, row.student_id).full_name
        raise ClaimRefused(f"Tài khoản của bạn đã được liên kết với học sinh {name}.")
    _check_usable(session, row, user=actor.user, ip=ip)
    return _use_and_link(session, row, user=actor.user, ip=ip)


class RegistrationRefused(DomainError):
    """The account fields of a registration with a valid code; `errors` maps each field to its message."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def register_with_code(*, session: Session, code: str, full_name: str, phone: str, password: str, confirm: str,
                       ip: str) -> User:
    """Create a parent account (username: the phone number) for the holder of a valid code and link the child.

    The code is checked first (a wrong one counts towards the throttle); a refused account field leaves the code
    unused. The new account signs in like any other.
    """
    check_claim_throttle(session, user_id=None, ip=ip)
    row = _find_code(session, code, user=None, ip=ip)
    _check_usable(session, row, user=None, ip=ip)
    errors: dict[str, str] = {}
    full_name = " ".join((full_name or "").split())
    if not full_name:
        errors["full_name"] = "Nhập họ và tên của phụ huynh."
    elif len(full_name) > 150:
        errors["full_name"] = "Họ và tên dài quá 150 ký tự."
    number = re.sub(r"[\s.\-]", "", phone or "")
    username = number.removeprefix("+")
    if not re.fullmatch(r"\+?\d{8,15}", number):
        errors["phone"] = "Số điện thoại gồm 8–15 chữ số, có thể bắt đầu bằng dấu +."
    elif session.exec(select(User.id).where(User.username == username)).first() is not None:
        errors["phone"] = ("Số điện thoại này đã có tài khoản: hãy đăng nhập rồi chọn “Liên kết con bằng mã”, "
                           "hoặc liên hệ nhà trường nếu quên mật khẩu.")
    if password != confirm:
        errors["confirm"] = "Mật khẩu và mật khẩu nhập lại không khớp."
    problems = passwords.password_problems(password or "", username=username,
                                           min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    if problems:
        errors["password"] = " ".join(problems)
    if errors:
        raise RegistrationRefused(errors)
    now = clock.now()
    user = User(username=username, full_name=full_name, phone=number, password_hash=passwords.hash_password(password),
                password_changed_at=now, created_at=now)
    session.add(user)
    session.flush()
    session.add(UserRole(user_id=user.id, role="parent"))
    audit.record(session, "parent.registered", actor_id=user.id, actor_name=full_name, ip=(ip or "")[:64],
                 object_type="user", object_id=user.id, student_id=row.student_id,
                 note=f"Tạo tài khoản phụ huynh {username} bằng mã liên kết số {row.id}")
    _use_and_link(session, row, user=user, ip=ip)
    return user


# --- Publication of term results ------------------------------------------------------------------------------


def require_term(term: str) -> str:
    if term not in PUBLISH_TERMS:
        raise NotFound("Học kì không hợp lệ.")
    return term


def _class(session: Session, class_id: int) -> SchoolClass:
    klass = session.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    return klass


def publication(session: Session, class_id: int, term: str) -> TermPublication | None:
    return session.exec(select(TermPublication).where(TermPublication.class_id == class_id,
                                                      TermPublication.term == term)).first()


def published_terms(session: Session, class_id: int) -> list[str]:
    """The class's published terms, in the order hk1, hk2, year."""
    found = set(session.exec(select(TermPublication.term).where(TermPublication.class_id == class_id)))
    return [t for t in PUBLISH_TERMS if t in found]


def publish_problem(session: Session, klass: SchoolClass, term: str, now: datetime | None = None) -> str:
    """Why the term may not be published yet ("" when it may): its period must be locked for the class."""
    scope = periods.Scope(school_year_id=klass.school_year_id, period=TERM_PERIODS[term], class_id=klass.id,
                          grade_id=klass.grade_id, subject_id=None, student_id=None)
    if periods.lock_state(session, scope, now).locked:
        return ""
    name = periods.PERIODS[TERM_PERIODS[term]]
    return (f"Kì “{name}” của lớp {klass.name} chưa khóa: khóa kì này trước khi công bố, để kết quả phụ huynh "
            "xem là kết quả đã chốt.")


def _require_principal(actor: Actor) -> None:
    if not actor.has("principal"):
        raise Forbidden("Chỉ Hiệu trưởng công bố kết quả học tập cho phụ huynh.")


def _event(session: Session, action: str, actor: Actor, klass: SchoolClass, term: str, note: str, **fields) -> None:
    audit.record(session, action, actor_id=actor.id, actor_name=actor.user.full_name,
                 object_type="term_publication", object_id=f"{klass.id}/{term}", class_id=klass.id,
                 school_year_id=klass.school_year_id, period=term, note=note, **fields)


def publish(*, session: Session, actor: Actor, class_id: int, term: str) -> TermPublication:
    """Show a class's results of a term to its parents (once its period is locked); publishing twice is a no-op."""
    _require_principal(actor)
    require_term(term)
    klass = _class(session, class_id)
    existing = publication(session, class_id, term)
    if existing is not None:
        return existing
    problem = publish_problem(session, klass, term)
    if problem:
        raise PublishRefused(problem)
    row = TermPublication(class_id=klass.id, term=term, published_by=actor.id, published_at=clock.now())
    session.add(row)
    session.flush()
    year = session.get(SchoolYear, klass.school_year_id)
    _event(session, "results.published", actor, klass, term,
           f"Công bố kết quả {PUBLISH_TERMS[term]} lớp {klass.name} năm học {year.name} cho phụ huynh",
           after={"class_id": klass.id, "term": term})
    return row


def unpublish(*, session: Session, actor: Actor, class_id: int, term: str) -> None:
    """Withdraw a publication: parents no longer see that term (nothing happens when it was not published)."""
    _require_principal(actor)
    require_term(term)
    klass = _class(session, class_id)
    row = publication(session, class_id, term)
    if row is None:
        return
    before = {"class_id": klass.id, "term": term, "published_by": row.published_by,
              "published_at": audit.now_text(utc(row.published_at))}
    session.delete(row)
    session.flush()
    year = session.get(SchoolYear, klass.school_year_id)
    _event(session, "results.unpublished", actor, klass, term,
           f"Thu hồi công bố kết quả {PUBLISH_TERMS[term]} lớp {klass.name} năm học {year.name}", before=before)
