"""The gradebook's single write path and its read models.

Every change of an assessment, a subject comment or a homeroom record goes through ``save_cell``,
``save_comment`` or ``save_record``: each validates the value, authorizes the actor by scope (the
assigned (class, subject) pair; the homeroom class), checks that the student belongs to the class, and
writes with optimistic concurrency — the caller sends the version it saw and a stale write is refused
with a message naming who changed the cell. This is the one place where period locks and the audit
trail hook in (`_versioned_write`): a write in a locked period is refused unless a grant covers it, and
every change appends an audit event in the same transaction. Callers commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal import audit
from portal.assessment import assess
from portal.authz import Actor
from portal.errors import Conflict, DomainError, Forbidden, NotFound
from portal.gradebook import rules
from portal.models import (
    Assessment,
    Enrollment,
    Grade,
    SchoolClass,
    SchoolYear,
    Student,
    StudentRecord,
    Subject,
    SubjectComment,
    TeachingAssignment,
    Transcript,
    User,
    utcnow,
)
from portal.periods import service as periods

TERMS = ("hk1", "hk2")
TERM_LABELS = {"hk1": "Học kì I", "hk2": "Học kì II", "year": "Cả năm"}


class CellRefused(DomainError):
    """A typed value that was not stored; shown next to the cell."""

    status = 422


# --- Scope -----------------------------------------------------------------------------------------------


@dataclass
class Pair:
    klass: SchoolClass
    subject: Subject
    grade: Grade
    year: SchoolYear


def load_pair(session: Session, *, class_id: int, subject_id: int) -> Pair:
    """Load a (class, subject) pair, refusing a subject that is not taught in the class's grade."""
    klass = session.get(SchoolClass, class_id)
    subject = session.get(Subject, subject_id)
    if klass is None or subject is None or subject.grade_id != klass.grade_id:
        raise NotFound("Không tìm thấy lớp hoặc môn học này.")
    return Pair(klass, subject, session.get(Grade, klass.grade_id), session.get(SchoolYear, klass.school_year_id))


def require_teacher_of(actor: Actor, pair: Pair) -> None:
    """Only the teacher assigned to (class, subject) may write its assessments."""
    if (pair.klass.id, pair.subject.id) not in actor.teaching_pairs:
        raise Forbidden(
            f"Bạn không được phân công dạy môn {pair.subject.name} lớp {pair.klass.name}, nên không thể nhập điểm."
        )


def require_homeroom_of(actor: Actor, klass: SchoolClass) -> None:
    if klass.id not in actor.homeroom_class_ids:
        raise Forbidden(f"Bạn không phải giáo viên chủ nhiệm lớp {klass.name}.")


def require_enrolled(session: Session, *, student_id: int, class_id: int) -> Student:
    student = session.exec(
        select(Student).join(Enrollment, Enrollment.student_id == Student.id)
        .where(Student.id == student_id, Enrollment.class_id == class_id, Enrollment.left_on.is_(None))
    ).first()
    if student is None:
        raise NotFound("Học sinh này không thuộc lớp.")
    return student


def slots_for(pair: Pair, term: str) -> list[rules.Slot]:
    if term not in (*TERMS, "year"):
        raise NotFound("Học kì không hợp lệ.")
    return rules.term_slots(subject_kind=pair.subject.kind, periods_per_year=pair.subject.periods_per_year,
                            grade=pair.grade.number, subject_code=pair.subject.code,
                            has_periodic_test=pair.subject.has_periodic_test, term=term)


# --- Writes ---------------------------------------------------------------------------------------------


def require_unreleased(session: Session, *, student_id: int, school_year_id: int) -> None:
    """Refuse a change to a student's year whose transcript is released (the database refuses it too)."""
    version = session.exec(select(Transcript.version).where(
        Transcript.student_id == student_id, Transcript.school_year_id == school_year_id,
        Transcript.status == "released")).first()
    if version is not None:
        raise Conflict(f"Học bạ năm học này của học sinh đã phát hành (phiên bản {version}): dữ liệu không thể "
                       "sửa. Muốn sửa, Hiệu trưởng phải thu hồi học bạ theo quyết định bằng văn bản.")


def _versioned_write(session: Session, model, *, key: dict, values: dict, version: int, actor_id: int,
                     describe, scope: periods.Scope, action: str, label: str) -> object:
    """Insert or update one row if its version is still `version` (0 = not created yet); else Conflict.

    First refuses a write in a locked period (unless a grant covers it); then writes, and appends the audit
    event (before → after, the grant it was made under) in the same transaction.
    """
    grant_id = periods.require_open(session, scope)
    if scope.student_id is not None:
        require_unreleased(session, student_id=scope.student_id, school_year_id=scope.school_year_id)
    row = session.exec(select(model).filter_by(**key)).first()
    field_name = "value" if "value" in values else "text"
    before = None if row is None else {field_name: getattr(row, field_name), "version": row.version}
    now = utcnow()
    if row is None:
        if version != 0:
            raise Conflict("Ô này vừa bị xoá hoặc thay đổi. Vui lòng tải lại trang.")
        row = model(**key, **values, version=1, updated_by=actor_id, updated_at=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = session.exec(select(model).filter_by(**key)).first()
            raise Conflict(describe(session, row)) from None
    else:
        result = session.exec(
            update(model).where(model.id == row.id, model.version == version)
            .values(**values, version=model.version + 1, updated_by=actor_id, updated_at=now)
        )
        if result.rowcount != 1:
            session.refresh(row)
            raise Conflict(describe(session, row))
        session.refresh(row)
    if before is None or before[field_name] != getattr(row, field_name):
        audit.record(session, action, object_type=model.__tablename__, object_id=row.id,
                     school_year_id=scope.school_year_id, class_id=scope.class_id, subject_id=scope.subject_id,
                     student_id=scope.student_id, period=scope.period, grant_id=grant_id, note=label,
                     before=before, after={field_name: getattr(row, field_name), "version": row.version})
    return row


def _stale_message(session: Session, row) -> str:
    if row is None:
        return "Ô này vừa được người khác thay đổi. Vui lòng tải lại trang."
    who = session.get(User, row.updated_by)
    value = getattr(row, "value", None) or getattr(row, "text", "")
    when = row.updated_at.strftime("%H:%M %d/%m") if row.updated_at else ""
    shown = rules.display(value) if value else "(trống)"
    return (f"{who.full_name if who else 'Người khác'} vừa sửa ô này thành “{shown}” lúc {when} (giờ UTC). "
            "Giá trị bạn nhập chưa được lưu: hãy xem lại rồi nhập lại nếu cần.")


def save_cell(*, session: Session, actor: Actor, class_id: int, subject_id: int, term: str, student_id: int,
              slot: str, raw: str | None, version: int) -> Assessment:
    """Validate and store one assessment cell of an assigned (class, subject) pair."""
    pair = load_pair(session, class_id=class_id, subject_id=subject_id)
    require_teacher_of(actor, pair)
    require_enrolled(session, student_id=student_id, class_id=class_id)
    spec = next((s for s in slots_for(pair, term) if s.code == slot), None)
    if spec is None:
        raise NotFound("Ô điểm không hợp lệ.")
    try:
        value = rules.normalize(spec.kind, raw)
    except rules.CellError as exc:
        raise CellRefused(str(exc)) from None
    return _versioned_write(
        session, Assessment,
        key={"student_id": student_id, "subject_id": subject_id, "school_year_id": pair.year.id, "term": term,
             "slot": slot},
        values={"value": value, "class_id": class_id}, version=version, actor_id=actor.id,
        describe=_stale_message, action="assessment.saved", label=f"{term}/{slot}",
        scope=periods.scope_for(pair.klass, term=term, slot=slot, subject_id=subject_id, student_id=student_id),
    )


def save_comment(*, session: Session, actor: Actor, class_id: int, subject_id: int, term: str,
                 student_id: int, text: str | None, version: int) -> SubjectComment:
    """Store a subject teacher's comment on a student for a term."""
    pair = load_pair(session, class_id=class_id, subject_id=subject_id)
    require_teacher_of(actor, pair)
    require_enrolled(session, student_id=student_id, class_id=class_id)
    if term not in TERMS:
        raise NotFound("Học kì không hợp lệ.")
    cleaned = " ".join((text or "").split())
    if len(cleaned) > 1000:
        raise CellRefused("Nhận xét dài quá 1000 ký tự.")
    return _versioned_write(
        session, SubjectComment,
        key={"student_id": student_id, "subject_id": subject_id, "school_year_id": pair.year.id, "term": term},
        values={"text": cleaned, "class_id": class_id}, version=version, actor_id=actor.id,
        describe=_stale_message, action="comment.saved", label=term,
        scope=periods.scope_for(pair.klass, term=term, slot=None, subject_id=subject_id, student_id=student_id),
    )


def record_kind(key: str, term: str, grade: int) -> str | None:
    """Return how a homeroom record key is validated in a term, or None when it does not exist there."""
    if term in TERMS:
        if key == "conduct" and grade >= 6:
            return "conduct"
        if key in ("absences_excused", "absences_unexcused"):
            return "count"
        if key in (*rules.QUALITIES, *rules.COMPETENCIES) and grade <= 5:
            return "rating"
    if term == "year":
        if key == "homeroom_comment" or key == "award_note":
            return "text"
        if key == "conduct_retrained" and grade >= 6:
            return "conduct"
    return None


def save_record(*, session: Session, actor: Actor, class_id: int, student_id: int, term: str, key: str,
                raw: str | None, version: int) -> StudentRecord:
    """Store a homeroom entry (conduct, absences, qualities, comment …) for a student of the own class."""
    klass = session.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    require_homeroom_of(actor, klass)
    require_enrolled(session, student_id=student_id, class_id=class_id)
    grade = session.get(Grade, klass.grade_id)
    kind = record_kind(key, term, grade.number)
    if kind is None:
        raise NotFound("Mục nhập không hợp lệ.")
    try:
        if kind == "count":
            value = rules.parse_count(raw)
        elif kind == "text":
            value = " ".join((raw or "").split())
            if len(value) > 2000:
                raise rules.CellError("Nội dung dài quá 2000 ký tự.")
        else:
            value = rules.normalize(kind, raw)
    except rules.CellError as exc:
        raise CellRefused(str(exc)) from None
    return _versioned_write(
        session, StudentRecord,
        key={"student_id": student_id, "school_year_id": klass.school_year_id, "term": term, "key": key},
        values={"value": value, "class_id": class_id}, version=version, actor_id=actor.id,
        describe=_stale_message, action="record.saved", label=f"{term}/{key}",
        scope=periods.scope_for(klass, term=term, slot=None, subject_id=None, student_id=student_id),
    )


# --- Reads ----------------------------------------------------------------------------------------------


@dataclass
class SheetRow:
    student: Student
    number: int | None
    cells: dict[str, Assessment] = field(default_factory=dict)
    comment: SubjectComment | None = None
    average: str | None = None  # term average, or comment result (D/CD) for comment subjects
    year: str | None = None  # year result (HK II sheet)
    missing: int = 0


@dataclass
class Sheet:
    pair: Pair
    term: str
    slots: list[rules.Slot]
    rows: list[SheetRow]

    @property
    def filled(self) -> int:
        return sum(1 for row in self.rows for s in self.slots if row.cells.get(s.code) and row.cells[s.code].value)

    @property
    def total(self) -> int:
        return len(self.rows) * len(self.slots)


def class_roster(session: Session, class_id: int, *, include_left: bool = False) -> list[tuple[Enrollment, Student]]:
    """The class's students in roll order; those who left it (e.g. at the end of a past year) only on request."""
    query = select(Enrollment, Student).join(Student, Student.id == Enrollment.student_id) \
        .where(Enrollment.class_id == class_id)
    if not include_left:
        query = query.where(Enrollment.left_on.is_(None))
    return session.exec(query.order_by(Enrollment.number, Student.full_name)).all()


def load_sheet(session: Session, *, class_id: int, subject_id: int, term: str) -> Sheet:
    """Load one (class, subject, term) sheet with each student's cells, comment and computed results."""
    pair = load_pair(session, class_id=class_id, subject_id=subject_id)
    slots = slots_for(pair, term)
    roster = class_roster(session, class_id)
    ids = [s.id for _, s in roster]
    cells = session.exec(
        select(Assessment).where(Assessment.subject_id == subject_id, Assessment.school_year_id == pair.year.id,
                                 Assessment.student_id.in_(ids))
    ).all()
    by_student: dict[int, dict[tuple[str, str], Assessment]] = {}
    for cell in cells:
        by_student.setdefault(cell.student_id, {})[(cell.term, cell.slot)] = cell
    comments = {c.student_id: c for c in session.exec(
        select(SubjectComment).where(SubjectComment.subject_id == subject_id, SubjectComment.term == term,
                                     SubjectComment.school_year_id == pair.year.id,
                                     SubjectComment.student_id.in_(ids)))}
    rows = []
    for enrollment, student in roster:
        mine = by_student.get(student.id, {})
        row = SheetRow(student=student, number=enrollment.number,
                       cells={slot: cell for (t, slot), cell in mine.items() if t == term},
                       comment=comments.get(student.id))
        row.missing = sum(1 for s in slots if not (row.cells.get(s.code) and row.cells[s.code].value))
        if pair.grade.number >= 6 and term in TERMS:
            row.average, row.year = subject_results(pair, mine, term)
        rows.append(row)
    return Sheet(pair=pair, term=term, slots=slots, rows=rows)


def subject_results(pair: Pair, cells: dict[tuple[str, str], Assessment], term: str) -> tuple[str | None, str | None]:
    """Return (this term's result, the year's result when term is hk2) for one student's TT22 subject."""
    values = {(pair.subject.code, t, s): c.value for (t, s), c in cells.items()}
    info = rules.SubjectInfo(pair.subject.code, pair.subject.name, pair.subject.kind, pair.subject.periods_per_year,
                             pair.subject.has_periodic_test)
    case = rules.secondary_case(grade=pair.grade.number, subjects=[info], cells=values, records={})
    result = assess(case)["subjects"][pair.subject.code]
    return result.get(term), (result.get("year") if term == "hk2" else None)


def teacher_pairs(session: Session, *, actor: Actor, year: SchoolYear) -> list[tuple[SchoolClass, Subject]]:
    """Return the actor's (class, subject) pairs in a school year, in class then subject order."""
    return session.exec(
        select(SchoolClass, Subject)
        .join(TeachingAssignment, TeachingAssignment.class_id == SchoolClass.id)
        .join(Subject, Subject.id == TeachingAssignment.subject_id)
        .where(TeachingAssignment.teacher_id == actor.id, SchoolClass.school_year_id == year.id)
        .order_by(SchoolClass.name, Subject.position)
    ).all()


def student_case(session: Session, *, student_id: int, klass: SchoolClass) -> dict:
    """Build a student's whole-year case (all subjects of the grade) in the CLI's JSON contract."""
    grade = session.get(Grade, klass.grade_id)
    subjects = session.exec(select(Subject).where(Subject.grade_id == grade.id).order_by(Subject.position)).all()
    codes = {s.id: s.code for s in subjects}
    cells = {
        (codes[c.subject_id], c.term, c.slot): c.value
        for c in session.exec(select(Assessment).where(Assessment.student_id == student_id,
                                                       Assessment.school_year_id == klass.school_year_id))
        if c.subject_id in codes
    }
    records = {(r.term, r.key): r.value for r in session.exec(
        select(StudentRecord).where(StudentRecord.student_id == student_id,
                                    StudentRecord.school_year_id == klass.school_year_id))}
    infos = [rules.SubjectInfo(s.code, s.name, s.kind, s.periods_per_year, s.has_periodic_test) for s in subjects]
    build = rules.primary_case if grade.number <= 5 else rules.secondary_case
    return build(grade=grade.number, subjects=infos, cells=cells, records=records)


def student_result(session: Session, *, student_id: int, klass: SchoolClass) -> dict:
    """Compute a student's year with the assessment law (the output of `python -m portal.assessment`)."""
    return assess(student_case(session, student_id=student_id, klass=klass))
