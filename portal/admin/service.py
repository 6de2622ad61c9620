"""Administration: the single write path for the school, years, classes, subjects, accounts and students.

Every write function takes keyword-only arguments, checks its input, and raises ValidationFailed (one
Vietnamese message per field) or a DomainError before it writes anything. It writes through the given
session and never commits: the view commits, so a request is one transaction, and the audit trail will
hook in here, inside that transaction.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import func, or_
from sqlmodel import Session, select

from portal import audit, curriculum
from portal.admin.forms import DIGITS_12, EMAIL, PHONE, USERNAME, FormChecker
from portal.auth.passwords import hash_password, password_problems
from portal.auth.service import revoke_all_sessions, set_password
from portal.catalog import ETHNICITIES
from portal.errors import Conflict, DomainError, NotFound
from portal.models import (
    GUARDIAN_RELATIONS,
    LEVEL_GRADES,
    LEVELS,
    SEXES,
    STORED_ROLES,
    SUBJECT_KINDS,
    Department,
    Enrollment,
    Grade,
    Guardian,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentGuardian,
    StudentPhoto,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    Term,
    User,
    UserRole,
    utcnow,
)

STAFF_ROLES = tuple(role for role in STORED_ROLES if role != "parent")
# Who signs transcripts, and so needs a personal ID for the certificate (seed 000, Decree 130/2018).
SIGNING_ROLES = {"teacher", "principal", "vice_principal"}
PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", "JPEG"), b"\x89PNG\r\n\x1a\n": ("image/png", "PNG")}
STUDENTS_PER_PAGE = 50


class ValidationFailed(DomainError):
    """Input refused field by field; `errors` maps each form field to its Vietnamese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("Dữ liệu chưa hợp lệ. " + " ".join(errors.values()))
        self.errors = errors


# --- Audit of administrative changes --------------------------------------------------------------------
# Everything here that ends up on a transcript (the school, classes and their homeroom teacher, teachers'
# names and personal IDs, students' profiles and photos, guardians, teaching assignments) appends an
# "admin.changed" audit event with the changed fields before → after, in the same transaction.


def _snapshot(row) -> dict:
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.name)
        if column.name == "password_hash" or isinstance(value, bytes):
            continue
        values[column.name] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


def _audit(session: Session, row, before: dict | None, *, after: dict | None = None, deleted: bool = False,
           note: str = "", **fields) -> None:
    """Record the difference between `before` and the row now (or its deletion)."""
    after = None if deleted else (after if after is not None else _snapshot(row))
    if before is not None and after is not None:
        changed = sorted(k for k in after if before.get(k) != after[k])
        if not changed:
            return
        before, after = {k: before.get(k) for k in changed}, {k: after[k] for k in changed}
    audit.record(session, "admin.changed", object_type=row.__tablename__, object_id=getattr(row, "id", "") or "",
                 before=before, after=after, note=note, **fields)


def _raise_if_errors(form: FormChecker) -> None:
    if form.errors:
        raise ValidationFailed(form.errors)


def _get(session: Session, model, ident, message: str):
    row = session.get(model, ident) if ident is not None else None
    if row is None:
        raise NotFound(message)
    return row


# --- School -----------------------------------------------------------------------------------------


def get_school(session: Session) -> School | None:
    return session.exec(select(School).order_by(School.id)).first()


def save_school(*, session: Session, actor_id: int, data: Mapping) -> School:
    """Create or update the single School row."""
    f = FormChecker(data)
    values = {
        "name": f.text("name", "tên trường", required=True),
        "ministry_code": f.text("ministry_code", "mã trường", required=True, pattern=r"[0-9A-Za-z]{2,20}",
                                message="Mã trường gồm 2–20 chữ số hoặc chữ cái không dấu, ví dụ 37101234."),
        "level": f.choice("level", "cấp học", LEVELS),
        "department_code": f.text("department_code", "mã sở", required=True, pattern=r"\d{2}",
                                  message="Mã sở gồm đúng 2 chữ số, ví dụ 37."),
        "department_name": f.text("department_name", "tên sở giáo dục và đào tạo", required=True),
        "address": f.text("address", "địa chỉ", max_length=250),
        "ward_name": f.text("ward_name", "tên xã/phường"),
        "ward_code": f.optional("ward_code", "mã xã/phường", pattern=r"\d{5}",
                                message="Mã xã/phường gồm đúng 5 chữ số, ví dụ 14479."),
        "district_name": f.optional("district_name", "tên quận/huyện", max_length=250),
        "province_name": f.text("province_name", "tên tỉnh/thành phố"),
        "province_code": f.text("province_code", "mã tỉnh", pattern=r"\d{2}",
                                message="Mã tỉnh/thành phố gồm đúng 2 chữ số, ví dụ 37."),
        "release_place": f.text("release_place", "địa danh phát hành"),
        "phone": f.compact("phone", "số điện thoại", pattern=PHONE,
                           message="Số điện thoại gồm 8–15 chữ số, có thể bắt đầu bằng dấu +."),
        "email": f.optional("email", "thư điện tử", pattern=EMAIL, message="Địa chỉ thư điện tử không hợp lệ."),
    }
    if values["level"]:
        outside = sorted(n for n in session.exec(select(Grade.number)) if n not in LEVEL_GRADES[values["level"]])
        if outside:
            f.fail("level", f"Trường đã có khối {', '.join(map(str, outside))}, không thuộc cấp học này.")
    _raise_if_errors(f)
    school = get_school(session)
    before = _snapshot(school) if school is not None else None
    school = school or School(**values)
    for key, value in values.items():
        setattr(school, key, value)
    session.add(school)
    session.flush()
    _audit(session, school, before, note="Hồ sơ trường")
    return school


def school_grade_numbers(session: Session) -> list[int]:
    """Return the grades of the school's level (none until the school is declared)."""
    school = get_school(session)
    return list(LEVEL_GRADES[school.level]) if school and school.level in LEVEL_GRADES else []


# --- School years ------------------------------------------------------------------------------------


@dataclass
class YearRow:
    year: SchoolYear
    hk1: Term | None
    hk2: Term | None
    classes: int


def all_years(session: Session) -> list[SchoolYear]:
    return session.exec(select(SchoolYear).order_by(SchoolYear.start_date.desc())).all()


def year_term_dates(session: Session, year_id: int) -> dict[str, str]:
    """Return the year's term dates as form data (dd/mm/yyyy)."""
    terms = {t.code: t for t in session.exec(select(Term).where(Term.school_year_id == year_id))}
    return {f"{code}_{edge}": getattr(terms[code], f"{edge}_date").strftime("%d/%m/%Y") if code in terms else ""
            for code in ("hk1", "hk2") for edge in ("start", "end")}


def current_year(session: Session) -> SchoolYear | None:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def list_years(session: Session) -> list[YearRow]:
    years = session.exec(select(SchoolYear).order_by(SchoolYear.start_date.desc())).all()
    terms = {(t.school_year_id, t.code): t for t in session.exec(select(Term))}
    counts = dict(session.exec(
        select(SchoolClass.school_year_id, func.count()).group_by(SchoolClass.school_year_id)).all())
    return [YearRow(y, terms.get((y.id, "hk1")), terms.get((y.id, "hk2")), counts.get(y.id, 0)) for y in years]


def default_term_dates(start_year: int) -> dict[str, date]:
    """Return the usual calendar: HK I from 5/9 to mid-January, HK II from then to 31/5."""
    return {
        "hk1_start": date(start_year, 9, 5), "hk1_end": date(start_year + 1, 1, 17),
        "hk2_start": date(start_year + 1, 1, 19), "hk2_end": date(start_year + 1, 5, 31),
    }


def proposed_year(session: Session, today: date | None = None) -> dict[str, str]:
    """Propose the year after the latest one (or the one containing today) with the usual dates."""
    today = today or date.today()
    latest = session.exec(select(SchoolYear.name).order_by(SchoolYear.start_date.desc())).first()
    start = int(latest[:4]) + 1 if latest else (today.year if today.month >= 8 else today.year - 1)
    dates = default_term_dates(start)
    return {"name": f"{start}-{start + 1}", **{k: v.strftime("%d/%m/%Y") for k, v in dates.items()}}


def _parse_year_name(f: FormChecker) -> int | None:
    name = f.text("name", "tên năm học", required=True, pattern=r"\d{4}-\d{4}",
                  message="Năm học có dạng YYYY-YYYY, ví dụ 2025-2026.")
    if "name" in f.errors:
        return None
    first, second = int(name[:4]), int(name[5:])
    if second != first + 1:
        f.fail("name", "Năm sau phải lớn hơn năm trước đúng 1, ví dụ 2025-2026.")
    elif not 2000 <= first <= 2099:
        f.fail("name", "Năm học phải nằm trong khoảng 2000–2100.")
    return first if "name" not in f.errors else None


def _term_dates(f: FormChecker, start_year: int | None, *, fill_defaults: bool) -> dict[str, date | None]:
    labels = {"hk1_start": "ngày bắt đầu học kì I", "hk1_end": "ngày kết thúc học kì I",
              "hk2_start": "ngày bắt đầu học kì II", "hk2_end": "ngày kết thúc học kì II"}
    defaults = default_term_dates(start_year) if start_year and fill_defaults else {}
    dates = {}
    for key, label in labels.items():
        if key in defaults and not f.raw(key):
            dates[key] = defaults[key]
        else:
            dates[key] = f.date(key, label)
    if start_year is None or None in dates.values():
        return dates
    low, high = date(start_year, 7, 1), date(start_year + 1, 8, 31)
    for key, value in dates.items():
        if not low <= value <= high:
            f.fail(key, f"Ngày phải nằm trong năm học {start_year}-{start_year + 1} "
                        f"(từ {low:%d/%m/%Y} đến {high:%d/%m/%Y}).")
    if dates["hk1_end"] <= dates["hk1_start"]:
        f.fail("hk1_end", "Học kì I phải kết thúc sau ngày bắt đầu.")
    if dates["hk2_start"] <= dates["hk1_end"]:
        f.fail("hk2_start", "Học kì II phải bắt đầu sau khi học kì I kết thúc.")
    if dates["hk2_end"] <= dates["hk2_start"]:
        f.fail("hk2_end", "Học kì II phải kết thúc sau ngày bắt đầu.")
    return dates


def _write_terms(session: Session, year: SchoolYear, dates: dict[str, date]) -> None:
    year.start_date, year.end_date = dates["hk1_start"], dates["hk2_end"]
    session.add(year)
    for code in ("hk1", "hk2"):
        term = session.exec(select(Term).where(Term.school_year_id == year.id, Term.code == code)).first()
        term = term or Term(school_year_id=year.id, code=code, start_date=date.min, end_date=date.min)
        term.start_date, term.end_date = dates[f"{code}_start"], dates[f"{code}_end"]
        session.add(term)


def create_year(*, session: Session, actor_id: int, data: Mapping) -> SchoolYear:
    """Create a school year with its two terms; it becomes current when asked or when none is."""
    f = FormChecker(data)
    start = _parse_year_name(f)
    dates = _term_dates(f, start, fill_defaults=True)
    if start is not None and session.exec(select(SchoolYear.id).where(SchoolYear.name == f.raw("name"))).first():
        f.fail("name", f"Năm học {f.raw('name')} đã có.")
    _raise_if_errors(f)
    year = SchoolYear(name=f"{start}-{start + 1}", start_date=dates["hk1_start"], end_date=dates["hk2_end"])
    session.add(year)
    session.flush()
    _write_terms(session, year, dates)
    if f.flag("make_current") or current_year(session) is None:
        set_current_year(session=session, actor_id=actor_id, year_id=year.id)
    session.flush()
    return year


def update_year(*, session: Session, actor_id: int, year_id: int, data: Mapping) -> SchoolYear:
    """Change the term dates of a school year."""
    year = _get(session, SchoolYear, year_id, "Không tìm thấy năm học.")
    f = FormChecker(data)
    dates = _term_dates(f, int(year.name[:4]), fill_defaults=False)
    _raise_if_errors(f)
    _write_terms(session, year, dates)
    session.flush()
    return year


def set_current_year(*, session: Session, actor_id: int, year_id: int) -> SchoolYear:
    """Make this year the current one; every other year stops being current."""
    year = _get(session, SchoolYear, year_id, "Không tìm thấy năm học.")
    for other in session.exec(select(SchoolYear).where(SchoolYear.is_current, SchoolYear.id != year.id)):
        other.is_current = False
        session.add(other)
    session.flush()  # clear the old flag first: at no point are two years current
    year.is_current = True
    session.add(year)
    session.flush()
    return year


# --- People lookups shared by several screens ----------------------------------------------------------


def teacher_choices(session: Session, *, include: set[int] | None = None) -> list[tuple[int, str]]:
    """Return (id, label) of the active users with the teacher role, plus any ids in include."""
    include = {i for i in (include or set()) if i}
    rows = session.exec(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "teacher", or_(User.active, User.id.in_(sorted(include) or [-1])))
    ).all()
    rows = sorted(rows, key=lambda u: (_sort_name(u.full_name), u.username))
    return [(u.id, u.full_name if u.active else f"{u.full_name} (đã khoá)") for u in rows]


_VN_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_VN_SHAPE_MARKS = "\u0306\u0302\u031b"  # breve, circumflex, horn: part of the letter (ă, â, ơ, ư …)
_VN_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng: compared after the letters


def vn_key(text: str) -> tuple:
    """Return a sort key in Vietnamese alphabetical order (a < ă < â < b … d < đ), tones compared last."""
    letters, tones = [], []
    for char in text.lower():
        base, *marks = unicodedata.normalize("NFD", char)
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in _VN_SHAPE_MARKS))
        index = _VN_LETTERS.find(letter)
        letters.append((1, index) if index >= 0 else (0, ord(letter)))
        tones.append(next((_VN_TONES.index(m) + 1 for m in marks if m in _VN_TONES), 0))
    return tuple(letters), tuple(tones)


def _sort_name(full_name: str) -> tuple:
    # Vietnamese lists sort by given name (the last word), then by the whole name.
    parts = full_name.split()
    return (vn_key(parts[-1]) if parts else (), vn_key(full_name))


def _check_teacher(session: Session, f: FormChecker, field: str, user_id: int | None, current: int | None) -> None:
    """A chosen teacher must be an active account with the teacher role (an unchanged choice may stay)."""
    if user_id is None or user_id == current:
        return
    user = session.get(User, user_id)
    is_teacher = user is not None and session.get(UserRole, (user_id, "teacher")) is not None
    if not is_teacher:
        f.fail(field, "Chỉ chọn được tài khoản có vai trò giáo viên.")
    elif not user.active:
        f.fail(field, "Tài khoản giáo viên này đã bị khoá.")


def department_choices(session: Session) -> list[tuple[int, str]]:
    return [(d.id, d.name) for d in session.exec(select(Department).order_by(Department.name))]


def _check_department(session: Session, f: FormChecker, field: str) -> int | None:
    dept_id = f.id_or_none(field, "tổ chuyên môn")
    if dept_id is not None and session.get(Department, dept_id) is None:
        f.fail(field, "Tổ chuyên môn không tồn tại.")
    return dept_id


# --- Classes ------------------------------------------------------------------------------------------


@dataclass
class ClassRow:
    klass: SchoolClass
    grade: Grade
    homeroom: User | None
    students: int
    assignments: int


def year_classes(session: Session, year_id: int) -> list[ClassRow]:
    rows = session.exec(
        select(SchoolClass, Grade, User)
        .join(Grade, Grade.id == SchoolClass.grade_id)
        .outerjoin(User, User.id == SchoolClass.homeroom_teacher_id)
        .where(SchoolClass.school_year_id == year_id)
        .order_by(Grade.number, SchoolClass.name)
    ).all()
    ids = [c.id for c, _, _ in rows] or [-1]
    sizes = dict(session.exec(
        select(Enrollment.class_id, func.count())
        .where(Enrollment.class_id.in_(ids), Enrollment.left_on.is_(None)).group_by(Enrollment.class_id)
    ).all())
    assigned = dict(session.exec(
        select(TeachingAssignment.class_id, func.count())
        .where(TeachingAssignment.class_id.in_(ids)).group_by(TeachingAssignment.class_id)
    ).all())
    return [ClassRow(c, g, u, sizes.get(c.id, 0), assigned.get(c.id, 0)) for c, g, u in rows]


def grade_choices(session: Session) -> list[tuple[int, str]]:
    return [(g.id, g.name) for g in session.exec(select(Grade).order_by(Grade.number))]


def _class_values(session: Session, f: FormChecker, year_id: int, klass: SchoolClass | None) -> dict:
    name = f.text("name", "tên lớp", required=True, max_length=10, pattern=r"[\w.\-/ ]{1,10}",
                  message="Tên lớp chỉ gồm chữ, chữ số và các dấu . - /, ví dụ 6A1.")
    grade_id = f.id_or_none("grade_id", "khối")
    if grade_id is None and "grade_id" not in f.errors:
        f.fail("grade_id", "Vui lòng chọn khối.")
    elif grade_id is not None and session.get(Grade, grade_id) is None:
        f.fail("grade_id", "Khối không tồn tại.")
    homeroom_id = f.id_or_none("homeroom_teacher_id", "giáo viên chủ nhiệm")
    _check_teacher(session, f, "homeroom_teacher_id", homeroom_id, klass.homeroom_teacher_id if klass else None)
    others = session.exec(
        select(SchoolClass).where(SchoolClass.school_year_id == year_id, SchoolClass.id != (klass.id if klass else -1))
    ).all()
    if name and any(o.name.lower() == name.lower() for o in others):
        f.fail("name", f"Năm học này đã có lớp {name}.")
    if homeroom_id is not None:
        taken = next((o for o in others if o.homeroom_teacher_id == homeroom_id), None)
        if taken:
            f.fail("homeroom_teacher_id", f"Giáo viên này đã chủ nhiệm lớp {taken.name} trong năm học này.")
    if klass is not None and grade_id is not None and grade_id != klass.grade_id:
        has_assignments = session.exec(
            select(TeachingAssignment.id).where(TeachingAssignment.class_id == klass.id)).first()
        if has_assignments:
            f.fail("grade_id", "Lớp đã được phân công giảng dạy theo môn của khối cũ: "
                               "hãy bỏ phân công trước khi đổi khối.")
    _raise_if_errors(f)
    return {"name": name, "grade_id": grade_id, "homeroom_teacher_id": homeroom_id}


def create_class(*, session: Session, actor_id: int, year_id: int, data: Mapping) -> SchoolClass:
    _get(session, SchoolYear, year_id, "Không tìm thấy năm học.")
    values = _class_values(session, FormChecker(data), year_id, None)
    klass = SchoolClass(school_year_id=year_id, **values)
    session.add(klass)
    session.flush()
    _audit(session, klass, None, class_id=klass.id, school_year_id=year_id, note=f"Lớp {klass.name}")
    return klass


def update_class(*, session: Session, actor_id: int, class_id: int, data: Mapping) -> SchoolClass:
    klass = _get(session, SchoolClass, class_id, "Không tìm thấy lớp học.")
    before = _snapshot(klass)
    for key, value in _class_values(session, FormChecker(data), klass.school_year_id, klass).items():
        setattr(klass, key, value)
    session.add(klass)
    session.flush()
    _audit(session, klass, before, class_id=klass.id, school_year_id=klass.school_year_id, note=f"Lớp {klass.name}")
    return klass


def delete_class(*, session: Session, actor_id: int, class_id: int) -> str:
    """Delete a class that has neither students nor teaching assignments; return its name."""
    klass = _get(session, SchoolClass, class_id, "Không tìm thấy lớp học.")
    students = session.exec(select(func.count()).select_from(Enrollment).where(Enrollment.class_id == class_id)).one()
    assignments = session.exec(
        select(func.count()).select_from(TeachingAssignment).where(TeachingAssignment.class_id == class_id)).one()
    if students or assignments:
        parts = []
        if students:
            parts.append(f"{students} lượt học sinh đã xếp vào lớp")
        if assignments:
            parts.append(f"{assignments} phân công giảng dạy")
        raise Conflict(f"Không thể xoá lớp {klass.name}: lớp đang có {' và '.join(parts)}. "
                       "Hãy chuyển học sinh và bỏ phân công trước.")
    name = klass.name
    session.delete(klass)
    session.flush()
    return name


# --- Grades and subjects -----------------------------------------------------------------------------


@dataclass
class GradeRow:
    number: int
    grade: Grade | None
    subjects: int
    classes: int


def grades_overview(session: Session) -> list[GradeRow]:
    """Return every grade of the school's level (added or not) and any other grade already present."""
    grades = {g.number: g for g in session.exec(select(Grade))}
    subjects = dict(session.exec(select(Subject.grade_id, func.count()).group_by(Subject.grade_id)).all())
    year = current_year(session)
    classes = dict(session.exec(
        select(SchoolClass.grade_id, func.count()).where(SchoolClass.school_year_id == (year.id if year else -1))
        .group_by(SchoolClass.grade_id)).all())
    numbers = sorted(set(school_grade_numbers(session)) | set(grades))
    return [GradeRow(n, grades.get(n), subjects.get(grades[n].id, 0) if n in grades else 0,
                     classes.get(grades[n].id, 0) if n in grades else 0) for n in numbers]


def add_grade(*, session: Session, actor_id: int, number) -> Grade:
    """Add a grade of the school's level with its subjects pre-filled from the 2018 curriculum."""
    allowed = school_grade_numbers(session)
    if not allowed:
        raise DomainError("Hãy khai báo thông tin nhà trường (cấp học) trước khi thêm khối.")
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = None
    if number not in allowed:
        raise DomainError(f"Khối không thuộc cấp học của trường (khối {allowed[0]}–{allowed[-1]}).")
    if session.exec(select(Grade.id).where(Grade.number == number)).first():
        raise Conflict(f"Khối {number} đã có.")
    grade = Grade(number=number)
    session.add(grade)
    session.flush()
    for position, item in enumerate(curriculum.subjects_for_grade(number)):
        session.add(Subject(grade_id=grade.id, code=item.code, name=item.name, periods_per_year=item.periods_per_year,
                            kind=item.kind, has_periodic_test=item.has_periodic_test,
                            ministry_code=item.ministry_code, position=position))
    session.flush()
    return grade


def grade_subjects(session: Session, grade_id: int) -> list[tuple[Subject, Department | None, int]]:
    """Return (subject, department, number of teaching assignments) of a grade, in transcript order."""
    rows = session.exec(
        select(Subject, Department).outerjoin(Department, Department.id == Subject.department_id)
        .where(Subject.grade_id == grade_id).order_by(Subject.position, Subject.name)
    ).all()
    counts = dict(session.exec(
        select(TeachingAssignment.subject_id, func.count())
        .where(TeachingAssignment.subject_id.in_([s.id for s, _ in rows] or [-1]))
        .group_by(TeachingAssignment.subject_id)).all())
    return [(s, d, counts.get(s.id, 0)) for s, d in rows]


def kinds_for_grade(number: int) -> dict[str, str]:
    """Return the assessment kinds the grade's regime allows: TT27 levels for 1–5, TT22 otherwise."""
    keys = ("level",) if number <= 5 else ("score", "comment")
    return {k: SUBJECT_KINDS[k] for k in keys}


def _subject_values(session: Session, f: FormChecker, grade: Grade, subject: Subject | None) -> dict:
    code = f.text("code", "mã môn", required=True, max_length=20, pattern=r"[a-z0-9_]{1,20}",
                  message="Mã môn gồm chữ thường không dấu, chữ số và dấu gạch dưới, ví dụ toan, tieng_viet.")
    values = {
        "code": code,
        "name": f.text("name", "tên môn học", required=True, max_length=100),
        "ministry_code": f.optional("ministry_code", "mã môn của Bộ", pattern=r"[0-9A-Za-z]{1,3}",
                                    message="Mã môn của Bộ gồm tối đa 3 chữ số hoặc chữ cái."),
        "periods_per_year": f.integer("periods_per_year", "số tiết/năm", min_value=1, max_value=1000),
        "kind": f.choice("kind", "hình thức đánh giá", SUBJECT_KINDS),
        "has_periodic_test": f.flag("has_periodic_test"),
        "department_id": _check_department(session, f, "department_id"),
        "position": f.integer("position", "thứ tự", required=False, min_value=0, max_value=999),
    }
    if values["kind"] and values["kind"] not in kinds_for_grade(grade.number):
        f.fail("kind", "Khối 1–5 (Thông tư 27/2020) chỉ đánh giá theo mức đạt được." if grade.number <= 5 else
               "Khối 6–12 (Thông tư 22/2021) đánh giá bằng nhận xét kết hợp điểm số hoặc bằng nhận xét.")
    if values["has_periodic_test"] and grade.number > 5:
        f.fail("has_periodic_test", "Bài kiểm tra định kì theo Thông tư 27/2020 chỉ áp dụng cho khối 1–5.")
    if code and session.exec(select(Subject.id).where(
            Subject.grade_id == grade.id, Subject.code == code, Subject.id != (subject.id if subject else -1))).first():
        f.fail("code", f"Khối {grade.number} đã có môn mã {code}.")
    _raise_if_errors(f)
    if values["position"] is None:
        values["position"] = subject.position if subject else (session.exec(
            select(func.max(Subject.position)).where(Subject.grade_id == grade.id)).one() or 0) + 1
    return values


def create_subject(*, session: Session, actor_id: int, grade_id: int, data: Mapping) -> Subject:
    grade = _get(session, Grade, grade_id, "Không tìm thấy khối.")
    subject = Subject(grade_id=grade.id, **_subject_values(session, FormChecker(data), grade, None))
    session.add(subject)
    session.flush()
    return subject


def update_subject(*, session: Session, actor_id: int, subject_id: int, data: Mapping) -> Subject:
    subject = _get(session, Subject, subject_id, "Không tìm thấy môn học.")
    grade = session.get(Grade, subject.grade_id)
    for key, value in _subject_values(session, FormChecker(data), grade, subject).items():
        setattr(subject, key, value)
    session.add(subject)
    session.flush()
    return subject


def delete_subject(*, session: Session, actor_id: int, subject_id: int) -> Subject:
    """Delete a subject nobody is assigned to teach; return it (for the message)."""
    subject = _get(session, Subject, subject_id, "Không tìm thấy môn học.")
    count = session.exec(
        select(func.count()).select_from(TeachingAssignment).where(TeachingAssignment.subject_id == subject_id)).one()
    if count:
        raise Conflict(f"Không thể xoá môn {subject.name}: môn đang được phân công giảng dạy ở {count} lớp. "
                       "Hãy bỏ phân công trước.")
    session.delete(subject)
    session.flush()
    return subject


# --- Departments ---------------------------------------------------------------------------------------


@dataclass
class DepartmentRow:
    department: Department
    head: User | None
    teachers: int
    subjects: int


def list_departments(session: Session) -> list[DepartmentRow]:
    rows = session.exec(
        select(Department, User).outerjoin(User, User.id == Department.head_id).order_by(Department.name)).all()
    teachers = dict(session.exec(
        select(TeacherProfile.department_id, func.count()).group_by(TeacherProfile.department_id)).all())
    subjects = dict(session.exec(select(Subject.department_id, func.count()).group_by(Subject.department_id)).all())
    return [DepartmentRow(d, u, teachers.get(d.id, 0), subjects.get(d.id, 0)) for d, u in rows]


def _department_values(session: Session, f: FormChecker, dept: Department | None) -> dict:
    name = f.text("name", "tên tổ chuyên môn", required=True)
    head_id = f.id_or_none("head_id", "tổ trưởng")
    _check_teacher(session, f, "head_id", head_id, dept.head_id if dept else None)
    others = session.exec(select(Department.name).where(Department.id != (dept.id if dept else -1))).all()
    if name and name.lower() in {o.lower() for o in others}:
        f.fail("name", f"Đã có {name}.")
    _raise_if_errors(f)
    return {"name": name, "head_id": head_id}


def create_department(*, session: Session, actor_id: int, data: Mapping) -> Department:
    dept = Department(**_department_values(session, FormChecker(data), None))
    session.add(dept)
    session.flush()
    return dept


def update_department(*, session: Session, actor_id: int, department_id: int, data: Mapping) -> Department:
    dept = _get(session, Department, department_id, "Không tìm thấy tổ chuyên môn.")
    for key, value in _department_values(session, FormChecker(data), dept).items():
        setattr(dept, key, value)
    session.add(dept)
    session.flush()
    return dept


def delete_department(*, session: Session, actor_id: int, department_id: int) -> str:
    """Delete a department that no teacher and no subject belongs to; return its name."""
    dept = _get(session, Department, department_id, "Không tìm thấy tổ chuyên môn.")
    teachers = session.exec(
        select(func.count()).select_from(TeacherProfile).where(TeacherProfile.department_id == dept.id)).one()
    subjects = session.exec(select(func.count()).select_from(Subject).where(Subject.department_id == dept.id)).one()
    if teachers or subjects:
        raise Conflict(f"Không thể xoá {dept.name}: tổ còn {teachers} giáo viên và {subjects} môn học. "
                       "Hãy chuyển giáo viên và môn học sang tổ khác trước.")
    name = dept.name
    session.delete(dept)
    session.flush()
    return name


# --- Staff accounts -------------------------------------------------------------------------------------


@dataclass
class StaffRow:
    user: User
    roles: list[str]
    profile: TeacherProfile | None
    department: str | None


def list_staff(session: Session, *, query: str = "") -> list[StaffRow]:
    """Return every account that is not only a parent's, sorted by given name; filter by name or username."""
    roles: dict[int, list[str]] = {}
    for user_id, role in session.exec(select(UserRole.user_id, UserRole.role)):
        roles.setdefault(user_id, []).append(role)
    profiles = {p.user_id: p for p in session.exec(select(TeacherProfile))}
    departments = dict(session.exec(select(Department.id, Department.name)).all())
    needle = query.strip().lower()
    rows = []
    for user in session.exec(select(User)):
        user_roles = sorted(roles.get(user.id, []), key=STORED_ROLES.index)
        if user_roles == ["parent"]:
            continue
        if needle and needle not in user.full_name.lower() and needle not in user.username:
            continue
        profile = profiles.get(user.id)
        rows.append(StaffRow(user, user_roles, profile, departments.get(profile.department_id) if profile else None))
    return sorted(rows, key=lambda r: _sort_name(r.user.full_name))


def staff_member(session: Session, user_id: int) -> tuple[User, list[str], TeacherProfile | None]:
    user = _get(session, User, user_id, "Không tìm thấy tài khoản.")
    roles = list(session.exec(select(UserRole.role).where(UserRole.user_id == user_id)))
    return user, roles, session.get(TeacherProfile, user_id)


def _username(session: Session, f: FormChecker, field: str, *, user_id: int | None) -> str:
    username = f.raw(field).lower()
    if not username:
        f.fail(field, "Vui lòng nhập tên đăng nhập.")
    elif not re.fullmatch(USERNAME, username):
        f.fail(field, "Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, chữ số, dấu chấm, "
                      "gạch dưới hoặc gạch ngang.")
    elif session.exec(select(User.id).where(User.username == username, User.id != (user_id or -1))).first():
        f.fail(field, f"Tên đăng nhập {username} đã có người dùng.")
    return username


def _temporary_password(f: FormChecker, field: str, username: str) -> str:
    password = str(f.data.get(field) or "")
    if not password:
        f.fail(field, "Vui lòng nhập mật khẩu tạm thời.")
        return ""
    problems = password_problems(password, username=username, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    if problems:
        f.fail(field, " ".join(problems))
    return password


def _staff_values(session: Session, f: FormChecker, user: User | None, actor_id: int) -> dict:
    roles = f.values("roles")
    if not roles:
        f.fail("roles", "Chọn ít nhất một vai trò.")
    elif set(roles) - set(STAFF_ROLES):
        f.fail("roles", "Vai trò không hợp lệ.")
    elif user is not None and user.id == actor_id and "admin" not in roles:
        f.fail("roles", "Bạn không thể tự bỏ vai trò quản trị của chính mình.")
    personal_id = f.optional("personal_id", "số định danh cá nhân", pattern=DIGITS_12,
                             message="Số định danh cá nhân gồm đúng 12 chữ số.")
    dob = f.date("date_of_birth", "ngày sinh", required=False)
    if dob and not date(1940, 1, 1) <= dob <= date.today():
        f.fail("date_of_birth", "Ngày sinh không hợp lý.")
    department_id = _check_department(session, f, "department_id")
    values = {
        "username": _username(session, f, "username", user_id=user.id if user else None),
        "full_name": f.text("full_name", "họ và tên", required=True),
        "email": f.optional("email", "thư điện tử", pattern=EMAIL, message="Địa chỉ thư điện tử không hợp lệ."),
        "phone": f.compact("phone", "số điện thoại", pattern=PHONE,
                           message="Số điện thoại gồm 8–15 chữ số, có thể bắt đầu bằng dấu +."),
        "roles": roles,
        "profile": {
            "personal_id": personal_id,
            "date_of_birth": dob,
            "sex": f.choice("sex", "giới tính", SEXES, required=False) or 0,
            "title": f.text("title", "chức vụ") or "Giáo viên",
            "department_id": department_id,
        },
    }
    if not personal_id and "personal_id" not in f.errors:
        if SIGNING_ROLES & set(roles):
            f.fail("personal_id", "Giáo viên và cán bộ quản lý ký học bạ phải có số định danh cá nhân (12 chữ số).")
        elif dob or department_id:
            f.fail("personal_id", "Nhập số định danh cá nhân để lưu hồ sơ giáo viên (ngày sinh, tổ chuyên môn).")
    if personal_id and session.exec(select(TeacherProfile.user_id).where(
            TeacherProfile.personal_id == personal_id,
            TeacherProfile.user_id != (user.id if user else -1))).first():
        f.fail("personal_id", "Số định danh cá nhân này đã thuộc về một giáo viên khác.")
    return values


def _write_staff(session: Session, user: User, values: dict) -> None:
    for key in ("username", "full_name", "email", "phone"):
        setattr(user, key, values[key])
    session.add(user)
    session.flush()
    kept = {"parent"}  # the parent role is managed from the guardian screens
    for row in session.exec(select(UserRole).where(UserRole.user_id == user.id)).all():
        if row.role not in kept and row.role not in values["roles"]:
            session.delete(row)
    existing = set(session.exec(select(UserRole.role).where(UserRole.user_id == user.id)))
    for role in values["roles"]:
        if role not in existing:
            session.add(UserRole(user_id=user.id, role=role))
    profile = session.get(TeacherProfile, user.id)
    if values["profile"]["personal_id"]:
        profile = profile or TeacherProfile(user_id=user.id, personal_id=values["profile"]["personal_id"])
        for key, value in values["profile"].items():
            setattr(profile, key, value)
        session.add(profile)
    elif profile is not None:
        session.delete(profile)
    session.flush()


def create_staff(*, session: Session, actor_id: int, data: Mapping) -> User:
    """Create a staff account with a temporary password that must be changed at first sign-in."""
    f = FormChecker(data)
    values = _staff_values(session, f, None, actor_id)
    password = _temporary_password(f, "password", values["username"])
    _raise_if_errors(f)
    user = User(username=values["username"], full_name=values["full_name"], password_hash=hash_password(password),
                must_change_password=True)
    _write_staff(session, user, values)
    _audit(session, user, None, after=_staff_snapshot(session, user), note=f"Tài khoản {user.username}")
    return user


def _staff_snapshot(session: Session, user: User) -> dict:
    """The account's transcript-relevant fields: name, roles, personal ID, title, department."""
    profile = session.get(TeacherProfile, user.id)
    roles = sorted(session.exec(select(UserRole.role).where(UserRole.user_id == user.id)))
    return {"username": user.username, "full_name": user.full_name, "active": user.active, "roles": roles,
            "personal_id": profile.personal_id if profile else None, "title": profile.title if profile else None,
            "department_id": profile.department_id if profile else None}


def update_staff(*, session: Session, actor_id: int, user_id: int, data: Mapping) -> User:
    user = _get(session, User, user_id, "Không tìm thấy tài khoản.")
    f = FormChecker(data)
    values = _staff_values(session, f, user, actor_id)
    _raise_if_errors(f)
    before = _staff_snapshot(session, user)
    _write_staff(session, user, values)
    session.flush()
    _audit(session, user, before, after=_staff_snapshot(session, user), note=f"Tài khoản {user.username}")
    return user


def set_account_active(*, session: Session, actor_id: int, user_id: int, active: bool) -> User:
    """Enable or disable an account; disabling ends every session of it at once."""
    user = _get(session, User, user_id, "Không tìm thấy tài khoản.")
    if user.id == actor_id and not active:
        raise DomainError("Bạn không thể tự khoá tài khoản của chính mình.")
    before = {"active": user.active}
    user.active = active
    session.add(user)
    if not active:
        revoke_all_sessions(session, user_id=user.id)
    session.flush()
    _audit(session, user, before, after={"active": active}, note=f"Tài khoản {user.username}")
    return user


def reset_password(*, session: Session, actor_id: int, user_id: int, data: Mapping) -> User:
    """Give the account a temporary password: its sessions end and it must choose a new one at sign-in."""
    user = _get(session, User, user_id, "Không tìm thấy tài khoản.")
    f = FormChecker(data)
    password = _temporary_password(f, "password", user.username)
    _raise_if_errors(f)
    set_password(session, user=user, password=password, must_change=True)
    session.flush()
    _audit(session, user, {"must_change_password": False}, after={"must_change_password": True},
           note=f"Đặt lại mật khẩu tài khoản {user.username}")
    return user


# --- Teaching assignments ------------------------------------------------------------------------------


@dataclass
class AssignmentRow:
    klass: SchoolClass
    grade: Grade
    homeroom: User | None
    subjects: int
    unassigned: int


def assignment_overview(session: Session, year: SchoolYear | None) -> list[AssignmentRow]:
    if year is None:
        return []
    subjects = dict(session.exec(select(Subject.grade_id, func.count()).group_by(Subject.grade_id)).all())
    rows = []
    for row in year_classes(session, year.id):
        total = subjects.get(row.grade.id, 0)
        rows.append(AssignmentRow(row.klass, row.grade, row.homeroom, total, max(0, total - row.assignments)))
    return rows


def current_year_class(session: Session, class_id: int) -> SchoolClass:
    klass = _get(session, SchoolClass, class_id, "Không tìm thấy lớp học.")
    year = current_year(session)
    if year is None or klass.school_year_id != year.id:
        raise DomainError("Chỉ phân công giảng dạy cho các lớp của năm học hiện tại.")
    return klass


def assignment_sheet(session: Session, klass: SchoolClass) -> list[tuple[Subject, int | None]]:
    """Return (subject, assigned teacher id or None) for every subject of the class's grade."""
    subjects = session.exec(
        select(Subject).where(Subject.grade_id == klass.grade_id).order_by(Subject.position, Subject.name)).all()
    assigned = dict(session.exec(
        select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
        .where(TeachingAssignment.class_id == klass.id)).all())
    return [(s, assigned.get(s.id)) for s in subjects]


def save_assignments(*, session: Session, actor_id: int, class_id: int, data: Mapping) -> int:
    """Set the teacher of every subject of a class in one go (field teacher_<subject id>; empty = none).

    Nothing is written unless every choice is valid. Return the number of changed subjects.
    """
    klass = current_year_class(session, class_id)
    existing = {a.subject_id: a for a in session.exec(
        select(TeachingAssignment).where(TeachingAssignment.class_id == klass.id))}
    f = FormChecker(data)
    wanted: dict[int, int | None] = {}
    for subject, current in assignment_sheet(session, klass):
        field = f"teacher_{subject.id}"
        if field not in data:
            continue  # not on the submitted form: leave as it is
        teacher_id = f.id_or_none(field, f"giáo viên môn {subject.name}")
        _check_teacher(session, f, field, teacher_id, current)
        wanted[subject.id] = teacher_id
    _raise_if_errors(f)
    changed = 0
    before_all = {str(k): v.teacher_id for k, v in existing.items()}
    for subject_id, teacher_id in wanted.items():
        row = existing.get(subject_id)
        if row is not None and teacher_id is None:
            session.delete(row)
        elif row is not None and row.teacher_id != teacher_id:
            row.teacher_id = teacher_id
            session.add(row)
        elif row is None and teacher_id is not None:
            session.add(TeachingAssignment(class_id=klass.id, subject_id=subject_id, teacher_id=teacher_id))
        else:
            continue
        changed += 1
    session.flush()
    if changed:
        after_all = {**before_all, **{str(k): v for k, v in wanted.items()}}
        _audit(session, klass, before_all, after={k: v for k, v in after_all.items() if v is not None},
               class_id=klass.id, school_year_id=klass.school_year_id, note=f"Phân công giảng dạy lớp {klass.name}")
    return changed


# --- Students -------------------------------------------------------------------------------------------


def current_class_choices(session: Session) -> list[tuple[int, str]]:
    year = current_year(session)
    if year is None:
        return []
    return [(r.klass.id, f"{r.klass.name}") for r in year_classes(session, year.id)]


def _placements(year: SchoolYear | None):
    """Subquery: each student's current class in the given year (student_id, class_id, class_name, number)."""
    return (
        select(Enrollment.student_id.label("student_id"), SchoolClass.id.label("class_id"),
               SchoolClass.name.label("class_name"), Enrollment.number.label("number"))
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(SchoolClass.school_year_id == (year.id if year else -1), Enrollment.left_on.is_(None))
        .subquery()
    )


def search_students(session: Session, *, query: str = "", class_filter: str = "", page: int = 1):
    """Find students by name, code or personal ID, in a class ("none" = not placed); return (rows, total)."""
    placed = _placements(current_year(session))
    stmt = select(Student, placed.c.class_name).outerjoin(placed, placed.c.student_id == Student.id)
    query = " ".join(query.split())
    if query:
        stmt = stmt.where(or_(Student.full_name.ilike(f"%{query}%"), Student.student_code.ilike(f"{query}%"),
                              Student.personal_id == query))
    if class_filter == "none":
        stmt = stmt.where(placed.c.class_id.is_(None))
    elif class_filter.isdigit():
        stmt = stmt.where(placed.c.class_id == int(class_filter))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    page = max(1, page)
    rows = session.exec(
        stmt.order_by(placed.c.class_name.nulls_first(), placed.c.number, Student.full_name)
        .offset((page - 1) * STUDENTS_PER_PAGE).limit(STUDENTS_PER_PAGE)
    ).all()
    return rows, total


def current_enrollment(session: Session, student_id: int) -> Enrollment | None:
    year = current_year(session)
    if year is None:
        return None
    return session.exec(
        select(Enrollment).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(Enrollment.student_id == student_id, SchoolClass.school_year_id == year.id,
               Enrollment.left_on.is_(None))
    ).first()


def student_history(session: Session, student_id: int):
    """Return (year, class, enrollment) of every enrollment of the student, oldest first."""
    return session.exec(
        select(SchoolYear, SchoolClass, Enrollment)
        .join(SchoolClass, SchoolClass.school_year_id == SchoolYear.id)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .where(Enrollment.student_id == student_id)
        .order_by(SchoolYear.start_date, Enrollment.id)
    ).all()


_OPTIONAL_TEXT = {  # nullable columns: field → (label, max length)
    "policy_group": ("đối tượng chính sách", 250),
    "registration_number": ("số đăng bộ", 50),
    "father_name": ("họ tên cha", 150), "father_occupation": ("nghề nghiệp của cha", 150),
    "mother_name": ("họ tên mẹ", 150), "mother_occupation": ("nghề nghiệp của mẹ", 150),
    "guardian_name": ("họ tên người giám hộ", 150), "guardian_occupation": ("nghề nghiệp của người giám hộ", 150),
}


def _student_values(session: Session, f: FormChecker, student: Student | None) -> dict:
    own_id = student.id if student else -1
    code = f.text("student_code", "mã học sinh", required=True, pattern=r"[0-9A-Za-z]{1,20}",
                  message="Mã học sinh gồm tối đa 20 chữ số hoặc chữ cái không dấu.")
    personal_id = f.text("personal_id", "số định danh cá nhân", required=True, pattern=DIGITS_12,
                         message="Số định danh cá nhân gồm đúng 12 chữ số.")
    dob = f.date("date_of_birth", "ngày sinh")
    if dob and not date(1990, 1, 1) <= dob <= date.today():
        f.fail("date_of_birth", "Ngày sinh không hợp lý.")
    values = {
        "student_code": code,
        "personal_id": personal_id,
        "full_name": f.text("full_name", "họ và tên", required=True),
        "date_of_birth": dob,
        "sex": f.choice("sex", "giới tính", SEXES),
        "ethnicity": f.choice("ethnicity", "dân tộc", ETHNICITIES),
        "nationality": f.text("nationality", "quốc tịch", required=True, pattern=r"[A-Za-z]{2}",
                              message="Quốc tịch là mã quốc gia 2 chữ cái, ví dụ VN.").upper(),
        "birthplace": f.text("birthplace", "nơi sinh", max_length=250),
        "birthplace_province_code": f.optional("birthplace_province_code", "mã tỉnh nơi sinh", pattern=r"\d{2}",
                                               message="Mã tỉnh nơi sinh gồm đúng 2 chữ số, ví dụ 37."),
        "hometown": f.text("hometown", "quê quán", max_length=250),
        "residence": f.text("residence", "chỗ ở hiện tại", max_length=250),
        "disability_not_assessed": f.flag("disability_not_assessed"),
        **{key: f.optional(key, label, max_length=length) for key, (label, length) in _OPTIONAL_TEXT.items()},
    }
    class_id = f.id_or_none("class_id", "lớp")
    if class_id is not None and class_id not in dict(current_class_choices(session)):
        f.fail("class_id", "Chỉ xếp vào lớp của năm học hiện tại.")
    if code and session.exec(select(Student.id).where(Student.student_code == code, Student.id != own_id)).first():
        f.fail("student_code", f"Mã học sinh {code} đã có.")
    if personal_id and session.exec(
            select(Student.id).where(Student.personal_id == personal_id, Student.id != own_id)).first():
        f.fail("personal_id", "Số định danh cá nhân này đã thuộc về một học sinh khác.")
    _raise_if_errors(f)
    return {"student": values, "class_id": class_id}


def _place_in_class(session: Session, student: Student, class_id: int | None, today: date) -> None:
    """Put the student in the class for the current year; leaving a class closes its enrollment."""
    current = current_enrollment(session, student.id)
    if (current.class_id if current else None) == class_id:
        return
    if current is not None:
        current.left_on = today
        session.add(current)
    if class_id is None:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.student_id == student.id, Enrollment.class_id == class_id)).first()
    if enrollment is None:
        last = session.exec(select(func.max(Enrollment.number)).where(Enrollment.class_id == class_id)).one()
        enrollment = Enrollment(student_id=student.id, class_id=class_id, number=(last or 0) + 1,
                                joined_on=today if current is not None else None)
    else:  # back to a class they had left this year
        enrollment.left_on = None
    session.add(enrollment)


def create_student(*, session: Session, actor_id: int, data: Mapping, today: date | None = None) -> Student:
    values = _student_values(session, FormChecker(data), None)
    student = Student(**values["student"])
    session.add(student)
    session.flush()
    _place_in_class(session, student, values["class_id"], today or date.today())
    session.flush()
    _audit(session, student, None, after={**_snapshot(student), "class_id": values["class_id"]},
           student_id=student.id, class_id=values["class_id"], note=f"Học sinh {student.full_name}")
    return student


def update_student(*, session: Session, actor_id: int, student_id: int, data: Mapping,
                   today: date | None = None) -> Student:
    student = _get(session, Student, student_id, "Không tìm thấy học sinh.")
    enrollment = current_enrollment(session, student.id)
    before = {**_snapshot(student), "class_id": enrollment.class_id if enrollment else None}
    values = _student_values(session, FormChecker(data), student)
    for key, value in values["student"].items():
        setattr(student, key, value)
    session.add(student)
    _place_in_class(session, student, values["class_id"], today or date.today())
    session.flush()
    _audit(session, student, before, after={**_snapshot(student), "class_id": values["class_id"]},
           student_id=student.id, class_id=values["class_id"], note=f"Học sinh {student.full_name}")
    return student


def _photo_type(data: bytes) -> tuple[str, str] | None:
    for magic, kind in PHOTO_TYPES.items():
        if data.startswith(magic):
            return kind
    return None


def save_photo(*, session: Session, actor_id: int, student_id: int, data: bytes) -> StudentPhoto:
    """Store the student's 3×4 photo (JPEG or PNG by content, at most 2 MB) and its SHA-256."""
    student = _get(session, Student, student_id, "Không tìm thấy học sinh.")
    if not data:
        raise ValidationFailed({"photo": "Vui lòng chọn tệp ảnh."})
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationFailed({"photo": "Ảnh không được lớn hơn 2 MB."})
    kind = _photo_type(data)
    if kind is None:
        raise ValidationFailed({"photo": "Chỉ nhận ảnh JPEG hoặc PNG (tệp này không phải ảnh)."})
    mime, pil_format = kind
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            ok = image.format == pil_format
            image.verify()
    except Exception:  # Pillow raises many kinds for damaged or hostile files
        ok = False
    if not ok:
        raise ValidationFailed({"photo": "Tệp ảnh bị hỏng hoặc không đọc được."})
    photo = session.get(StudentPhoto, student.id) or StudentPhoto(student_id=student.id, mime=mime, data=b"")
    photo.mime, photo.data, photo.updated_at = mime, data, utcnow()
    before = {"photo_sha256": student.photo_sha256}
    student.photo_sha256 = hashlib.sha256(data).hexdigest()
    session.add_all([photo, student])
    session.flush()
    _audit(session, student, before, after={"photo_sha256": student.photo_sha256}, student_id=student.id,
           note=f"Ảnh học sinh {student.full_name}")
    return photo


# --- Guardians and parent accounts ---------------------------------------------------------------------


def student_guardians(session: Session, student_id: int) -> list[tuple[Guardian, User | None]]:
    return session.exec(
        select(Guardian, User).join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .outerjoin(User, User.id == Guardian.user_id)
        .where(StudentGuardian.student_id == student_id).order_by(Guardian.id)
    ).all()


def guardian_of(session: Session, student_id: int, guardian_id: int) -> Guardian:
    link = session.get(StudentGuardian, (student_id, guardian_id))
    if link is None:
        raise NotFound("Không tìm thấy người giám hộ của học sinh này.")
    return session.get(Guardian, guardian_id)


def _guardian_values(session: Session, f: FormChecker, guardian: Guardian | None) -> dict:
    values = {
        "full_name": f.text("full_name", "họ và tên", required=True),
        "relation": f.choice("relation", "quan hệ với học sinh", GUARDIAN_RELATIONS),
        "phone": f.compact("phone", "số điện thoại", pattern=PHONE,
                           message="Số điện thoại gồm 8–15 chữ số, có thể bắt đầu bằng dấu +."),
        "occupation": f.optional("occupation", "nghề nghiệp"),
    }
    linked = guardian is not None and guardian.user_id is not None
    account = f.choice("account", "tài khoản phụ huynh", ("keep", "reset") if linked else ("none", "new", "existing"),
                       required=False) or ("keep" if linked else "none")
    plan = {"mode": account}
    if account == "new":
        plan["username"] = _username(session, f, "account_username", user_id=None)
        plan["password"] = _temporary_password(f, "account_password", plan["username"])
    elif account == "reset":
        plan["user"] = session.get(User, guardian.user_id)
        plan["password"] = _temporary_password(f, "account_password", plan["user"].username)
    elif account == "existing":
        username = f.raw("existing_username").lower()
        user = session.exec(select(User).where(User.username == username)).first() if username else None
        other = session.exec(select(Guardian).where(Guardian.user_id == user.id)).first() if user else None
        if not username:
            f.fail("existing_username", "Vui lòng nhập tên đăng nhập của tài khoản phụ huynh.")
        elif user is None:
            f.fail("existing_username", f"Không có tài khoản {username}.")
        elif session.get(UserRole, (user.id, "parent")) is None:
            f.fail("existing_username", "Tài khoản này không phải tài khoản phụ huynh.")
        elif other is not None and guardian is not None and other.id != guardian.id:
            f.fail("existing_username", f"Tài khoản này đã gắn với người giám hộ khác ({other.full_name}).")
        plan["user"], plan["guardian"] = user, other
    _raise_if_errors(f)
    return {"guardian": values, "account": plan}


def _apply_account(session: Session, guardian: Guardian, plan: dict) -> None:
    mode = plan["mode"]
    if mode == "new":
        user = User(username=plan["username"], full_name=guardian.full_name, phone=guardian.phone,
                    password_hash=hash_password(plan["password"]), must_change_password=True)
        session.add(user)
        session.flush()
        session.add(UserRole(user_id=user.id, role="parent"))
        guardian.user_id = user.id
    elif mode == "existing":
        guardian.user_id = plan["user"].id
    elif mode == "reset":
        set_password(session, user=plan["user"], password=plan["password"], must_change=True)
    if guardian.user_id is not None and mode != "existing":
        user = session.get(User, guardian.user_id)
        user.full_name = guardian.full_name
        session.add(user)
    session.add(guardian)


def add_guardian(*, session: Session, actor_id: int, student_id: int, data: Mapping) -> Guardian:
    """Add a parent or guardian to a student, optionally with a new or an existing parent account.

    Linking an account that already belongs to a guardian (a sibling's parent) links that same guardian.
    """
    student = _get(session, Student, student_id, "Không tìm thấy học sinh.")
    values = _guardian_values(session, FormChecker(data), None)
    guardian = values["account"].get("guardian") or Guardian()
    if session.get(StudentGuardian, (student.id, guardian.id or -1)) is not None:
        raise ValidationFailed({"existing_username": "Người giám hộ này đã gắn với học sinh."})
    for key, value in values["guardian"].items():
        setattr(guardian, key, value)
    session.add(guardian)
    session.flush()
    _apply_account(session, guardian, values["account"])
    session.add(StudentGuardian(student_id=student.id, guardian_id=guardian.id))
    session.flush()
    _audit(session, guardian, None, student_id=student.id, note=f"Thêm người giám hộ của {student.full_name}")
    return guardian


def update_guardian(*, session: Session, actor_id: int, student_id: int, guardian_id: int,
                    data: Mapping) -> Guardian:
    guardian = guardian_of(session, student_id, guardian_id)
    before = _snapshot(guardian)
    values = _guardian_values(session, FormChecker(data), guardian)
    for key, value in values["guardian"].items():
        setattr(guardian, key, value)
    _apply_account(session, guardian, values["account"])
    session.flush()
    _audit(session, guardian, before, student_id=student_id, note="Sửa người giám hộ")
    return guardian


def remove_guardian(*, session: Session, actor_id: int, student_id: int, guardian_id: int) -> Guardian:
    """Unlink a guardian from a student; a guardian left with no child is deleted and their
    parent-only account disabled, so it cannot keep reading anything."""
    guardian = guardian_of(session, student_id, guardian_id)
    _audit(session, guardian, _snapshot(guardian), deleted=True, student_id=student_id,
           note="Bỏ người giám hộ khỏi học sinh")
    session.delete(session.get(StudentGuardian, (student_id, guardian_id)))
    session.flush()
    if session.exec(select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)).first() is None:
        user_id = guardian.user_id
        session.delete(guardian)
        session.flush()
        if user_id is not None:
            roles = set(session.exec(select(UserRole.role).where(UserRole.user_id == user_id)))
            if roles <= {"parent"}:
                set_account_active(session=session, actor_id=actor_id, user_id=user_id, active=False)
    session.flush()
    return guardian
