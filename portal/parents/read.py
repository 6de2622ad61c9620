"""What a parent sees: their children, and for each school year of a child its released transcripts and the
results of the terms the principal published (nothing of the terms that are not).

Results are the law's (the same `assess` as the staff's screens, through the homeroom read model), shown in
the form parents know from paper: decimal comma, Đ/CĐ, levels in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from portal.assessment import InvalidCase
from portal.gradebook import rules
from portal.homeroom.service import load_class_year
from portal.models import Enrollment, Grade, Guardian, SchoolClass, SchoolYear, Student, StudentGuardian
from portal.parents.service import PUBLISH_TERMS, current_class, publication, publish_problem, published_terms
from portal.periods.read import local, user_names, year_periods
from portal.review import service as review
from portal.transcripts import read as transcripts

TERM_HEADS = {"hk1": "HK I", "hk2": "HK II", "year": "Cả năm"}


# --- The children ----------------------------------------------------------------------------------------------


@dataclass
class Child:
    student: Student
    klass: SchoolClass | None  # of the current school year
    year: SchoolYear | None


def children(session: Session, user_id: int) -> list[Child]:
    """The parent's children (through their Guardian row), each with the class of the current year."""
    rows = session.exec(
        select(Student).join(StudentGuardian, StudentGuardian.student_id == Student.id)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .where(Guardian.user_id == user_id).order_by(Student.full_name)).all()
    out = []
    for student in rows:
        placed = current_class(session, student.id)
        out.append(Child(student, *(placed or (None, None))))
    return out


# --- One child ---------------------------------------------------------------------------------------------------


@dataclass
class TranscriptItem:
    """One released or revoked version of the year's transcript."""

    id: int
    version: int
    status: str  # released | revoked
    released: str  # Vietnam time
    verify_code: str
    newer: int | None  # the released version that replaced a revoked one

    @property
    def downloadable(self) -> bool:
        return self.status == "released"

    @property
    def status_text(self) -> str:
        if self.status == "released":
            return "Đã phát hành"
        if self.newer:
            return f"Đã thu hồi — đã có phiên bản {self.newer}"
        return "Đã thu hồi — phiên bản mới đang được lập và ký lại"


@dataclass
class SubjectRow:
    name: str
    values: dict[str, str]  # term → what to show ("" when not computed yet)


@dataclass
class Results:
    """The published terms of one student-year, as the parent sees them."""

    terms: list[str]
    regime: str
    subjects: list[SubjectRow] = field(default_factory=list)
    summary: list[SubjectRow] = field(default_factory=list)  # learning, conduct, absences per term
    year: list[tuple[str, str]] = field(default_factory=list)  # (label, value): overall, award, decision
    error: str = ""

    @property
    def heads(self) -> list[tuple[str, str]]:
        return [(t, TERM_HEADS[t]) for t in self.terms]

    @property
    def names(self) -> str:
        """“Học kì I, Cả năm”: what was published."""
        return ", ".join(PUBLISH_TERMS[t] for t in self.terms)


@dataclass
class YearView:
    year: SchoolYear
    klass: SchoolClass
    transcripts: list[TranscriptItem]
    results: Results | None  # None: nothing published for the class


@dataclass
class ChildView:
    student: Student
    klass: SchoolClass | None
    years: list[YearView]  # newest first


def _years(session: Session, student_id: int) -> list[tuple[SchoolYear, SchoolClass]]:
    """Each school year of the student with the class they ended it in (or are in), newest first."""
    rows = session.exec(
        select(SchoolYear, SchoolClass, Enrollment).join(SchoolClass, SchoolClass.school_year_id == SchoolYear.id)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id).where(Enrollment.student_id == student_id)
        .order_by(SchoolYear.start_date, Enrollment.left_on.is_(None), Enrollment.id)).all()
    last: dict[int, tuple[SchoolYear, SchoolClass]] = {}
    for year, klass, _enrollment in rows:
        last[year.id] = (year, klass)  # the later enrollment of a year wins
    return sorted(last.values(), key=lambda pair: pair[0].start_date, reverse=True)


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def results(session: Session, *, student_id: int, klass: SchoolClass, terms: list[str]) -> Results:
    """Compute the student's year and keep only the published terms' values."""
    out = Results(terms=terms, regime="")
    try:
        book = load_class_year(session, class_id=klass.id, student_ids=[student_id], include_left=True)
    except InvalidCase as exc:  # stored values are checked on the way in; never fail the parent's page
        out.error = "Chưa tính được kết quả: " + "; ".join(exc.errors)
        return out
    out.regime = book.grade.regime
    if not book.students:
        out.error = "Học sinh không còn trong danh sách lớp."
        return out
    item = book.students[0]
    line = review.StudentLine(item.number, item.student, out.regime, item.cells,
                              {key: row.value for key, row in item.records.items()}, item.result)
    primary = out.regime == "tt27"
    for subject in book.subjects:
        values = {}
        for term in terms:
            value = rules.display(line.subject(subject.code, term))
            test = line.test_score(subject.code, term) if primary else None
            values[term] = f"{value} ({rules.display(test)} điểm)" if value and test else value
        out.subjects.append(SubjectRow(subject.name, values))
    if not primary:
        out.summary.append(SubjectRow("Kết quả học tập", {t: review.level_label(line.learning(t)) for t in terms}))
        out.summary.append(SubjectRow("Kết quả rèn luyện", {t: review.level_label(line.conduct(t)) for t in terms}))
    absences = {t: line.absences(t) for t in terms}
    out.summary.append(SubjectRow("Nghỉ có phép (buổi)", {t: _count(absences[t][0]) for t in terms}))
    out.summary.append(SubjectRow("Nghỉ không phép (buổi)", {t: _count(absences[t][1]) for t in terms}))
    if "year" in terms:
        if primary:
            out.year.append(("Đánh giá cuối năm", review.level_label(line.overall())))
        out.year.append(("Danh hiệu, khen thưởng", review.award_label(line.award()) or "Không"))
        if not primary:
            out.year.append(("Quyết định cuối năm", review.decision_label(line.decision(), book.grade.number)))
    return out


def _transcripts(session: Session, student_id: int) -> dict[int, list[TranscriptItem]]:
    """Released and revoked versions per school year, newest version first (never a version in signing)."""
    out: dict[int, list[TranscriptItem]] = {}
    for row in transcripts.level_view(session, student_id):
        t = row.transcript
        out.setdefault(row.year.id, []).append(
            TranscriptItem(t.id, t.version, t.status, t.released, t.verify_code, row.newer))
    return out


def child_view(session: Session, student: Student) -> ChildView:
    """Every year of the child with what the parent may see of it."""
    by_year = _transcripts(session, student.id)
    years = []
    for year, klass in _years(session, student.id):
        terms = published_terms(session, klass.id)
        shown = results(session, student_id=student.id, klass=klass, terms=terms) if terms else None
        years.append(YearView(year, klass, by_year.get(year.id, []), shown))
    placed = current_class(session, student.id)
    return ChildView(student, placed[0] if placed else None, years)



# --- The principal's toggles ----------------------------------------------------------------------------------


@dataclass
class PublicationCell:
    """One class × term of the publication screens: published (by whom, when) or why it may not be yet."""

    klass: SchoolClass
    term: str
    published_by: str | None  # None: not published
    published_at: str
    problem: str  # why it may not be published yet ("" when it may, or is)
    error: str = ""  # a refusal just now

    @property
    def published(self) -> bool:
        return self.published_by is not None

    @property
    def anchor(self) -> str:
        return f"cong-bo-{self.klass.id}-{self.term}"

    @property
    def label(self) -> str:
        return PUBLISH_TERMS[self.term]


def _cell(session: Session, klass: SchoolClass, term: str, *, error: str = "") -> PublicationCell:
    row = publication(session, klass.id, term)
    if row is None:
        return PublicationCell(klass, term, None, "", publish_problem(session, klass, term), error)
    by = user_names(session, [row.published_by]).get(row.published_by, "")
    return PublicationCell(klass, term, by, local(row.published_at), "", error)


def publication_cell(session: Session, klass: SchoolClass, term: str, *, error: str = "") -> PublicationCell:
    """One class × term (its year's periods are made first if the year has none yet: they decide the locks)."""
    year_periods(session, session.get(SchoolYear, klass.school_year_id))
    return _cell(session, klass, term, error=error)


def publication_table(session: Session, year: SchoolYear) -> list[tuple[SchoolClass, list[PublicationCell]]]:
    """Every class of the year with its three cells, in grade order."""
    year_periods(session, year)
    classes = session.exec(select(SchoolClass).join(Grade, Grade.id == SchoolClass.grade_id)
                           .where(SchoolClass.school_year_id == year.id).order_by(Grade.number, SchoolClass.name)).all()
    return [(klass, [_cell(session, klass, term) for term in PUBLISH_TERMS]) for klass in classes]
