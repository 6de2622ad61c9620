"""Read models of the homeroom screens.

A class's whole year is loaded in a handful of queries (roster, subjects, every assessment cell, every
homeroom record, the teaching assignments) and each student's case is built with the gradebook's
``secondary_case`` / ``primary_case`` and assessed by the law (``portal.assessment``): the same input
and the same output as ``gradebook.service.student_result``, without thirty round trips. Nothing here
decides a level; the screens only show what the engine returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from portal.assessment import assess, retake_subjects
from portal.errors import NotFound
from portal.gradebook import rules
from portal.gradebook.service import TERM_LABELS, class_roster
from portal.models import (
    Assessment,
    Grade,
    SchoolClass,
    SchoolYear,
    Student,
    StudentRecord,
    Subject,
    TeachingAssignment,
    Term,
    User,
)

SCOPES = ("hk1", "hk2", "year")
TERMS = ("hk1", "hk2")
TERM_SHORT = {"hk1": "HK I", "hk2": "HK II", "year": "cả năm"}
COMPLETION_LABELS = {"completed_grade": "Hoàn thành chương trình lớp học",
                     "completed_primary": "Hoàn thành chương trình tiểu học",
                     "not_completed": "Chưa hoàn thành chương trình lớp học"}
CONDUCT_OPTIONS = [(code, rules.LEVEL_LABELS[code]) for code in rules.CONDUCT_LEVELS]
RATING_OPTIONS = [("T", "T"), ("D", "Đ"), ("CCG", "CCG")]
KEY_LABELS = {"conduct": "Rèn luyện", "absences_excused": "Nghỉ có phép", "absences_unexcused": "Nghỉ không phép",
              "homeroom_comment": "Nhận xét của giáo viên chủ nhiệm", "award_note": "Khen thưởng, đề nghị khen",
              "conduct_retrained": "Rèn luyện sau kì nghỉ hè", **rules.QUALITY_LABELS, **rules.COMPETENCY_LABELS}
MISSING_LABELS = {"regular": "điểm đánh giá thường xuyên", "midterm": "điểm giữa kì", "final": "điểm cuối kì",
                  "retake": "điểm kiểm tra lại", "year": "mức đạt được cả năm", "conduct": "mức rèn luyện",
                  "absences": "số buổi nghỉ học"}


def level_label(code: str | None) -> str:
    return rules.LEVEL_LABELS.get(code, code) if code else ""


def describe_missing(entry: dict) -> str:
    """Say in Vietnamese what one ``incomplete`` entry of the engine is missing."""
    what = entry["missing"]
    if what.startswith("qualities."):
        text = "phẩm chất " + rules.QUALITY_LABELS.get(what.split(".", 1)[1], what)
    elif what.startswith("competencies."):
        text = "năng lực " + rules.COMPETENCY_LABELS.get(what.split(".", 1)[1], what)
    else:
        text = MISSING_LABELS.get(what, what)
    if entry["term"] in TERMS:
        text += " " + TERM_SHORT[entry["term"]]
    return text


# --- The class's year -------------------------------------------------------------------------------------


@dataclass
class StudentYear:
    """One student's stored entries and the engine's result for the year."""

    student: Student
    number: int | None
    cells: dict[tuple[str, str, str], str]  # (subject code, term, slot) → value
    records: dict[tuple[str, str], StudentRecord]  # (term, key) → row
    result: dict  # the JSON contract of ASSESSMENT.md §C

    def value(self, term: str, key: str) -> str:
        row = self.records.get((term, key))
        return row.value if row else ""

    def missing_for(self, subject: str | None, terms=SCOPES) -> list[dict]:
        return [e for e in self.result["incomplete"] if e["subject"] == subject and e["term"] in terms]


@dataclass
class ClassYear:
    klass: SchoolClass
    grade: Grade
    year: SchoolYear
    subjects: list[Subject]
    teachers: dict[int, User]  # subject id → assigned teacher
    homeroom: User | None
    students: list[StudentYear]

    @property
    def primary(self) -> bool:
        return self.grade.number <= 5

    def student(self, student_id: int) -> StudentYear:
        for item in self.students:
            if item.student.id == student_id:
                return item
        raise NotFound("Học sinh này không thuộc lớp.")


def load_class(session: Session, class_id: int) -> SchoolClass:
    klass = session.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    return klass


def load_class_year(session: Session, *, class_id: int, student_ids: list[int] | None = None,
                    include_left: bool = False) -> ClassYear:
    """Load a class's roster with each student's cells, records and computed year, in a few queries."""
    klass = load_class(session, class_id)
    grade = session.get(Grade, klass.grade_id)
    year = session.get(SchoolYear, klass.school_year_id)
    roster = class_roster(session, class_id, include_left=include_left)
    if student_ids is not None:
        roster = [(e, s) for e, s in roster if s.id in student_ids]
    subjects = session.exec(select(Subject).where(Subject.grade_id == grade.id).order_by(Subject.position)).all()
    codes = {s.id: s.code for s in subjects}
    ids = [s.id for _, s in roster]
    cells: dict[int, dict] = {i: {} for i in ids}
    records: dict[int, dict] = {i: {} for i in ids}
    if ids:
        for cell in session.exec(select(Assessment).where(Assessment.student_id.in_(ids),
                                                          Assessment.school_year_id == klass.school_year_id)):
            if cell.subject_id in codes:
                cells[cell.student_id][(codes[cell.subject_id], cell.term, cell.slot)] = cell.value
        for row in session.exec(select(StudentRecord).where(StudentRecord.student_id.in_(ids),
                                                            StudentRecord.school_year_id == klass.school_year_id)):
            records[row.student_id][(row.term, row.key)] = row
    teachers = {a.subject_id: u for a, u in session.exec(
        select(TeachingAssignment, User).join(User, User.id == TeachingAssignment.teacher_id)
        .where(TeachingAssignment.class_id == class_id))}
    homeroom = session.get(User, klass.homeroom_teacher_id) if klass.homeroom_teacher_id else None
    infos = [rules.SubjectInfo(s.code, s.name, s.kind, s.periods_per_year, s.has_periodic_test) for s in subjects]
    build = rules.primary_case if grade.number <= 5 else rules.secondary_case
    students = []
    for enrollment, student in roster:
        values = {k: r.value for k, r in records[student.id].items()}
        case = build(grade=grade.number, subjects=infos, cells=cells[student.id], records=values)
        students.append(StudentYear(student, enrollment.number, cells[student.id], records[student.id],
                                    assess(case)))
    return ClassYear(klass, grade, year, subjects, teachers, homeroom, students)


def current_term(session: Session, klass: SchoolClass, today: date | None = None) -> str:
    """Return the term (hk1 | hk2) the class's school year is in today; hk1 before it, hk2 after it."""
    today = today or date.today()
    terms = {t.code: t for t in session.exec(select(Term).where(Term.school_year_id == klass.school_year_id))}
    for code in TERMS:
        term = terms.get(code)
        if term and term.start_date <= today <= term.end_date:
            return code
    hk2 = terms.get("hk2")
    return "hk2" if hk2 and today > hk2.start_date else "hk1"


# --- Overview ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    text: str = ""
    missing: list[str] = field(default_factory=list)  # what is missing (Vietnamese); highlighted when set
    low: bool = False  # below the pass line (score < 5.0, CĐ, CHT): shown in red

    @property
    def title(self) -> str:
        return "Còn thiếu: " + "; ".join(self.missing) + "." if self.missing else ""


@dataclass
class OverviewRow:
    item: StudentYear
    subjects: list[Cell]
    learning: Cell
    conduct: Cell
    absences: Cell
    decision: Cell
    gaps: int  # subjects with a missing result in this scope


@dataclass
class Overview:
    scope: str
    rows: list[OverviewRow]
    learning_counts: list[tuple[str, int]]  # (label, count), "Chưa đủ dữ liệu" last
    conduct_counts: list[tuple[str, int]]
    subject_gaps: list[tuple[Subject, User | None, int]]  # subjects with students missing data

    @property
    def incomplete_students(self) -> int:
        return sum(1 for row in self.rows if row.learning.missing)


def _score_low(value: str | None) -> bool:
    if not value:
        return False
    if value in ("CD", "CHT"):
        return True
    return value[0].isdigit() and Decimal(value) < Decimal("5")


def _counts(codes: list[str | None], levels: tuple[str, ...]) -> list[tuple[str, int]]:
    counts = [(level_label(code), sum(1 for c in codes if c == code)) for code in levels]
    counts.append(("Chưa đủ dữ liệu", sum(1 for c in codes if c is None)))
    return counts


def build_overview(book: ClassYear, *, scope: str) -> Overview:
    """Tabulate every student's results of one scope (hk1, hk2 or year), marking what is missing."""
    rows = [(_primary_row if book.primary else _secondary_row)(book, item, scope) for item in book.students]
    gaps = []
    for index, subject in enumerate(book.subjects):
        count = sum(1 for row in rows if row.subjects[index].missing)
        if count:
            gaps.append((subject, book.teachers.get(subject.id), count))
    if book.primary:
        overall = [row.item.result["overall"] for row in rows] if scope == "year" else []
        learning_counts = _counts(overall, ("HTXS", "HTT", "HT", "CHT")) if scope == "year" else []
        conduct_counts = []
    else:
        learning_counts = _counts([row.item.result["learning"][scope] for row in rows], rules.CONDUCT_LEVELS)
        conduct_codes = [_conduct_code(row.item, scope) for row in rows]
        conduct_counts = _counts(conduct_codes, rules.CONDUCT_LEVELS)
    return Overview(scope, rows, learning_counts, conduct_counts, gaps)


def _conduct_code(item: StudentYear, scope: str) -> str | None:
    if scope == "year":
        return item.result["conduct"]["year"]
    return item.value(scope, "conduct") or None


def _absences(item: StudentYear, scope: str) -> Cell:
    terms = TERMS if scope == "year" else (scope,)
    keys = [(t, k) for t in terms for k in ("absences_excused", "absences_unexcused")]
    missing = sorted({TERM_SHORT[t] for t, k in keys if not item.value(t, k)})
    total = sum(int(item.value(t, k)) for t, k in keys if item.value(t, k))
    if missing:
        return Cell(str(total) if total else "", ["số buổi nghỉ " + ", ".join(missing)])
    return Cell(str(total), low=total > 45)


SUBJECT_MISSING = {"regular": "đánh giá thường xuyên", "midterm": "giữa kì", "final": "cuối kì",
                   "retake": "kiểm tra lại"}


def _subject_missing(entries: list[dict]) -> list[str]:
    """Group a subject's missing assessments by term: "đánh giá thường xuyên, giữa kì, cuối kì (HK I)"."""
    grouped: dict[str, list[str]] = {}
    for e in entries:
        grouped.setdefault(e["term"], []).append(SUBJECT_MISSING.get(e["missing"], e["missing"]))
    return [f"{', '.join(names)} ({TERM_SHORT[term]})" for term, names in grouped.items()]


def _secondary_row(book: ClassYear, item: StudentYear, scope: str) -> OverviewRow:
    result = item.result
    terms = SCOPES if scope == "year" else (scope,)
    cells = []
    for subject in book.subjects:
        value = result["subjects"].get(subject.code, {}).get(scope)
        if scope != "year" and result["subjects"].get(subject.code, {}).get("year") == "M":
            value = "M"
        missing = [] if value else _subject_missing(item.missing_for(subject.code, terms))
        if not value and not missing:
            missing = ["kết quả môn học"]
        cells.append(Cell(rules.display(value), missing, _score_low(value)))
    gaps = sum(1 for c in cells if c.missing)
    learning_code = result["learning"][scope]
    learning = Cell(level_label(learning_code), low=learning_code == "CD")
    if learning_code is None:
        learning.missing = [f"kết quả {gaps} môn học"] if gaps else ["dữ liệu để xếp loại"]
    conduct_code = _conduct_code(item, scope)
    conduct = Cell(level_label(conduct_code), low=conduct_code == "CD")
    if conduct_code is None:
        conduct.missing = [describe_missing(e) for e in item.missing_for(None, terms) if e["missing"] == "conduct"] \
            or ["mức rèn luyện " + TERM_SHORT[scope]]
    decision = Cell()
    if scope == "year":
        code = result["decision"]
        decision = Cell(rules.DECISION_LABELS.get(code, code or ""), low=code == "o_lai")
        if code is None:
            student_gaps = [describe_missing(e) for e in item.missing_for(None)]
            decision.missing = ([f"kết quả {gaps} môn học"] if gaps else []) + student_gaps or ["dữ liệu cả năm"]
    return OverviewRow(item, cells, learning, conduct, _absences(item, scope), decision, gaps)


def _primary_row(book: ClassYear, item: StudentYear, scope: str) -> OverviewRow:
    term = "hk2" if scope == "year" else scope
    cells = []
    for subject in book.subjects:
        level = item.cells.get((subject.code, term, "ck_level"), "")
        test = item.cells.get((subject.code, term, "ck_test"), "") if subject.has_periodic_test else ""
        missing = []
        if not level:
            missing.append("mức đạt được cuối " + ("năm" if scope == "year" else "kì " + TERM_SHORT[term]))
        if subject.has_periodic_test and not test:
            missing.append("điểm kiểm tra cuối " + ("năm" if scope == "year" else "kì " + TERM_SHORT[term]))
        text = " · ".join(x for x in (level, test) if x)
        cells.append(Cell(text, missing, level == "CHT"))
    gaps = sum(1 for c in cells if c.missing)
    rated = [k for k in (*rules.QUALITIES, *rules.COMPETENCIES) if item.value(term, k)]
    unrated = len(rules.QUALITIES) + len(rules.COMPETENCIES) - len(rated)
    conduct = Cell(f"Đủ {len(rated)} mục" if not unrated else f"{len(rated)}/15",
                   [f"{unrated} mục phẩm chất, năng lực {TERM_SHORT[term]}"] if unrated else [])
    learning, decision = Cell(), Cell()
    if scope == "year":
        overall = item.result["overall"]
        learning = Cell(level_label(overall), low=overall == "CHT")
        completion = item.result["completion"]
        decision = Cell(COMPLETION_LABELS.get(completion, ""), low=completion == "not_completed")
        if overall is None:
            learning.missing = decision.missing = [describe_missing(e) for e in item.result["incomplete"]] \
                or ["dữ liệu cả năm"]
    return OverviewRow(item, cells, learning, conduct, _absences(item, scope), decision, gaps)


# --- Entry fields -----------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One homeroom entry of one student, as a self-saving field shows it."""

    student: Student
    term: str
    key: str
    kind: str  # conduct | rating | count | text
    value: str = ""
    version: int = 0

    @property
    def dom_id(self) -> str:
        return f"hr-{self.student.id}-{self.term}-{self.key}"

    @property
    def label(self) -> str:
        suffix = f" {TERM_LABELS[self.term]}" if self.term in TERMS else ""
        return f"{KEY_LABELS.get(self.key, self.key)}{suffix} của {self.student.full_name}"

    @property
    def options(self) -> list[tuple[str, str]]:
        return {"conduct": CONDUCT_OPTIONS, "rating": RATING_OPTIONS}.get(self.kind, [])

    @property
    def shown(self) -> str:
        return dict(self.options).get(self.value, self.value)


def entry(student: Student, term: str, key: str, kind: str, row: StudentRecord | None) -> Entry:
    return Entry(student, term, key, kind, row.value if row else "", row.version if row else 0)


def load_entry(session: Session, *, klass: SchoolClass, student_id: int, term: str, key: str) -> Entry:
    """Reload one entry as it is stored now (after a save, a refusal or a conflict)."""
    from portal.gradebook.service import record_kind, require_enrolled

    student = require_enrolled(session, student_id=student_id, class_id=klass.id)
    grade = session.get(Grade, klass.grade_id)
    kind = record_kind(key, term, grade.number)
    if kind is None:
        raise NotFound("Mục nhập không hợp lệ.")
    row = session.exec(select(StudentRecord).where(
        StudentRecord.student_id == student_id, StudentRecord.school_year_id == klass.school_year_id,
        StudentRecord.term == term, StudentRecord.key == key)).first()
    return entry(student, term, key, kind, row)


def term_keys(book: ClassYear) -> list[tuple[str, str]]:
    """Return the (key, kind) entered per term: conduct or the 15 ratings, then the two absence counts."""
    if book.primary:
        keys = [(k, "rating") for k in (*rules.QUALITIES, *rules.COMPETENCIES)]
    else:
        keys = [("conduct", "conduct")]
    return keys + [("absences_excused", "count"), ("absences_unexcused", "count")]


@dataclass
class TermRow:
    item: StudentYear
    entries: list[Entry]


def build_term_sheet(book: ClassYear, *, term: str) -> list[TermRow]:
    keys = term_keys(book)
    return [TermRow(item, [entry(item.student, term, k, kind, item.records.get((term, k))) for k, kind in keys])
            for item in book.students]


@dataclass
class Completeness:
    ratings: int  # students with the conduct level (or all 15 ratings) entered
    absences: int  # students with both absence counts entered
    total: int = 0
    primary: bool = False


def term_completeness(session: Session, *, klass: SchoolClass, term: str) -> Completeness:
    """Count the class's students whose term entries are complete (one query on top of the roster)."""
    grade = session.get(Grade, klass.grade_id)
    levels = set(rules.QUALITIES + rules.COMPETENCIES) if grade.number <= 5 else {"conduct"}
    counts = {"absences_excused", "absences_unexcused"}
    ids = [s.id for _, s in class_roster(session, klass.id)]
    have: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        for student_id, key in session.exec(select(StudentRecord.student_id, StudentRecord.key).where(
                StudentRecord.student_id.in_(ids), StudentRecord.school_year_id == klass.school_year_id,
                StudentRecord.term == term, StudentRecord.value != "")):
            have[student_id].add(key)
    return Completeness(sum(1 for keys in have.values() if levels <= keys),
                        sum(1 for keys in have.values() if counts <= keys), len(ids), grade.number <= 5)


# --- Year end ---------------------------------------------------------------------------------------------


@dataclass
class Retake:
    subject: Subject
    year_value: str  # the year result that made it due (display form)
    value: str  # the re-assessed value ("" while not entered)
    teacher: User | None


@dataclass
class YearEndRow:
    item: StudentYear
    learning: str | None
    conduct: str | None
    absences: Cell
    decision: str | None
    award: str | None
    explain: list[str]
    retakes: list[Retake]
    learning_after_retake: str | None
    training_due: bool
    conduct_after_training: str | None
    comment: Entry
    award_note: Entry
    retrained: Entry | None
    primary: bool = False

    @property
    def retakes_pending(self) -> list[Retake]:
        return [r for r in self.retakes if not r.value]

    @property
    def status(self) -> str:
        """The filter a row falls in: o_lai, kiem_tra_lai, ren_luyen_he, len_lop or thieu (incomplete)."""
        if self.decision in ("o_lai", "not_completed"):
            return "o_lai"
        if self.retakes_pending or self.decision == "kiem_tra_lai":
            return "kiem_tra_lai"
        if self.decision == "ren_luyen_he":
            return "ren_luyen_he"
        if self.decision in ("len_lop", "completed_grade", "completed_primary"):
            return "len_lop"
        return "thieu"


def _as_engine_value(value: str | None):
    return Decimal(value) if value and value[0].isdigit() else value


def year_end_row(book: ClassYear, item: StudentYear) -> YearEndRow:
    result = item.result
    comment = entry(item.student, "year", "homeroom_comment", "text", item.records.get(("year", "homeroom_comment")))
    note = entry(item.student, "year", "award_note", "text", item.records.get(("year", "award_note")))
    absences = _absences(item, "year")
    if book.primary:
        return YearEndRow(item, result["overall"], None, absences, result["completion"], result["award"],
                          result["explain"], [], None, False, None, comment, note, None, primary=True)
    learning = result["learning"]["year"]
    conduct = result["conduct"]["year"]
    retakes = []
    if learning == "CD":
        by_code = {s.code: s for s in book.subjects}
        years = {code: _as_engine_value(r.get("year")) for code, r in result["subjects"].items()}
        for code in retake_subjects(years):
            subject = by_code[code]
            retakes.append(Retake(subject, rules.display(result["subjects"][code]["year"]),
                                  rules.display(item.cells.get((code, "year", "retake"), "")),
                                  book.teachers.get(subject.id)))
    training_due = conduct == "CD"
    retrained = None
    if training_due:
        retrained = entry(item.student, "year", "conduct_retrained", "conduct",
                          item.records.get(("year", "conduct_retrained")))
    return YearEndRow(item, learning, conduct, absences, result["decision"], result["award"], result["explain"],
                      retakes, result["learning"].get("after_retake"), training_due,
                      result["conduct"].get("after_training"), comment, note, retrained)


YEAR_END_FILTERS = {"": "Tất cả", "thieu": "Chưa đủ dữ liệu", "kiem_tra_lai": "Kiểm tra lại",
                    "ren_luyen_he": "Rèn luyện hè", "o_lai": "Không được lên lớp", "len_lop": "Được lên lớp"}


def build_year_end(book: ClassYear) -> list[YearEndRow]:
    return [year_end_row(book, item) for item in book.students]
