"""Progress against the deadlines: how much of each period's data is entered, per class and subject, and how
far the year's transcripts have gone (signed, released, sent).

Everything is counted in a handful of grouped queries for the whole school year (cells per class, subject,
term and slot; homeroom entries per class, term and key; open flags per class and subject), then split into
periods in Python with the gradebook's own slot lists (`term_slots`) and the periods' own rule of which
cell belongs where (`periods.period_for`). No per-student work: the cost does not grow with the cells.

What a period asks for: a mid-term period (gk1, gk2) the mid-term cells of its term; an end-of-term
period (ck1, ck2) the other cells of the term and the homeroom entries of the term (conduct or the primary
ratings, both absence counts); the whole year (cn) every cell and homeroom entry of both terms and the
homeroom teacher's year comment — everything the year's results are computed from.

The transcript stages belong to the year, not to a period: every period shows the same ones. They count the
students now in the class by the newest version of their transcript of the year (`transcripts`), in two more
grouped queries. Per class: "signed" when every signature of that version is given or it is released;
"released" when it is released; "sent" when it is released and every endpoint now in SEND_ENDPOINTS has
accepted it (the outbox's row for that version and endpoint is "sent"). Per (class, signer's subject list),
for the subject rows: a row is signed when the signature that covers that subject is given (a subject
teacher's, or the homeroom teacher's or principal's when they teach it), or the transcript is released. A
revoked version counts for nothing, and so does its replacement until it is signed again. Without any
endpoint in SEND_ENDPOINTS nothing is ever sent, so "sent" is shown as not available rather than as 0 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, case, exists, false, func
from sqlmodel import Session, select

from portal import clock
from portal.errors import NotFound
from portal.gradebook import rules
from portal.models import (
    LEVEL_GRADES,
    PERIODS,
    YEAR_DEADLINES,
    Assessment,
    Enrollment,
    Flag,
    Grade,
    GradePeriod,
    School,
    SchoolClass,
    SchoolYear,
    StudentRecord,
    Subject,
    Submission,
    TeachingAssignment,
    Transcript,
    TranscriptSignature,
    User,
    YearDeadline,
)
from portal.periods import service as periods

SOON_DAYS = 7  # an unfinished item due within this many days is highlighted with the late ones
PERIOD_TERMS = {"gk1": ("hk1",), "ck1": ("hk1",), "gk2": ("hk2",), "ck2": ("hk2",), "cn": ("hk1", "hk2")}
PERIOD_SHORT = {"gk1": "Giữa HK I", "ck1": "Cuối HK I", "gk2": "Giữa HK II", "ck2": "Cuối HK II", "cn": "Cả năm"}
HOMEROOM_PERIODS = ("ck1", "ck2", "cn")  # mid-term periods have no homeroom entries
HOMEROOM_LABEL = "Mục chủ nhiệm"
STATUS_LABELS = {"late": "Trễ hạn", "soon": "Sắp đến hạn", "done": "Hoàn thành", "open": "Đang nhập",
                 "none": "Không có dữ liệu cần nhập"}
STAGES = {"signed": "Đã ký", "released": "Đã phát hành", "sent": "Đã gửi"}
SENDING_OFF = "chưa cấu hình nơi nhận"  # the "sent" stage without any endpoint in SEND_ENDPOINTS


def today_vn(now: datetime | None = None) -> date:
    """Today's date in Vietnam, where deadlines are counted."""
    return (now or clock.now()).astimezone(periods.VN).date()


def days_text(days: int) -> str:
    """“còn 5 ngày”, “hôm nay là hạn cuối”, “quá hạn 3 ngày”."""
    if days > 0:
        return f"còn {days} ngày"
    if days == 0:
        return "hôm nay là hạn cuối"
    return f"quá hạn {-days} ngày"


# --- Periods and deadlines ------------------------------------------------------------------------------


@dataclass
class PeriodInfo:
    code: str
    deadline: date
    days_left: int  # negative once the deadline has passed

    @property
    def label(self) -> str:
        return PERIODS[self.code]

    @property
    def short(self) -> str:
        return PERIOD_SHORT[self.code]

    @property
    def passed(self) -> bool:
        return self.days_left < 0

    @property
    def days(self) -> str:
        return days_text(self.days_left)


@dataclass
class Deadline:
    code: str
    label: str
    due: date
    days_left: int

    @property
    def passed(self) -> bool:
        return self.days_left < 0

    @property
    def soon(self) -> bool:
        return 0 <= self.days_left <= SOON_DAYS

    @property
    def days(self) -> str:
        return days_text(self.days_left)


def year_periods(session: Session, year: SchoolYear, today: date) -> dict[str, PeriodInfo]:
    """The year's five periods with their deadlines (the defaults for a period not configured yet; a read
    never creates rows)."""
    rows = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id))
    stored = {p.code: p.deadline for p in rows}
    deadlines = {**periods.default_period_deadlines(year), **stored}
    return {code: PeriodInfo(code, deadlines[code], (deadlines[code] - today).days) for code in PERIODS}


def next_period(infos: dict[str, PeriodInfo], among=tuple(PERIODS)) -> PeriodInfo:
    """The period whose deadline comes next (today included); the last one once every deadline has passed."""
    candidates = [infos[c] for c in among]
    upcoming = [p for p in candidates if not p.passed]
    if upcoming:
        return min(upcoming, key=lambda p: (p.deadline, among.index(p.code)))
    return max(candidates, key=lambda p: (p.deadline, among.index(p.code)))


def year_deadlines(session: Session, year: SchoolYear, infos: dict[str, PeriodInfo], today: date) -> list[Deadline]:
    """Entry (the whole year's deadline), signing, signing of the last grade, sending: in date order."""
    stored = {d.code: d.due for d in session.exec(select(YearDeadline).where(YearDeadline.school_year_id == year.id))}
    dues = {**periods.default_year_deadlines(year), **stored}
    level = session.exec(select(School.level)).first()
    final = f"Hoàn thành ký học bạ lớp {LEVEL_GRADES[level][-1]} (lớp cuối cấp)" if level in LEVEL_GRADES else None
    entry = infos["cn"].deadline
    items = [Deadline("entry", "Hoàn thành nhập dữ liệu cả năm", entry, (entry - today).days)]
    for code, label in YEAR_DEADLINES.items():
        if code in dues:
            label = final if code == "signing_final" and final else label
            items.append(Deadline(code, label, dues[code], (dues[code] - today).days))
    return sorted(items, key=lambda d: d.due)


# --- Counting -------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """The year's raw counts, loaded once; every period's progress is derived from them."""

    year: SchoolYear
    classes: list[SchoolClass]
    grades: dict[int, int]  # grade id → number
    subjects: dict[int, list[Subject]]  # grade id → subjects in position order
    sizes: dict[int, int]  # class id → students currently enrolled
    cells: dict[tuple[int, int, str, str], int]  # (class, subject, term, slot) → non-empty cells
    records: dict[tuple[int, str, str], int]  # (class, term, key) → non-empty homeroom entries
    flags: dict[tuple[int, int], int]  # (class, subject) → open flags
    teachers: dict[tuple[int, int], str]  # (class, subject) → assigned teacher's name
    homerooms: dict[int, str]  # user id → name
    with_transcripts: bool = False  # whether the two fields below were loaded
    transcripts: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # class → signed, released, sent
    # (class, subject) → students whose subject row is signed on a transcript not released yet
    signed_rows: dict[tuple[int, int], int] = field(default_factory=dict)
    _slots: dict[tuple[int, str], list[rules.Slot]] = field(default_factory=dict)

    def slots(self, subject: Subject, term: str) -> list[rules.Slot]:
        key = (subject.id, term)
        if key not in self._slots:
            self._slots[key] = rules.term_slots(
                subject_kind=subject.kind, periods_per_year=subject.periods_per_year,
                grade=self.grades[subject.grade_id], subject_code=subject.code,
                has_periodic_test=subject.has_periodic_test, term=term)
        return self._slots[key]

    def period_slots(self, subject: Subject, period: str, term: str) -> list[str]:
        codes = [s.code for s in self.slots(subject, term)]
        return codes if period == "cn" else [c for c in codes if periods.period_for(term, c) == period]

    def subject_progress(self, klass: SchoolClass, subject: Subject, period: str) -> dict[str, tuple[int, int]]:
        """Per term of the period: (entered, expected) cells of a (class, subject)."""
        size = self.sizes.get(klass.id, 0)
        result = {}
        for term in PERIOD_TERMS[period]:
            codes = self.period_slots(subject, period, term)
            filled = sum(min(size, self.cells.get((klass.id, subject.id, term, code), 0)) for code in codes)
            result[term] = (filled, size * len(codes))
        return result

    def homeroom_keys(self, klass: SchoolClass, period: str) -> list[tuple[str, str]]:
        """(term, key) of the homeroom entries a period asks for, one of each per student."""
        if period not in HOMEROOM_PERIODS:
            return []
        primary = self.grades[klass.grade_id] <= 5
        per_term = [*rules.QUALITIES, *rules.COMPETENCIES] if primary else ["conduct"]
        per_term += ["absences_excused", "absences_unexcused"]
        keys = [(term, key) for term in PERIOD_TERMS[period] for key in per_term]
        if period == "cn":
            keys.append(("year", "homeroom_comment"))
        return keys

    def homeroom_progress(self, klass: SchoolClass, period: str) -> dict[str, tuple[int, int]]:
        """Per term (hk1, hk2, year) of the period: (entered, expected) homeroom entries of a class."""
        size = self.sizes.get(klass.id, 0)
        result: dict[str, tuple[int, int]] = {}
        for term, key in self.homeroom_keys(klass, period):
            filled, total = result.get(term, (0, 0))
            result[term] = (filled + min(size, self.records.get((klass.id, term, key), 0)), total + size)
        return result


def load_counts(session: Session, year: SchoolYear, *, class_ids: list[int] | None = None,
                with_records: bool = True, with_transcripts: bool = False, endpoints: tuple[str, ...] = ()) -> Counts:
    """Load the year's counts (optionally for some classes only) in a handful of grouped queries; with the
    transcript stages when asked, "sent" meaning accepted by every one of `endpoints`."""
    query = select(SchoolClass).where(SchoolClass.school_year_id == year.id)
    if class_ids is not None:
        query = query.where(SchoolClass.id.in_(class_ids or [-1]))
    grades = dict(session.exec(select(Grade.id, Grade.number)).all())
    classes = sorted(session.exec(query).all(), key=lambda c: (grades.get(c.grade_id, 0), c.name))
    ids = [c.id for c in classes]
    subjects: dict[int, list[Subject]] = {}
    for subject in session.exec(select(Subject).where(Subject.grade_id.in_({c.grade_id for c in classes} or {-1}))
                                .order_by(Subject.position, Subject.id)):
        subjects.setdefault(subject.grade_id, []).append(subject)
    counts = Counts(year, classes, grades, subjects, {}, {}, {}, {}, {}, {})
    if not ids:
        return counts
    current = (Enrollment.class_id.in_(ids), Enrollment.left_on.is_(None))
    counts.sizes = dict(session.exec(
        select(Enrollment.class_id, func.count()).where(*current).group_by(Enrollment.class_id)).all())
    # The cells of the students now in the class (what the gradebook's sheet shows), whoever entered them.
    counts.cells = {(c, s, t, slot): n for c, s, t, slot, n in session.exec(
        select(Enrollment.class_id, Assessment.subject_id, Assessment.term, Assessment.slot, func.count())
        .join(Enrollment, Enrollment.student_id == Assessment.student_id)
        .where(*current, Assessment.school_year_id == year.id, Assessment.term.in_(("hk1", "hk2")),
               Assessment.value != "")
        .group_by(Enrollment.class_id, Assessment.subject_id, Assessment.term, Assessment.slot)).all()}
    if with_records:
        counts.records = {(c, t, k): n for c, t, k, n in session.exec(
            select(Enrollment.class_id, StudentRecord.term, StudentRecord.key, func.count())
            .join(Enrollment, Enrollment.student_id == StudentRecord.student_id)
            .where(*current, StudentRecord.school_year_id == year.id, StudentRecord.value != "")
            .group_by(Enrollment.class_id, StudentRecord.term, StudentRecord.key)).all()}
    counts.flags = {(c, s): n for c, s, n in session.exec(
        select(Flag.class_id, Flag.subject_id, func.count())
        .where(Flag.class_id.in_(ids), Flag.status == "open")
        .group_by(Flag.class_id, Flag.subject_id)).all()}
    counts.teachers = {(c, s): name for c, s, name in session.exec(
        select(TeachingAssignment.class_id, TeachingAssignment.subject_id, User.full_name)
        .join(User, User.id == TeachingAssignment.teacher_id)
        .where(TeachingAssignment.class_id.in_(ids))).all()}
    homeroom_ids = {c.homeroom_teacher_id for c in classes if c.homeroom_teacher_id}
    if homeroom_ids:
        counts.homerooms = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(homeroom_ids))).all())
    if with_transcripts:
        load_transcripts(session, counts, ids, endpoints)
    return counts


def load_transcripts(session: Session, counts: Counts, ids: list[int], endpoints: tuple[str, ...]) -> None:
    """Count, for the students now in these classes, how far the newest version of their transcript of the year
    has gone: per class (signed, released, sent to every endpoint) and, among those not released, the signed
    subject rows."""
    year_id = counts.year.id
    newest = (select(Transcript.student_id, func.max(Transcript.version).label("version"))
              .where(Transcript.school_year_id == year_id).group_by(Transcript.student_id).subquery())

    def current(query):
        """The query over (current enrollment, newest transcript version of the year) pairs."""
        return (query.join(Transcript, and_(Transcript.student_id == Enrollment.student_id,
                                            Transcript.school_year_id == year_id))
                .join(newest, and_(newest.c.student_id == Transcript.student_id,
                                   newest.c.version == Transcript.version))
                .where(Enrollment.class_id.in_(ids), Enrollment.left_on.is_(None)))

    released = Transcript.status == "released"
    signatures = TranscriptSignature.transcript_id == Transcript.id
    unsigned = exists().where(signatures, TranscriptSignature.status != "signed")
    all_signed = and_(Transcript.status == "signing", ~unsigned)
    # Accepted by each endpoint now configured: one added later (and backfilled) must have it too; a submission
    # to an endpoint no longer configured is never sent again and does not count either way.
    accepted = [exists().where(Submission.transcript_id == Transcript.id, Submission.endpoint == name,
                               Submission.status == "sent") for name in endpoints]
    all_sent = and_(released, *accepted) if accepted else false()
    per_class = current(select(Enrollment.class_id, func.count(case((released, 1), (all_signed, 1))),
                               func.count(case((released, 1))), func.count(case((all_sent, 1)))))
    counts.transcripts = {c: (signed, rel, sent) for c, signed, rel, sent in
                          session.exec(per_class.group_by(Enrollment.class_id)).all()}
    # A signature covers the subject rows named in its `subjects` (", "-joined names, as on the PDF's cells).
    per_signer = (current(select(Enrollment.class_id, TranscriptSignature.subjects, func.count()))
                  .join(TranscriptSignature, signatures)
                  .where(Transcript.status == "signing", TranscriptSignature.status == "signed",
                         TranscriptSignature.subjects != "")
                  .group_by(Enrollment.class_id, TranscriptSignature.subjects))
    covered = session.exec(per_signer).all()
    grades = {c.id: c.grade_id for c in counts.classes}
    for class_id, text, n in covered:
        names = f", {text}, "
        for subject in counts.subjects.get(grades[class_id], []):
            if f", {subject.name}, " in names:  # bounded by separators: a name may hold a comma itself
                key = (class_id, subject.id)
                counts.signed_rows[key] = counts.signed_rows.get(key, 0) + n
    counts.with_transcripts = True


# --- Items: one (period, class, subject or homeroom entries) with its progress and urgency ---------------


@dataclass
class Stage:
    """A transcript step (signed, released, sent): `done` of `total` students; when it cannot be counted,
    `available` is False and `reason` says why in a few words."""

    code: str
    label: str
    done: int = 0
    total: int = 0
    available: bool = True
    reason: str = ""

    @property
    def percent(self) -> int:
        """Rounded down, so that 100 % means every student."""
        return self.done * 100 // self.total if self.total else 0

    @property
    def status(self) -> str:
        """For the bar's colour: done when every student is counted, else open."""
        return "done" if self.total and self.done >= self.total else "open"


@dataclass
class Item:
    period: PeriodInfo
    klass: SchoolClass
    subject: Subject | None  # None: the homeroom entries of the class
    teacher: str | None
    filled: int
    total: int
    flags: int = 0
    stages: list[Stage] = field(default_factory=list)
    gaps: tuple[str, ...] = ()  # the terms with something still missing (hk1, hk2)

    @property
    def key(self) -> tuple[int, int | None]:
        return self.klass.id, self.subject.id if self.subject else None

    @property
    def term(self) -> str:
        """The term to open to complete the item: the first one with a gap, else the period's last term."""
        return self.gaps[0] if self.gaps else PERIOD_TERMS[self.period.code][-1]

    @property
    def label(self) -> str:
        return self.subject.name if self.subject else HOMEROOM_LABEL

    @property
    def percent(self) -> int:
        """Rounded down, so that 100 % means complete."""
        return self.filled * 100 // self.total if self.total else 0

    @property
    def complete(self) -> bool:
        return self.filled >= self.total

    @property
    def status(self) -> str:
        """none (nothing to enter) | done | late (deadline passed) | soon (due within 7 days) | open."""
        if self.total == 0:
            return "none"
        if self.complete:
            return "done"
        if self.period.passed:
            return "late"
        return "soon" if self.period.days_left <= SOON_DAYS else "open"

    @property
    def urgent(self) -> bool:
        return self.status in ("late", "soon")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def missing(self) -> int:
        return max(0, self.total - self.filled)

    def urgency(self) -> tuple:
        """Sort key: overdue first (the longest overdue first), then by deadline, the least entered first."""
        return (0 if self.status == "late" else 1, self.period.deadline, self.percent, self.klass.name,
                self.subject.position if self.subject else -1)


def subject_item(counts: Counts, period: PeriodInfo, klass: SchoolClass, subject: Subject) -> Item:
    terms = counts.subject_progress(klass, subject, period.code)
    stages = []
    if counts.with_transcripts:
        size = counts.sizes.get(klass.id, 0)
        signed = counts.signed_rows.get((klass.id, subject.id), 0) + counts.transcripts.get(klass.id, (0, 0, 0))[1]
        stages.append(Stage("signed", STAGES["signed"], min(signed, size), size))
    return Item(period, klass, subject, counts.teachers.get((klass.id, subject.id)),
                sum(f for f, _ in terms.values()), sum(t for _, t in terms.values()),
                counts.flags.get((klass.id, subject.id), 0), stages,
                tuple(term for term, (f, t) in terms.items() if f < t))


def class_stages(counts: Counts, klass: SchoolClass, *, sending: bool) -> list[Stage]:
    """The class's signed, released and sent students of its size ("sent" not available without endpoints)."""
    size = counts.sizes.get(klass.id, 0)
    signed, released, sent = (min(n, size) for n in counts.transcripts.get(klass.id, (0, 0, 0)))
    return [Stage("signed", STAGES["signed"], signed, size), Stage("released", STAGES["released"], released, size),
            Stage("sent", STAGES["sent"], sent, size) if sending
            else Stage("sent", STAGES["sent"], total=size, available=False, reason=SENDING_OFF)]


def homeroom_item(counts: Counts, period: PeriodInfo, klass: SchoolClass) -> Item:
    terms = counts.homeroom_progress(klass, period.code)
    return Item(period, klass, None, counts.homerooms.get(klass.homeroom_teacher_id),
                sum(f for f, _ in terms.values()), sum(t for _, t in terms.values()),
                gaps=tuple(term for term, (f, t) in terms.items() if f < t))


def class_items(counts: Counts, period: PeriodInfo, klass: SchoolClass) -> list[Item]:
    items = [subject_item(counts, period, klass, s) for s in counts.subjects.get(klass.grade_id, [])]
    if period.code in HOMEROOM_PERIODS:
        items.append(homeroom_item(counts, period, klass))
    return items


# --- The principal's dashboard ------------------------------------------------------------------------------


@dataclass
class ClassRow:
    klass: SchoolClass
    grade: int
    homeroom: str | None
    size: int
    items: list[Item]
    period: PeriodInfo
    stages: list[Stage] = field(default_factory=list)

    @property
    def filled(self) -> int:
        return sum(i.filled for i in self.items)

    @property
    def total(self) -> int:
        return sum(i.total for i in self.items)

    @property
    def flags(self) -> int:
        return sum(i.flags for i in self.items)

    @property
    def summary(self) -> Item:
        """The class as one item (all its subjects and homeroom entries), for percent and status."""
        return Item(self.period, self.klass, None, self.homeroom, self.filled, self.total)

    @property
    def urgent_items(self) -> int:
        return sum(1 for i in self.items if i.urgent)


@dataclass
class Dashboard:
    year: SchoolYear | None
    today: date
    periods: list[PeriodInfo] = field(default_factory=list)
    period: PeriodInfo | None = None
    default_period: str | None = None
    classes: list[ClassRow] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    late: dict[str, int] = field(default_factory=dict)  # passed period → its unfinished (class, subject) items
    sending: bool = False  # whether any endpoint is configured (else the "sent" stage is not available)

    @property
    def items(self) -> list[Item]:
        return [i for row in self.classes for i in row.items]

    @property
    def filled(self) -> int:
        return sum(r.filled for r in self.classes)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.classes)

    @property
    def percent(self) -> int:
        return self.filled * 100 // self.total if self.total else 0

    @property
    def flags(self) -> int:
        return sum(r.flags for r in self.classes)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)


def current_year(session: Session) -> SchoolYear | None:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def build_dashboard(session: Session, *, period: str | None = None, now: datetime | None = None,
                    app=None) -> Dashboard:
    """The current year's progress for one period (by default the one whose deadline comes next), with the
    year's transcript stages."""
    # Imported here: portal.delivery's service imports this module (days_text, today_vn).
    from portal.delivery.outbox import endpoints

    today = today_vn(now)
    if period is not None and period not in PERIODS:
        raise NotFound("Kì đánh giá không hợp lệ.")
    year = current_year(session)
    board = Dashboard(year, today)
    if year is None:
        return board
    infos = year_periods(session, year, today)
    board.periods = list(infos.values())
    board.default_period = next_period(infos).code
    board.period = infos[period or board.default_period]
    board.deadlines = year_deadlines(session, year, infos, today)
    names = tuple(endpoints(app))
    board.sending = bool(names)
    counts = load_counts(session, year, with_transcripts=True, endpoints=names)
    for info in board.periods:
        if info.passed:
            board.late[info.code] = sum(1 for klass in counts.classes for item in class_items(counts, info, klass)
                                        if item.status == "late")
    for klass in counts.classes:
        size = counts.sizes.get(klass.id, 0)
        board.classes.append(ClassRow(
            klass, counts.grades.get(klass.grade_id, 0), counts.homerooms.get(klass.homeroom_teacher_id), size,
            class_items(counts, board.period, klass), board.period, class_stages(counts, klass, sending=board.sending)))
    return board


def urgent_items(session: Session, *, limit: int = 5, now: datetime | None = None) -> tuple[list[Item], int]:
    """The school's unfinished items that are overdue or due within 7 days, most urgent first; and how many
    there are in all."""
    today = today_vn(now)
    year = current_year(session)
    if year is None:
        return [], 0
    infos = year_periods(session, year, today)
    pressing = [p for p in infos.values() if p.days_left <= SOON_DAYS]
    if not pressing:
        return [], 0
    counts = load_counts(session, year)
    found = [item for period in pressing for klass in counts.classes for item in class_items(counts, period, klass)
             if item.urgent]
    found = most_urgent_per_key(found)
    return found[:limit], len(found)


def most_urgent_per_key(items: list[Item]) -> list[Item]:
    """Sort by urgency and keep one item per (class, subject): the whole year repeats the terms' cells."""
    seen: set = set()
    kept = []
    for item in sorted(items, key=Item.urgency):
        if item.key not in seen:
            seen.add(item.key)
            kept.append(item)
    return kept


# --- Home screens: a teacher's own pairs, a homeroom teacher's class ---------------------------------------


@dataclass
class Pending:
    """What one person still has to enter: the next period's unfinished items and those already overdue."""

    period: PeriodInfo | None  # the period whose deadline comes next (for this person's kind of entries)
    items: list[Item] = field(default_factory=list)  # unfinished items of `period`
    overdue: list[Item] = field(default_factory=list)  # unfinished items of periods whose deadline has passed
    checked: int = 0  # items of `period` looked at (to say “all done”)


def _pending(infos: dict[str, PeriodInfo], period: PeriodInfo, make) -> Pending:
    pending = Pending(period)
    overdue = []
    for info in infos.values():
        if info.code == period.code:
            items = make(info)
            pending.checked = sum(1 for i in items if i.status != "none")
            pending.items = sorted((i for i in items if i.status not in ("done", "none")), key=Item.urgency)
        elif info.passed:
            overdue += [i for i in make(info) if i.status == "late"]
    pending.overdue = most_urgent_per_key(overdue)
    return pending


def teacher_pending(session: Session, *, actor, now: datetime | None = None) -> Pending | None:
    """A subject teacher's assigned (class, subject) pairs that are not complete, with the next deadline."""
    year = current_year(session)
    if year is None:
        return None
    today = today_vn(now)
    infos = year_periods(session, year, today)
    pairs = session.exec(
        select(TeachingAssignment.class_id, TeachingAssignment.subject_id)
        .join(SchoolClass, SchoolClass.id == TeachingAssignment.class_id)
        .where(TeachingAssignment.teacher_id == actor.id, SchoolClass.school_year_id == year.id)).all()
    counts = load_counts(session, year, class_ids=sorted({c for c, _ in pairs}), with_records=False)
    by_id = {c.id: c for c in counts.classes}
    subjects = {s.id: s for group in counts.subjects.values() for s in group}
    mine = [(by_id[c], subjects[s]) for c, s in pairs if c in by_id and s in subjects]
    mine.sort(key=lambda p: (counts.grades.get(p[0].grade_id, 0), p[0].name, p[1].position))

    def make(info):
        return [subject_item(counts, info, klass, subject) for klass, subject in mine]

    return _pending(infos, next_period(infos), make)


def homeroom_pending(session: Session, *, actor, now: datetime | None = None) -> Pending | None:
    """The homeroom entries of the user's classes that are not complete, with the next deadline for them."""
    year = current_year(session)
    if year is None:
        return None
    today = today_vn(now)
    infos = year_periods(session, year, today)
    class_ids = list(session.exec(select(SchoolClass.id).where(
        SchoolClass.homeroom_teacher_id == actor.id, SchoolClass.school_year_id == year.id)))
    counts = load_counts(session, year, class_ids=class_ids)
    homeroom_infos = {code: infos[code] for code in HOMEROOM_PERIODS}

    def make(info):
        return [homeroom_item(counts, info, klass) for klass in counts.classes]

    return _pending(homeroom_infos, next_period(homeroom_infos, HOMEROOM_PERIODS), make)
