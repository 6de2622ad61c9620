"""Imports: check a file against the database (preview), then write every row or none (commit).

The preview and the commit run the very same analysis: the commit re-reads the file and re-checks every
row inside its own write transaction (BEGIN IMMEDIATE on SQLite), so a change made by someone else between
the two is caught and nothing is written. Between the two requests the uploaded bytes wait in
instance/imports/<token>.<ext> (never in the cookie), with a small JSON sidecar holding the kind, the
uploader and the SHA-256 that was previewed; files older than an hour are deleted.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal import audit, uploads
from portal.auth.passwords import hash_password, password_problems
from portal.errors import Conflict, DomainError, NotFound
from portal.imports import rules
from portal.imports.rules import KINDS, FileRefused, Kind, Record, RowError
from portal.models import (
    Department,
    Enrollment,
    Grade,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    User,
    UserRole,
)

ACTIONS = {"create": "Thêm mới", "update": "Cập nhật", "unchanged": "Không đổi"}
STAFF_ROLES = {"teacher", "principal", "vice_principal", "admin", "office"}
TOKEN = re.compile(r"[0-9a-f]{32}")
IN_CHUNK = 500


class FileRejected(DomainError):
    """The file cannot be imported at all (type, size, encoding, damage)."""


class ImportRejected(DomainError):
    """At least one row is invalid: nothing was written."""

    status = 409

    def __init__(self, message: str, errors: list[RowError]):
        super().__init__(message)
        self.errors = errors


@dataclass
class PlannedRow:
    row: int
    action: str  # key of ACTIONS
    label: str
    note: str = ""


@dataclass
class Preview:
    kind: str
    filename: str
    fmt: str
    sha256: str
    size: int
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def counts(self) -> Counter:
        return Counter(r.action for r in self.rows)

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors if e.row is not None})


@dataclass
class Result:
    kind: str
    counts: Counter
    # (username, full name, temporary password) of the accounts created: shown once, never stored.
    passwords: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class _Analysis:
    fmt: str
    rows: list[PlannedRow]
    errors: list[RowError]
    warnings: list[str]
    apply: Callable[[Session, date], list[tuple[str, str, str]]] | None = None


# --- Public services ------------------------------------------------------------------------------------------


def kind_or_404(kind: str) -> Kind:
    if kind not in KINDS:
        raise NotFound("Không có loại dữ liệu nhập này.")
    return KINDS[kind]


def preview_import(*, session: Session, kind: str, filename: str, data: bytes) -> Preview:
    """Read and check the file against the database without writing anything; raise FileRejected."""
    spec = kind_or_404(kind)
    analysis = _analyse(session, spec, data, date.today())
    return Preview(kind=spec.key, filename=filename, fmt=analysis.fmt, sha256=hashlib.sha256(data).hexdigest(),
                   size=len(data), rows=analysis.rows, errors=analysis.errors, warnings=analysis.warnings)


def commit_import(*, session: Session, actor_id: int, kind: str, data: bytes, filename: str = "") -> Result:
    """Re-check the whole file; write every row and the import's audit event in one transaction, or nothing."""
    spec = kind_or_404(kind)
    today = date.today()
    try:
        analysis = _analyse(session, spec, data, today)
        if analysis.errors:
            raise ImportRejected(
                f"Tệp có {len(analysis.errors)} lỗi nên không có dòng nào được ghi.", analysis.errors
            )
        passwords = analysis.apply(session, today)
        counts = dict(sorted(analysis_counts(analysis).items()))
        audit.record(session, "import", actor_id=actor_id, object_type="import", object_id=spec.key,
                     after={"kind": spec.key, "filename": filename, "sha256": hashlib.sha256(data).hexdigest(),
                            "size": len(data), "counts": counts},
                     note=f"Nhập {spec.label.lower()} từ {filename}: "
                     + ", ".join(f"{ACTIONS.get(k, k).lower()} {v}" for k, v in counts.items()))
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("Dữ liệu vừa bị thay đổi cùng lúc nên không ghi được. Không có dòng nào được ghi; "
                       "vui lòng tải tệp lên lại.") from exc
    except BaseException:
        session.rollback()
        raise
    current_app.logger.info("import %s by user %s: %s", spec.key, actor_id, dict(analysis_counts(analysis)))
    return Result(kind=spec.key, counts=analysis_counts(analysis), passwords=passwords)


def analysis_counts(analysis: _Analysis) -> Counter:
    return Counter(r.action for r in analysis.rows)


# --- Uploads kept between preview and commit ----------------------------------------------------------------


STORE = uploads.PreviewStore("imports")
GONE = "Tệp đã xem trước không còn (đã nhập, hoặc quá 1 giờ). Vui lòng tải tệp lên lại."


def store_upload(*, preview: Preview, data: bytes, actor_id: int) -> str:
    """Keep the previewed bytes on disk; return the random token that names them."""
    return STORE.store(data, {"kind": preview.kind, "fmt": preview.fmt, "actor_id": actor_id,
                              "filename": preview.filename})


def load_upload(*, token: str, actor_id: int, kind: str, sha256: str) -> tuple[bytes, dict]:
    """Return the bytes and metadata of a previewed upload, checking who, what and its SHA-256."""
    try:
        return STORE.load(token, expect={"actor_id": actor_id, "kind": kind}, sha256=sha256)
    except uploads.Gone as exc:
        raise FileRejected(GONE) from exc
    except uploads.Altered as exc:
        raise FileRejected("Tệp đã lưu không khớp với tệp đã xem trước. Vui lòng tải tệp lên lại.") from exc


def discard_upload(token: str) -> None:
    STORE.discard(token)


# --- Analysis -----------------------------------------------------------------------------------------------


def check_size(size: int) -> None:
    limit = current_app.config.get("IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    if size > limit:
        raise FileRejected(f"Tệp quá lớn ({format_size(size)}). Dung lượng tối đa là {format_size(limit)}.")


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB").replace(".", ",")
    return f"{max(1, round(size / 1024))} KB"


def _analyse(session: Session, spec: Kind, data: bytes, today: date) -> _Analysis:
    check_size(len(data))
    try:
        fmt = rules.detect_format(data)
        sheet = rules.read_sheet(data, fmt, max_rows=current_app.config.get("IMPORT_MAX_ROWS", 5000))
    except FileRefused as exc:
        raise FileRejected(str(exc)) from exc
    layout = rules.find_layout(spec, sheet)
    warnings = [f"Cột «{h}» không thuộc mẫu nhập nên được bỏ qua." for h in layout.ignored]
    if layout.header_row > 1:
        warnings.append(f"Dòng tiêu đề cột là dòng {layout.header_row}; các dòng phía trên được bỏ qua.")
    if layout.errors:
        return _Analysis(fmt, [], layout.errors, warnings)
    records, errors = rules.parse_records(spec, sheet, layout, today=today)
    planner = {"students": _plan_students, "teachers": _plan_teachers, "assignments": _plan_assignments}[spec.key]
    ctx = _Context(session=session, spec=spec, layout=layout, errors=errors, today=today)
    rows, apply = planner(ctx, records)
    position = {header: index for index, header in layout.headers.items()}
    ctx.errors.sort(key=lambda e: (e.row or 0, position.get(e.column, len(position))))
    return _Analysis(fmt, rows, ctx.errors, warnings, apply)


@dataclass
class _Context:
    session: Session
    spec: Kind
    layout: rules.Layout
    errors: list[RowError]
    today: date
    failed_rows: set[int] = field(default_factory=set)

    def __post_init__(self):
        self.failed_rows = {e.row for e in self.errors}

    def error(self, record: Record, key: str, message: str) -> None:
        self.errors.append(RowError(record.row, self.layout.header_of(key, self.spec), message))
        self.failed_rows.add(record.row)

    def failed(self, record: Record) -> bool:
        return record.row in self.failed_rows

    def current_year(self) -> SchoolYear | None:
        return self.session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def _fetch(session: Session, model, column, values) -> list:
    values = sorted(set(values))
    found = []
    for start in range(0, len(values), IN_CHUNK):
        found.extend(session.exec(select(model).where(column.in_(values[start:start + IN_CHUNK]))).all())
    return found


def _year_classes(ctx: _Context) -> tuple[SchoolYear | None, dict[str, SchoolClass]]:
    year = ctx.current_year()
    if year is None:
        ctx.errors.append(RowError(None, "", "Chưa có năm học hiện tại: hãy tạo năm học trước khi nhập dữ liệu."))
        return None, {}
    classes = ctx.session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id)).all()
    return year, {rules.squash(c.name): c for c in classes}


def _resolve_class(ctx: _Context, record: Record, year, classes: dict[str, SchoolClass]) -> SchoolClass | None:
    name = record.values.get("class_name")
    if name is None or year is None:
        return None
    klass = classes.get(rules.squash(name))
    if klass is None:
        known = sorted(c.name for c in classes.values())
        listing = ", ".join(known[:16]) + (" …" if len(known) > 16 else "")
        ctx.error(record, "class_name", f"Không có lớp «{name}» trong năm học {year.name}."
                  + (f" Các lớp hiện có: {listing}." if known else " Năm học này chưa có lớp nào."))
    return klass


def _changed(obj, fields: dict) -> list[str]:
    return [k for k, v in fields.items() if getattr(obj, k) != v]


# --- Students ----------------------------------------------------------------------------------------------------

STUDENT_FIELDS = ("personal_id", "full_name", "date_of_birth", "sex", "ethnicity", "nationality", "birthplace",
                  "hometown", "residence", "father_name", "father_occupation", "mother_name", "mother_occupation",
                  "guardian_name", "guardian_occupation")


@dataclass
class _StudentPlan:
    record: Record
    student: Student | None
    fields: dict
    klass: SchoolClass
    current: Enrollment | None  # the student's open enrolment this year, if any


def _plan_students(ctx: _Context, records: list[Record]):
    session = ctx.session
    year, classes = _year_classes(ctx)
    codes = [r.values["student_code"] for r in records if "student_code" in r.values]
    existing = {s.student_code: s for s in _fetch(session, Student, Student.student_code, codes)}
    ids = [r.values["personal_id"] for r in records if "personal_id" in r.values]
    id_owners = {s.personal_id: s for s in _fetch(session, Student, Student.personal_id, ids)}
    open_enrolments: dict[int, Enrollment] = {}
    if year is not None and existing:
        year_class_ids = [c.id for c in classes.values()]
        for enrolment in _fetch(session, Enrollment, Enrollment.student_id, [s.id for s in existing.values()]):
            if enrolment.class_id in year_class_ids and enrolment.left_on is None:
                open_enrolments[enrolment.student_id] = enrolment
    class_names = {c.id: c.name for c in classes.values()}

    plans: list[_StudentPlan] = []
    rows: list[PlannedRow] = []
    for record in records:
        values = record.values
        klass = _resolve_class(ctx, record, year, classes)
        student = existing.get(values.get("student_code"))
        owner = id_owners.get(values.get("personal_id"))
        if owner is not None and (student is None or owner.id != student.id):
            ctx.error(record, "personal_id", f"Số định danh «{values['personal_id']}» đã thuộc học sinh khác: "
                                             f"{owner.full_name} (mã {owner.student_code}).")
        if ctx.failed(record) or klass is None:
            continue
        fields = {k: values[k] for k in STUDENT_FIELDS if k in values}
        current = open_enrolments.get(student.id) if student else None
        label = f"{values['student_code']} · {values['full_name']} · {klass.name}"
        if student is None:
            rows.append(PlannedRow(record.row, "create", label))
        else:
            changed = _changed(student, fields)
            notes = []
            if current is None:
                notes.append(f"xếp vào lớp {klass.name}")
            elif current.class_id != klass.id:
                notes.append(f"chuyển lớp {class_names.get(current.class_id, '?')} → {klass.name}")
            if changed:
                headers = [ctx.spec.column(k).header for k in changed]
                notes.insert(0, "sửa " + ", ".join(h[0].lower() + h[1:] for h in headers))
            rows.append(PlannedRow(record.row, "update" if notes else "unchanged", label, "; ".join(notes)))
        plans.append(_StudentPlan(record, student, fields, klass, current))

    def apply(session: Session, today: date):
        next_number = _next_numbers(session, [c.id for c in classes.values()])
        students = []
        for plan in plans:
            if plan.student is None:
                student = Student(student_code=plan.record.values["student_code"], **plan.fields)
            else:
                student = plan.student
                for key, value in plan.fields.items():
                    setattr(student, key, value)
            session.add(student)
            students.append(student)
        session.flush()  # ids for the new students
        for plan, student in zip(plans, students, strict=True):
            _place(session, student, plan.klass, plan.current, year, today, next_number,
                   returning=plan.student is not None)
        session.flush()
        return []

    return rows, apply


def _next_numbers(session: Session, class_ids: list[int]) -> dict[int, int]:
    if not class_ids:
        return {}
    rows = session.exec(
        select(Enrollment.class_id, func.max(Enrollment.number)).where(Enrollment.class_id.in_(class_ids))
        .group_by(Enrollment.class_id)
    ).all()
    numbers = {class_id: 1 for class_id in class_ids}
    numbers.update({class_id: (top or 0) + 1 for class_id, top in rows})
    return numbers


def _place(session: Session, student: Student, klass: SchoolClass, current: Enrollment | None, year: SchoolYear,
           today: date, next_number: dict[int, int], *, returning: bool) -> None:
    """Put the student in the class this year: a new enrolment, or a move (before the year starts: in place)."""
    if current is not None and current.class_id == klass.id:
        return

    def number() -> int:
        value = next_number[klass.id]
        next_number[klass.id] = value + 1
        return value

    if current is not None and today < year.start_date:
        current.class_id, current.number = klass.id, number()
        session.add(current)
        return
    if current is not None:
        current.left_on = today
        session.add(current)
    earlier = session.exec(
        select(Enrollment).where(Enrollment.student_id == student.id, Enrollment.class_id == klass.id)
    ).first() if returning else None
    if earlier is not None:  # back to a class the student left earlier this year
        earlier.left_on = None
        session.add(earlier)
        return
    joined = today if current is not None else None
    session.add(Enrollment(student_id=student.id, class_id=klass.id, number=number(), joined_on=joined))


# --- Teachers ----------------------------------------------------------------------------------------------------


def _departments(session: Session) -> dict[str, Department]:
    by_key = {}
    for dept in session.exec(select(Department)).all():
        key = rules.norm_name(dept.name)
        by_key[key] = dept
        if key.startswith("tổ "):
            by_key.setdefault(key[3:], dept)
    return by_key


@dataclass
class _TeacherPlan:
    record: Record
    user: User | None
    profile: TeacherProfile | None
    add_role: bool
    user_fields: dict
    profile_fields: dict


def _plan_teachers(ctx: _Context, records: list[Record]):
    session = ctx.session
    names = [r.values["username"] for r in records if "username" in r.values]
    users = {u.username: u for u in _fetch(session, User, User.username, names)}
    user_ids = [u.id for u in users.values()]
    roles: dict[int, set[str]] = {}
    for row in _fetch(session, UserRole, UserRole.user_id, user_ids):
        roles.setdefault(row.user_id, set()).add(row.role)
    profiles = {p.user_id: p for p in _fetch(session, TeacherProfile, TeacherProfile.user_id, user_ids)}
    ids = [r.values["personal_id"] for r in records if "personal_id" in r.values]
    id_owners = {p.personal_id: p for p in _fetch(session, TeacherProfile, TeacherProfile.personal_id, ids)}
    departments = _departments(session)

    plans: list[_TeacherPlan] = []
    rows: list[PlannedRow] = []
    for record in records:
        values = record.values
        user = users.get(values.get("username"))
        user_roles = roles.get(user.id, set()) if user else set()
        if user is not None and "parent" in user_roles and not (user_roles & STAFF_ROLES):
            ctx.error(record, "username", f"Tên đăng nhập «{user.username}» đang là tài khoản phụ huynh; "
                                          "hãy dùng tên đăng nhập khác cho giáo viên.")
        owner = id_owners.get(values.get("personal_id"))
        if owner is not None and (user is None or owner.user_id != user.id):
            other = session.get(User, owner.user_id)
            ctx.error(record, "personal_id", f"Số định danh «{values['personal_id']}» đã thuộc tài khoản khác: "
                                             f"{other.full_name} ({other.username}).")
        department = None
        if "department" in values:
            key = rules.norm_name(values["department"])
            department = departments.get(key) or departments.get(key.removeprefix("tổ "))
            if department is None:
                known = "; ".join(sorted({d.name for d in departments.values()}))
                ctx.error(record, "department", f"Không có tổ chuyên môn «{values['department']}»."
                          + (f" Các tổ hiện có: {known}." if known else ""))
        if ctx.failed(record):
            continue
        user_fields = {k: values[k] for k in ("full_name", "email", "phone") if k in values}
        profile_fields = {k: values[k] for k in ("personal_id", "date_of_birth", "sex", "title") if k in values}
        if department is not None:
            profile_fields["department_id"] = department.id
        profile = profiles.get(user.id) if user else None
        add_role = user is not None and "teacher" not in user_roles
        label = f"{values['username']} · {values['full_name']}"
        if user is None:
            rows.append(PlannedRow(record.row, "create", label, "tài khoản mới, mật khẩu tạm"))
        else:
            changed = _changed(user, user_fields) + (_changed(profile, profile_fields) if profile else ["hồ sơ"])
            notes = []
            if changed:
                notes.append("sửa hồ sơ")
            if add_role:
                notes.append("thêm vai trò Giáo viên bộ môn")
            if not user.active:
                notes.append("tài khoản đang bị khoá")
            rows.append(PlannedRow(record.row, "update" if changed or add_role else "unchanged", label,
                                   "; ".join(notes)))
        plans.append(_TeacherPlan(record, user, profile, add_role, user_fields, profile_fields))

    def apply(session: Session, _today: date):
        created = []
        for plan in plans:
            user = plan.user
            if user is None:
                password = temporary_password()
                user = User(username=plan.record.values["username"], password_hash=hash_password(password),
                            must_change_password=True, **plan.user_fields)
                session.add(user)
                session.flush()
                session.add(UserRole(user_id=user.id, role="teacher"))
                created.append((user.username, user.full_name, password))
            else:
                for key, value in plan.user_fields.items():
                    setattr(user, key, value)
                session.add(user)
                if plan.add_role:
                    session.add(UserRole(user_id=user.id, role="teacher"))
            profile = plan.profile or TeacherProfile(user_id=user.id, personal_id=plan.profile_fields["personal_id"])
            for key, value in plan.profile_fields.items():
                setattr(profile, key, value)
            session.add(profile)
        session.flush()
        return created

    return rows, apply


PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def temporary_password() -> str:
    """Return a random password easy to copy by hand (no 0/O, 1/l/I), e.g. "Kq7m-Xr2d-Pw9t"."""
    while True:
        groups = ["".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3)]
        password = "-".join(groups)
        if (any(c.isdigit() for c in password) and any(c.isupper() for c in password)
                and any(c.islower() for c in password) and not password_problems(password)):
            return password


# --- Assignments -------------------------------------------------------------------------------------------------


@dataclass
class _AssignmentPlan:
    record: Record
    klass: SchoolClass
    subject: Subject
    teacher: User
    existing: TeachingAssignment | None


def _plan_assignments(ctx: _Context, records: list[Record]):
    session = ctx.session
    year, classes = _year_classes(ctx)
    grade_numbers = dict(session.exec(select(Grade.id, Grade.number)).all())
    subjects_by_grade: dict[int, list[Subject]] = {}
    for subject in session.exec(select(Subject).order_by(Subject.position)).all():
        subjects_by_grade.setdefault(subject.grade_id, []).append(subject)
    names = [r.values["teacher_username"] for r in records if "teacher_username" in r.values]
    teachers = {u.username: u for u in _fetch(session, User, User.username, names)}
    teacher_roles: dict[int, set[str]] = {}
    for row in _fetch(session, UserRole, UserRole.user_id, [u.id for u in teachers.values()]):
        teacher_roles.setdefault(row.user_id, set()).add(row.role)
    existing = {(a.class_id, a.subject_id): a for a in _fetch(
        session, TeachingAssignment, TeachingAssignment.class_id, [c.id for c in classes.values()])}
    users_by_id = {}

    seen: dict[tuple[int, int], int] = {}
    plans: list[_AssignmentPlan] = []
    rows: list[PlannedRow] = []
    for record in records:
        values = record.values
        klass = _resolve_class(ctx, record, year, classes)
        subject = _resolve_subject(ctx, record, klass, subjects_by_grade, grade_numbers) if klass else None
        teacher = None
        if "teacher_username" in values:
            teacher = teachers.get(values["teacher_username"])
            if teacher is None:
                ctx.error(record, "teacher_username", f"Không có tài khoản «{values['teacher_username']}».")
            elif "teacher" not in teacher_roles.get(teacher.id, set()):
                ctx.error(record, "teacher_username", f"Tài khoản «{teacher.username}» ({teacher.full_name}) "
                                                      "không có vai trò giáo viên. Hãy nhập danh sách giáo viên trước.")
            elif not teacher.active:
                ctx.error(record, "teacher_username", f"Tài khoản «{teacher.username}» đang bị khoá.")
            elif "teacher_name" in values and rules.norm(values["teacher_name"]) != rules.norm(teacher.full_name):
                ctx.error(record, "teacher_name", f"Tài khoản «{teacher.username}» là của «{teacher.full_name}», "
                                                  f"không khớp với «{values['teacher_name']}».")
        if klass is not None and subject is not None:
            first = seen.setdefault((klass.id, subject.id), record.row)
            if first != record.row:
                ctx.error(record, "subject_code" if "subject_code" in values else "subject_name",
                          f"Lớp {klass.name} – môn {subject.name} đã được phân công ở dòng {first}.")
        if ctx.failed(record) or klass is None or subject is None or teacher is None:
            continue
        current = existing.get((klass.id, subject.id))
        label = f"{klass.name} · {subject.name} · {teacher.full_name} ({teacher.username})"
        if current is None:
            rows.append(PlannedRow(record.row, "create", label))
        elif current.teacher_id != teacher.id:
            if current.teacher_id not in users_by_id:
                users_by_id[current.teacher_id] = session.get(User, current.teacher_id)
            previous = users_by_id[current.teacher_id]
            rows.append(PlannedRow(record.row, "update", label, f"thay {previous.full_name if previous else '?'}"))
        else:
            rows.append(PlannedRow(record.row, "unchanged", label))
        plans.append(_AssignmentPlan(record, klass, subject, teacher, current))

    def apply(session: Session, _today: date):
        for plan in plans:
            if plan.existing is None:
                session.add(TeachingAssignment(class_id=plan.klass.id, subject_id=plan.subject.id,
                                               teacher_id=plan.teacher.id))
            elif plan.existing.teacher_id != plan.teacher.id:
                plan.existing.teacher_id = plan.teacher.id
                session.add(plan.existing)
        session.flush()
        return []

    return rows, apply


def _resolve_subject(ctx: _Context, record: Record, klass: SchoolClass, subjects_by_grade, grade_numbers):
    values = record.values
    subjects = subjects_by_grade.get(klass.grade_id, [])
    grade = grade_numbers.get(klass.grade_id, "?")
    by_code = by_name = None
    if "subject_code" in values:
        wanted = values["subject_code"].casefold()
        by_code = next((s for s in subjects if s.code.casefold() == wanted
                        or (s.ministry_code or "").casefold() == wanted), None)
        if by_code is None:
            codes = ", ".join(s.code for s in subjects)
            ctx.error(record, "subject_code", f"Khối {grade} không có môn mã «{values['subject_code']}»."
                      + (f" Các mã môn: {codes}." if codes else ""))
            return None
    if "subject_name" in values:
        wanted = rules.norm_name(values["subject_name"])
        by_name = next((s for s in subjects if rules.norm_name(s.name) == wanted), None)
        if by_name is None:
            listing = "; ".join(s.name for s in subjects)
            ctx.error(record, "subject_name", f"Khối {grade} không có môn «{values['subject_name']}»."
                      + (f" Các môn: {listing}." if listing else ""))
            return None
    if by_code is not None and by_name is not None and by_code.id != by_name.id:
        ctx.error(record, "subject_name", f"Mã môn «{values['subject_code']}» là môn {by_code.name}, "
                                          f"không khớp với «{values['subject_name']}».")
        return None
    return by_code or by_name


# --- Templates ----------------------------------------------------------------------------------------------------


def template_examples(session: Session, kind: str) -> dict:
    """Example values taken from this school (a real class, department, subject, teacher) when there are some."""
    spec = kind_or_404(kind)
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()
    examples = {}
    klass = None
    if year is not None:
        klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id)
                             .order_by(SchoolClass.name)).first()
    if klass is not None:
        examples["class_name"] = klass.name
    if spec.key == "teachers":
        dept = session.exec(select(Department).order_by(Department.id)).first()
        if dept is not None:
            examples["department"] = dept.name
    if spec.key == "assignments" and klass is not None:
        subject = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id)
                               .order_by(Subject.position)).first()
        if subject is not None:
            examples["subject_code"], examples["subject_name"] = subject.code, subject.name
        teacher = session.exec(select(User).join(UserRole, UserRole.user_id == User.id)
                               .where(UserRole.role == "teacher", User.active).order_by(User.id)).first()
        if teacher is not None:
            examples["teacher_username"], examples["teacher_name"] = teacher.username, teacher.full_name
    return examples


def template_bytes(kind: str, fmt: str, examples: dict | None = None) -> bytes:
    """Return a template file (header row with the exact headers, one example row) as XLSX or CSV."""
    spec = kind_or_404(kind)
    header = rules.header_row_values(spec)
    example = rules.example_row_values(spec, examples)
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerow(example)
        return rules.UTF8_BOM + out.getvalue().encode("utf-8")
    if fmt != "xlsx":
        raise NotFound("Không có mẫu ở định dạng này.")
    return _template_xlsx(spec, header, example)


def _template_xlsx(spec: Kind, header: list[str], example: list[str]) -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = spec.label[:31]
    sheet.append(header)
    sheet.append(example)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    required_fill = PatternFill("solid", fgColor="FCE4D6")
    for index, column in enumerate(spec.columns, start=1):
        letter = rules.column_letter(index - 1)
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, required_fill if column.required else fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        width = max(len(column.header), len(column.example or "")) + 4
        sheet.column_dimensions[letter].width = min(max(width, 12), 45)
        # Text format keeps leading zeros (số định danh, điện thoại) and dates as typed (dd/mm/yyyy).
        sheet.column_dimensions[letter].number_format = "@"
        sheet.cell(row=2, column=index).number_format = "@"
        if column.key == "sex":
            rule = DataValidation(type="list", formula1='"Nam,Nữ"', allow_blank=not column.required)
            rule.add(f"{letter}2:{letter}5001")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"
    guide = book.create_sheet("Hướng dẫn")
    guide.append(["Cột", "Bắt buộc", "Ghi chú"])
    for cell in guide[1]:
        cell.font = bold
    for column in spec.columns:
        guide.append([column.header, "Có" if column.required else "", column.help])
    for group in spec.one_of:
        guide.append([" / ".join(spec.column(k).header for k in group), "Một trong hai", ""])
    guide.append([])
    guide.append(["Chỉ trang tính đầu tiên được đọc. Dòng 1 là tiêu đề cột; mỗi dòng sau là một bản ghi."])
    guide.column_dimensions["A"].width = 28
    guide.column_dimensions["B"].width = 14
    guide.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
