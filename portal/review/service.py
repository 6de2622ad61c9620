"""Review: the department head's read-only view of gradebooks and flags; class and school summaries.

Flags are the only writes here (``add_flag``, ``resolve_flag``): each validates, authorizes by scope and
raises a domain error; callers commit. Summaries compute every student's year with the assessment law
(the same ``assess`` as the CLI and the gradebook) from rows loaded in bulk, a few queries per class.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import func, update
from sqlmodel import Session, select

from portal.assessment import InvalidCase, assess
from portal.authz import Actor
from portal.errors import Conflict, DomainError, Forbidden, NotFound
from portal.gradebook import rules
from portal.gradebook.service import (
    Sheet,
    class_roster,
    load_pair,
    load_sheet,
    require_enrolled,
    slots_for,
)
from portal.models import (
    Assessment,
    Department,
    Enrollment,
    Flag,
    Grade,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentRecord,
    Subject,
    TeachingAssignment,
    Term,
    User,
    utcnow,
)

SHEET_TERMS = ("hk1", "hk2", "year")
SUMMARY_TERMS = {"hk1": "Học kì I", "hk2": "Học kì II", "year": "Cả năm"}
NOTE_MAX = 1000
VIETNAM = timezone(timedelta(hours=7), "ICT")

# Count keys, in display order; None counts the students whose level cannot be computed yet.
LEARNING_KEYS = ("T", "K", "D", "CD", None)
PRIMARY_KEYS = ("HTXS", "HTT", "HT", "CHT", None)
DECISION_KEYS = ("len_lop", "kiem_tra_lai", "ren_luyen_he", "o_lai", None)
AWARD_KEYS = ("xuat_sac", "gioi")
MISSING_LABEL = "Chưa đủ dữ liệu"
FINAL_GRADES = (9, 12)

# Short column headings for the class summary (the full name is the tooltip and the XLSX heading).
SUBJECT_SHORT = {"van": "Văn", "toan": "Toán", "anh": "T.Anh", "gdcd": "GDCD", "lsdl": "LS&ĐL", "khtn": "KHTN",
                 "congnghe": "C.Nghệ", "tinhoc": "Tin", "gdtc": "GDTC", "amnhac": "Â.Nhạc", "mithuat": "M.Thuật",
                 "hdtn": "HĐTN", "gddp": "GDĐP", "su": "Sử", "dia": "Địa", "ly": "Lí", "hoa": "Hoá", "sinh": "Sinh",
                 "gdqpan": "GDQP", "gdktpl": "GDKT&PL", "tieng_viet": "T.Việt", "ngoai_ngu": "N.Ngữ",
                 "dao_duc": "Đ.Đức", "tnxh": "TN&XH", "khoa_hoc": "K.Học", "tin_cn": "Tin&CN"}


class FlagRefused(DomainError):
    """A note that was not stored (empty, too long); the message is shown next to the form."""

    status = 422


def require_term(term: str, allowed=SHEET_TERMS) -> str:
    if term not in allowed:
        raise NotFound("Học kì không hợp lệ.")
    return term


def current_year(session: Session) -> SchoolYear | None:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def school_name(session: Session) -> str:
    return session.exec(select(School.name)).first() or ""


# --- Flags ---------------------------------------------------------------------------------------------


def _clean_note(text: str | None, *, required: bool, what: str) -> str:
    lines = [" ".join(line.split()) for line in (text or "").strip().splitlines()]
    cleaned = "\n".join(lines).strip()
    if required and not cleaned:
        raise FlagRefused(f"Vui lòng nhập {what}.")
    if len(cleaned) > NOTE_MAX:
        raise FlagRefused(f"{what.capitalize()} dài {len(cleaned)} ký tự, vượt quá {NOTE_MAX} ký tự cho phép.")
    return cleaned


def heads_subject(actor: Actor, subject: Subject) -> bool:
    return subject.department_id is not None and subject.department_id in actor.department_ids


def add_flag(*, session: Session, actor: Actor, class_id: int, subject_id: int, term: str,
             student_id: int | None = None, slot: str | None = None, note: str | None) -> Flag:
    """Flag a sheet, a student's row or one cell of a (class, subject, term) for its teacher to review."""
    pair = load_pair(session, class_id=class_id, subject_id=subject_id)
    require_term(term)
    if not heads_subject(actor, pair.subject):
        raise Forbidden(f"Chỉ tổ trưởng chuyên môn của môn {pair.subject.name} mới được đánh dấu bảng điểm này.")
    if slot and student_id is None:
        raise FlagRefused("Hãy chọn học sinh có ô điểm cần đánh dấu.")
    if student_id is not None:
        require_enrolled(session, student_id=student_id, class_id=class_id)
    if slot and slot not in {s.code for s in slots_for(pair, term)}:
        raise FlagRefused("Ô điểm đã chọn không có trong bảng điểm này.")
    text = _clean_note(note, required=True, what="nội dung ghi chú cho giáo viên")
    flag = Flag(class_id=class_id, subject_id=subject_id, term=term, student_id=student_id, slot=slot or None,
                note=text, status="open", created_by=actor.id)
    session.add(flag)
    session.flush()
    return flag


def may_resolve(actor: Actor, flag: Flag, subject: Subject | None) -> bool:
    """The teacher assigned to the flag's (class, subject), or a head of the subject's department."""
    if (flag.class_id, flag.subject_id) in actor.teaching_pairs:
        return True
    return subject is not None and heads_subject(actor, subject)


def resolve_flag(*, session: Session, actor: Actor, flag_id: int, resolution: str | None = None) -> Flag:
    """Close an open flag, with an optional note on what was done."""
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound("Không tìm thấy ghi chú này.")
    if not may_resolve(actor, flag, session.get(Subject, flag.subject_id)):
        raise Forbidden("Chỉ giáo viên dạy môn này của lớp hoặc tổ trưởng chuyên môn mới được đóng ghi chú.")
    text = _clean_note(resolution, required=False, what="nội dung xử lý")
    if flag.status != "open":
        raise Conflict("Ghi chú này đã được xử lý trước đó.")
    result = session.exec(
        update(Flag).where(Flag.id == flag.id, Flag.status == "open")
        .values(status="resolved", resolved_by=actor.id, resolved_at=utcnow(), resolution=text or None)
    )
    if result.rowcount != 1:
        raise Conflict("Ghi chú này vừa được người khác xử lý.")
    session.refresh(flag)
    return flag


def open_flags(session: Session, *, class_id: int, subject_id: int, term: str) -> list[Flag]:
    """Return the open flags of a (class, subject, term) sheet, oldest first."""
    return list(session.exec(
        select(Flag).where(Flag.class_id == class_id, Flag.subject_id == subject_id, Flag.term == term,
                           Flag.status == "open").order_by(Flag.created_at, Flag.id)
    ))


@dataclass
class FlagView:
    """A flag with what a screen says about it: whose row, which cell, who wrote and who closed it."""

    flag: Flag
    student: Student | None
    number: int | None
    slot_label: str | None
    author: str
    resolver: str | None

    @property
    def created_local(self) -> str:
        return local_time(self.flag.created_at)

    @property
    def resolved_local(self) -> str:
        return local_time(self.flag.resolved_at)

    @property
    def target(self) -> str:
        if self.student is None:
            return "Cả bảng điểm"
        name = self.student.full_name
        return f"{name} · ô {self.slot_label}" if self.slot_label else name


def local_time(moment: datetime | None) -> str:
    """Show a stored UTC instant in Vietnam's time (UTC+7 all year)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite returns naive values of what was stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def describe_flags(session: Session, flags: list[Flag]) -> list[FlagView]:
    """Attach student, cell label and people's names to flags (a few queries for the whole list)."""
    if not flags:
        return []
    student_ids = {f.student_id for f in flags if f.student_id}
    students, numbers = {}, {}
    if student_ids:
        students = {s.id: s for s in session.exec(select(Student).where(Student.id.in_(student_ids)))}
        numbers = {(e.student_id, e.class_id): e.number for e in session.exec(
            select(Enrollment).where(Enrollment.student_id.in_(student_ids)))}
    user_ids = {f.created_by for f in flags} | {f.resolved_by for f in flags if f.resolved_by}
    names = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(user_ids))).all())
    labels: dict[tuple[int, int, str], dict[str, str]] = {}
    views = []
    for f in flags:
        slot_label = None
        if f.slot:
            key = (f.class_id, f.subject_id, f.term)
            if key not in labels:
                pair = load_pair(session, class_id=f.class_id, subject_id=f.subject_id)
                labels[key] = {s.code: s.label for s in slots_for(pair, f.term)}
            slot_label = labels[key].get(f.slot, f.slot)
        views.append(FlagView(flag=f, student=students.get(f.student_id),
                              number=numbers.get((f.student_id, f.class_id)), slot_label=slot_label,
                              author=names.get(f.created_by, ""),
                              resolver=names.get(f.resolved_by) if f.resolved_by else None))
    return views


# --- The department head's screens --------------------------------------------------------------------


@dataclass
class PairStatus:
    klass: SchoolClass
    subject: Subject
    teacher: str | None
    size: int
    filled: dict[str, int]
    total: dict[str, int]
    open_flags: int

    def percent(self, term: str) -> int:
        total = self.total.get(term, 0)
        return round(100 * self.filled.get(term, 0) / total) if total else 0

    def complete(self, term: str) -> bool:
        return self.total.get(term, 0) > 0 and self.filled.get(term, 0) >= self.total[term]


@dataclass
class SubjectGroup:
    name: str
    pairs: list[PairStatus] = field(default_factory=list)

    @property
    def open_flags(self) -> int:
        return sum(p.open_flags for p in self.pairs)


@dataclass
class DepartmentView:
    department: Department
    groups: list[SubjectGroup]

    @property
    def open_flags(self) -> int:
        return sum(g.open_flags for g in self.groups)


def department_overview(session: Session, *, actor: Actor) -> tuple[SchoolYear | None, list[DepartmentView]]:
    """Return, per department the actor heads, its subjects × this year's classes with completeness."""
    year = current_year(session)
    departments = session.exec(select(Department).where(Department.head_id == actor.id).order_by(Department.name)).all()
    if year is None or not departments:
        return year, [DepartmentView(d, []) for d in departments]
    subjects = session.exec(
        select(Subject).where(Subject.department_id.in_([d.id for d in departments])).order_by(Subject.position)
    ).all()
    grades = {g.id: g.number for g in session.exec(select(Grade))}
    classes = session.exec(
        select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                  SchoolClass.grade_id.in_({s.grade_id for s in subjects}))
        .order_by(SchoolClass.name)
    ).all() if subjects else []
    class_ids = [c.id for c in classes]
    subject_ids = [s.id for s in subjects]
    sizes = dict(session.exec(
        select(Enrollment.class_id, func.count())
        .where(Enrollment.class_id.in_(class_ids), Enrollment.left_on.is_(None))
        .group_by(Enrollment.class_id)
    ).all()) if class_ids else {}
    teachers = {(c, s): name for c, s, name in session.exec(
        select(TeachingAssignment.class_id, TeachingAssignment.subject_id, User.full_name)
        .join(User, User.id == TeachingAssignment.teacher_id)
        .where(TeachingAssignment.class_id.in_(class_ids), TeachingAssignment.subject_id.in_(subject_ids))
    ).all()} if class_ids else {}
    filled: dict[tuple[int, int, str, str], int] = {}
    if class_ids:
        rows = session.exec(
            select(Enrollment.class_id, Assessment.subject_id, Assessment.term, Assessment.slot, func.count())
            .join(Enrollment, Enrollment.student_id == Assessment.student_id)
            .where(Enrollment.class_id.in_(class_ids), Enrollment.left_on.is_(None),
                   Assessment.subject_id.in_(subject_ids), Assessment.school_year_id == year.id,
                   Assessment.term.in_(("hk1", "hk2")), Assessment.value != "")
            .group_by(Enrollment.class_id, Assessment.subject_id, Assessment.term, Assessment.slot)
        ).all()
        filled = {(c, s, t, slot): n for c, s, t, slot, n in rows}
    flags = dict(((c, s), n) for c, s, n in session.exec(
        select(Flag.class_id, Flag.subject_id, func.count())
        .where(Flag.class_id.in_(class_ids), Flag.subject_id.in_(subject_ids), Flag.status == "open")
        .group_by(Flag.class_id, Flag.subject_id)
    ).all()) if class_ids else {}

    views = []
    for dept in departments:
        groups: dict[str, SubjectGroup] = {}
        mine = sorted((s for s in subjects if s.department_id == dept.id),
                      key=lambda s: (s.position, grades[s.grade_id]))
        for subject in mine:
            group = groups.setdefault(subject.name, SubjectGroup(subject.name))
            for klass in classes:
                if klass.grade_id != subject.grade_id:
                    continue
                size = sizes.get(klass.id, 0)
                done, total = {}, {}
                for term in ("hk1", "hk2"):
                    codes = [s.code for s in _slots(subject, grades[klass.grade_id], term)]
                    total[term] = size * len(codes)
                    done[term] = sum(filled.get((klass.id, subject.id, term, code), 0) for code in codes)
                group.pairs.append(PairStatus(klass, subject, teachers.get((klass.id, subject.id)), size, done, total,
                                              flags.get((klass.id, subject.id), 0)))
        for group in groups.values():
            group.pairs.sort(key=lambda p: (grades[p.klass.grade_id], p.klass.name))
        views.append(DepartmentView(dept, list(groups.values())))
    return year, views


def _slots(subject: Subject, grade: int, term: str) -> list[rules.Slot]:
    return rules.term_slots(subject_kind=subject.kind, periods_per_year=subject.periods_per_year, grade=grade,
                            subject_code=subject.code, has_periodic_test=subject.has_periodic_test, term=term)


@dataclass
class ReviewSheet:
    sheet: Sheet
    teacher: str | None
    flags: list[FlagView]
    flagged_students: set[int]
    flagged_cells: dict[tuple[int, str], list[str]]
    sheet_flags: int

    @property
    def open(self) -> list[FlagView]:
        return [v for v in self.flags if v.flag.status == "open"]

    @property
    def resolved(self) -> list[FlagView]:
        return [v for v in self.flags if v.flag.status != "open"]


def review_sheet(session: Session, *, class_id: int, subject_id: int, term: str) -> ReviewSheet:
    """Load a sheet for reading with its flags (open and resolved) and where the open ones point."""
    require_term(term)
    sheet = load_sheet(session, class_id=class_id, subject_id=subject_id, term=term)
    teacher = session.exec(
        select(User.full_name).join(TeachingAssignment, TeachingAssignment.teacher_id == User.id)
        .where(TeachingAssignment.class_id == class_id, TeachingAssignment.subject_id == subject_id)
    ).first()
    flags = session.exec(
        select(Flag).where(Flag.class_id == class_id, Flag.subject_id == subject_id, Flag.term == term)
        .order_by(Flag.created_at.desc(), Flag.id.desc())
    ).all()
    views = describe_flags(session, list(flags))
    students: set[int] = set()
    cells: dict[tuple[int, str], list[str]] = defaultdict(list)
    whole = 0
    for f in flags:
        if f.status != "open":
            continue
        if f.student_id is None:
            whole += 1
        elif f.slot:
            cells[(f.student_id, f.slot)].append(f.note)
        else:
            students.add(f.student_id)
    return ReviewSheet(sheet, teacher, views, students, dict(cells), whole)


# --- Class and school summaries ------------------------------------------------------------------------


@dataclass
class StudentLine:
    """One student's year as the law computes it, with the homeroom records it used."""

    number: int | None
    student: Student
    regime: str
    cells: dict[tuple[str, str, str], str]
    records: dict[tuple[str, str], str]
    result: dict | None  # the engine's JSON output; None when the stored data cannot be assessed
    error: str | None = None

    def subject(self, code: str, term: str) -> str | None:
        """A subject's result in a term or the year: average, D/CD, M (TT22); level (TT27)."""
        if self.regime == "tt27":
            return self.cells.get((code, "hk2" if term == "year" else term, "ck_level")) or None
        if self.result is None:
            return None
        values = self.result["subjects"].get(code, {})
        if values.get("year") == "M":
            return "M"
        return values.get(term)

    def test_score(self, code: str, term: str) -> str | None:
        return self.cells.get((code, "hk2" if term == "year" else term, "ck_test")) or None

    def learning(self, term: str) -> str | None:
        if self.result is None or self.regime == "tt27":
            return None
        return self.result["learning"].get(term)

    def conduct(self, term: str) -> str | None:
        if self.regime == "tt27":
            return None
        if term in ("hk1", "hk2"):
            return self.records.get((term, "conduct")) or None
        return self.result["conduct"].get("year") if self.result else None

    def overall(self) -> str | None:
        return self.result.get("overall") if self.result and self.regime == "tt27" else None

    def decision(self) -> str | None:
        return self.result.get("decision") if self.result and self.regime == "tt22" else None

    def award(self) -> str | None:
        return self.result.get("award") if self.result else None

    def absences(self, term: str) -> tuple[int | None, int | None]:
        """Return (excused, unexcused) sessions in a term or the year; None while not entered."""
        terms = ("hk1", "hk2") if term == "year" else (term,)
        out = []
        for key in ("absences_excused", "absences_unexcused"):
            values = [self.records.get((t, key)) for t in terms]
            out.append(None if any(v in (None, "") for v in values) else sum(int(v) for v in values))
        return out[0], out[1]


@dataclass
class ClassResults:
    klass: SchoolClass
    grade: Grade
    year: SchoolYear
    subjects: list[Subject]
    lines: list[StudentLine]
    homeroom: str | None = None

    @property
    def regime(self) -> str:
        return self.grade.regime


def _infos(subjects: list[Subject]) -> list[rules.SubjectInfo]:
    return [rules.SubjectInfo(s.code, s.name, s.kind, s.periods_per_year, s.has_periodic_test) for s in subjects]


def class_results(session: Session, *, klass: SchoolClass, subjects: list[Subject] | None = None,
                  grade: Grade | None = None) -> ClassResults:
    """Assess every student of a class from its rows loaded in bulk (roster, assessments, records)."""
    grade = grade or session.get(Grade, klass.grade_id)
    if subjects is None:
        subjects = list(session.exec(select(Subject).where(Subject.grade_id == grade.id).order_by(Subject.position)))
    roster = class_roster(session, klass.id)
    ids = [s.id for _, s in roster]
    codes = {s.id: s.code for s in subjects}
    cells: dict[int, dict] = defaultdict(dict)
    records: dict[int, dict] = defaultdict(dict)
    if ids:
        for student_id, subject_id, term, slot, value in session.exec(
            select(Assessment.student_id, Assessment.subject_id, Assessment.term, Assessment.slot, Assessment.value)
            .where(Assessment.student_id.in_(ids), Assessment.school_year_id == klass.school_year_id)
        ):
            if subject_id in codes:
                cells[student_id][(codes[subject_id], term, slot)] = value
        for student_id, term, key, value in session.exec(
            select(StudentRecord.student_id, StudentRecord.term, StudentRecord.key, StudentRecord.value)
            .where(StudentRecord.student_id.in_(ids), StudentRecord.school_year_id == klass.school_year_id)
        ):
            records[student_id][(term, key)] = value
    infos = _infos(subjects)
    build = rules.primary_case if grade.regime == "tt27" else rules.secondary_case
    lines = []
    for enrollment, student in roster:
        mine, recs = cells.get(student.id, {}), records.get(student.id, {})
        line = StudentLine(enrollment.number, student, grade.regime, mine, recs, None)
        try:
            line.result = assess(build(grade=grade.number, subjects=infos, cells=mine, records=recs))
        except InvalidCase as exc:  # stored values are validated on the way in; never hide a whole class
            line.error = "; ".join(exc.errors)
        lines.append(line)
    year = session.get(SchoolYear, klass.school_year_id)
    homeroom = session.get(User, klass.homeroom_teacher_id) if klass.homeroom_teacher_id else None
    return ClassResults(klass, grade, year, subjects, lines, homeroom.full_name if homeroom else None)


@dataclass
class Counts:
    """How many students of a class, a grade or the school are at each level."""

    size: int = 0
    learning: Counter = field(default_factory=Counter)
    conduct: Counter = field(default_factory=Counter)
    overall: Counter = field(default_factory=Counter)
    decision: Counter = field(default_factory=Counter)
    award: Counter = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.size += other.size
        for name in ("learning", "conduct", "overall", "decision", "award"):
            getattr(self, name).update(getattr(other, name))

    def get(self, kind: str, key) -> int:
        return getattr(self, kind)[key]

    def share(self, kind: str, key) -> int:
        """Percentage of the students at `key` (rounded), for the totals rows."""
        return round(100 * getattr(self, kind)[key] / self.size) if self.size else 0


def count_class(results: ClassResults, term: str) -> Counts:
    """Count a class's students per learning and conduct level, decision and award for a term or the year."""
    counts = Counts(size=len(results.lines))
    for line in results.lines:
        if results.regime == "tt27":
            if term == "year":
                counts.overall[line.overall()] += 1
                if line.award():
                    counts.award[line.award()] += 1
            continue
        counts.learning[line.learning(term)] += 1
        counts.conduct[line.conduct(term)] += 1
        if term == "year":
            counts.decision[line.decision()] += 1
            if line.award():
                counts.award[line.award()] += 1
    return counts


@dataclass
class ClassCount:
    klass: SchoolClass
    homeroom: str | None
    counts: Counts


@dataclass
class GradeSummary:
    grade: Grade
    classes: list[ClassCount]
    total: Counts


@dataclass
class SchoolSummary:
    year: SchoolYear | None
    term: str
    grades: list[GradeSummary]
    total: Counts
    school: str = ""

    @property
    def secondary(self) -> list[GradeSummary]:
        return [g for g in self.grades if g.grade.regime == "tt22"]

    @property
    def primary(self) -> list[GradeSummary]:
        return [g for g in self.grades if g.grade.regime == "tt27"]

    def total_of(self, grades: list[GradeSummary]) -> Counts:
        total = Counts()
        for g in grades:
            total.add(g.total)
        return total


def school_summary(session: Session, *, term: str, year: SchoolYear | None = None) -> SchoolSummary:
    """Count every class of the year per level, with totals per grade and for the school."""
    require_term(term)
    year = year or current_year(session)
    summary = SchoolSummary(year, term, [], Counts(), school_name(session))
    if year is None:
        return summary
    rows = session.exec(
        select(SchoolClass, Grade).join(Grade, Grade.id == SchoolClass.grade_id)
        .where(SchoolClass.school_year_id == year.id).order_by(Grade.number, SchoolClass.name)
    ).all()
    subjects: dict[int, list[Subject]] = defaultdict(list)
    for subject in session.exec(select(Subject).order_by(Subject.position)):
        subjects[subject.grade_id].append(subject)
    homerooms = dict(session.exec(select(User.id, User.full_name).where(
        User.id.in_({c.homeroom_teacher_id for c, _ in rows if c.homeroom_teacher_id}))).all())
    by_grade: dict[int, GradeSummary] = {}
    for klass, grade in rows:
        results = class_results(session, klass=klass, subjects=subjects[grade.id], grade=grade)
        counts = count_class(results, term)
        entry = by_grade.setdefault(grade.id, GradeSummary(grade, [], Counts()))
        entry.classes.append(ClassCount(klass, homerooms.get(klass.homeroom_teacher_id), counts))
        entry.total.add(counts)
        summary.total.add(counts)
    summary.grades = list(by_grade.values())
    return summary


def default_term(session: Session, year: SchoolYear | None, today: date | None = None) -> str:
    """The term a summary opens on: the running term, or the whole year once term II has ended."""
    if year is None:
        return "hk1"
    today = today or date.today()
    terms = {t.code: t for t in session.exec(select(Term).where(Term.school_year_id == year.id))}
    if "hk1" in terms and today <= terms["hk1"].end_date:
        return "hk1"
    if "hk2" in terms and today <= terms["hk2"].end_date:
        return "hk2"
    return "year"


# --- Labels shared by the screens and the exports -------------------------------------------------------


def level_label(code: str | None) -> str:
    return rules.LEVEL_LABELS.get(code, code) if code else MISSING_LABEL


def decision_label(code: str | None, grade: int | None = None) -> str:
    """The year-end decision in words; in a level's final grade (9, 12) promotion is completing the programme."""
    if code is None:
        return "Chưa xác định"
    if grade in FINAL_GRADES and code in ("len_lop", "o_lai"):
        level = "THCS" if grade == 9 else "THPT"
        return f"Hoàn thành chương trình {level}" if code == "len_lop" else f"Chưa hoàn thành chương trình {level}"
    return rules.DECISION_LABELS.get(code, code)


def award_label(code: str | None) -> str:
    return rules.AWARD_LABELS.get(code, code) if code else ""


def summary_tables(term: str, *, primary: bool) -> list[SummaryTable]:
    """The count tables of a summary screen, in order."""
    if primary:
        if term != "year":
            return []
        return [SummaryTable("tieu-hoc", "Kết quả giáo dục cuối năm (Tiểu học)",
                             [("overall", k, level_label(k)) for k in PRIMARY_KEYS]
                             + [("award", "xuat_sac", "HS Xuất sắc")], bar=True)]
    tables = [SummaryTable("hoc-tap", "Kết quả học tập", [("learning", k, level_label(k)) for k in LEARNING_KEYS],
                           bar=True),
              SummaryTable("ren-luyen", "Kết quả rèn luyện", [("conduct", k, level_label(k)) for k in LEARNING_KEYS],
                           bar=True)]
    if term == "year":
        tables.append(SummaryTable("cuoi-nam", "Lên lớp và khen thưởng",
                                   [("decision", k, DECISION_SHORT[k]) for k in DECISION_KEYS]
                                   + [("award", "xuat_sac", "HS Xuất sắc"), ("award", "gioi", "HS Giỏi")]))
    return tables


@dataclass
class SummaryTable:
    """One count table: an anchor, a title and its columns (kind of count, key, heading)."""

    anchor: str
    title: str
    columns: list[tuple[str, str | None, str]]
    bar: bool = False  # a distribution bar: the columns split the class between them

    def bar_columns(self) -> list[tuple[str, str | None, str]]:
        return [c for c in self.columns if c[0] != "award"]


DECISION_SHORT = {"len_lop": "Lên lớp", "kiem_tra_lai": "Kiểm tra lại", "ren_luyen_he": "Rèn luyện hè",
                  "o_lai": "Ở lại lớp", None: "Chưa xác định"}


def decision_short(code: str | None, grade: int | None = None) -> str:
    """The decision in a table cell; decision_label gives the full words."""
    if grade in FINAL_GRADES and code in ("len_lop", "o_lai"):
        return "Hoàn thành CT" if code == "len_lop" else "Chưa hoàn thành CT"
    return DECISION_SHORT[code] if code in DECISION_SHORT else code


def award_short(code: str | None) -> str:
    return {"xuat_sac": "Xuất sắc", "gioi": "Giỏi"}.get(code, "") if code else ""


def subject_short(subject: Subject) -> str:
    return SUBJECT_SHORT.get(subject.code, subject.name)
