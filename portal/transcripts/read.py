"""Read models of the staff screens of transcripts: what each screen shows, computed from the tables.

A transcript row carries its PDF and XML (hundreds of kilobytes each), so the lists here read only the
columns they show; only the detail screen loads one whole row. Instants are shown in Vietnam time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from portal.models import (
    SIGNER_ROLES,
    TRANSCRIPT_STATUSES,
    Enrollment,
    Grade,
    Job,
    JobItem,
    SchoolClass,
    SchoolYear,
    Student,
    Transcript,
    TranscriptSignature,
    User,
)
from portal.periods.read import local
from portal.transcripts import service

BADGES = {"signing": "warn", "released": "ok", "revoked": "err", "void": ""}
PREPARE_JOB = "jobs.transcripts.prepare_class"
SIGN_JOB = "jobs.transcripts.sign_batch"
# The columns a list needs (never pdf, xml nor data_json).
SUMMARY_COLUMNS = (Transcript.id, Transcript.student_id, Transcript.school_year_id, Transcript.class_id,
                   Transcript.version, Transcript.status, Transcript.verify_code, Transcript.released_at)


@dataclass
class Summary:
    """One transcript version as a list shows it."""

    id: int
    student_id: int
    school_year_id: int
    class_id: int
    version: int
    status: str
    verify_code: str
    released_at: datetime | None
    signed: int = 0
    required: int = 0
    waiting: str = ""  # whose turn it is (waiting_label)

    @property
    def status_label(self) -> str:
        return TRANSCRIPT_STATUSES.get(self.status, self.status)

    @property
    def badge(self) -> str:
        return BADGES.get(self.status, "")

    @property
    def released(self) -> str:
        return local(self.released_at)

    @property
    def progress(self) -> str:
        """“9/14 chữ ký; đang chờ: …” while in signing."""
        text = f"{self.signed}/{self.required} chữ ký"
        return text + (f"; đang chờ: {self.waiting}" if self.waiting else "")

    @property
    def percent(self) -> int:
        return round(100 * self.signed / self.required) if self.required else 0


def waiting_label(signatures: list[TranscriptSignature]) -> str:
    """Whose turn it is: “Hoàng Thị Thu Lan, Bùi Thị Ngọc (giáo viên môn học)” ("" when nobody's)."""
    turn = service.waiting_for(signatures)
    if not turn:
        return ""
    if turn[0].role == "school":
        return SIGNER_ROLES["school"].lower()
    return f"{', '.join(s.signer_name for s in turn)} ({SIGNER_ROLES[turn[0].role].lower()})"


def _latest_summaries(session: Session, *conditions) -> dict[tuple[int, int], Summary]:
    """The newest version of each (student, year) among the transcripts matching the conditions."""
    latest: dict[tuple[int, int], Summary] = {}
    for row in session.exec(select(*SUMMARY_COLUMNS).where(*conditions)).all():
        item = Summary(*row)
        key = (item.student_id, item.school_year_id)
        if key not in latest or latest[key].version < item.version:
            latest[key] = item
    return latest


def _signatures_of(session: Session, ids: list[int]) -> dict[int, list[TranscriptSignature]]:
    out: dict[int, list[TranscriptSignature]] = defaultdict(list)
    if ids:
        for sig in session.exec(select(TranscriptSignature).where(TranscriptSignature.transcript_id.in_(ids))
                                .order_by(TranscriptSignature.transcript_id, TranscriptSignature.position)):
            out[sig.transcript_id].append(sig)
    return out


def _add_progress(session: Session, items: list[Summary], *, waiting: bool) -> None:
    """Count the signatures of the versions in signing (and name whose turn it is when asked)."""
    signing = [s for s in items if s.status == "signing"]
    if waiting:
        signatures = _signatures_of(session, [s.id for s in signing])
        for item in signing:
            sigs = signatures[item.id]
            item.signed, item.required = sum(s.status == "signed" for s in sigs), len(sigs)
            item.waiting = waiting_label(sigs)
        return
    by_id = {s.id: s for s in signing}
    for chunk in _chunks(list(by_id)):
        for transcript_id, status, count in session.exec(
                select(TranscriptSignature.transcript_id, TranscriptSignature.status, func.count())
                .where(TranscriptSignature.transcript_id.in_(chunk))
                .group_by(TranscriptSignature.transcript_id, TranscriptSignature.status)):
            by_id[transcript_id].required += count
            if status == "signed":
                by_id[transcript_id].signed += count


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# --- /hoc-ba/: every class of every year ------------------------------------------------------------------


@dataclass
class ClassCounts:
    klass: SchoolClass
    grade: int
    homeroom: str
    students: int
    prepared: int = 0
    signing: int = 0
    signed: int = 0  # signatures given on the versions in signing
    required: int = 0
    released: int = 0
    revoked: int = 0

    @property
    def missing(self) -> int:
        return max(self.students - self.prepared, 0)


@dataclass
class YearGroup:
    year: SchoolYear
    classes: list[ClassCounts]

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.classes)


def overview(session: Session) -> list[YearGroup]:
    """Every school year (newest first) with its classes and their transcripts' statuses."""
    years = session.exec(select(SchoolYear).order_by(SchoolYear.start_date.desc())).all()
    classes = session.exec(select(SchoolClass, Grade.number).join(Grade, Grade.id == SchoolClass.grade_id)
                           .order_by(Grade.number, SchoolClass.name)).all()
    sizes = dict(session.exec(select(Enrollment.class_id, func.count()).group_by(Enrollment.class_id)).all())
    homerooms = dict(session.exec(select(User.id, User.full_name).where(
        User.id.in_({c.homeroom_teacher_id for c, _ in classes if c.homeroom_teacher_id}))).all())
    counts = {c.id: ClassCounts(c, number, homerooms.get(c.homeroom_teacher_id, ""), sizes.get(c.id, 0))
              for c, number in classes}
    latest = list(_latest_summaries(session).values())
    _add_progress(session, latest, waiting=False)
    for item in latest:
        row = counts.get(item.class_id)
        if row is None or item.status == "void":
            continue
        row.prepared += 1
        if item.status == "signing":
            row.signing += 1
            row.signed += item.signed
            row.required += item.required
        elif item.status == "released":
            row.released += 1
        elif item.status == "revoked":
            row.revoked += 1
    by_year: dict[int, list[ClassCounts]] = defaultdict(list)
    for row in counts.values():
        by_year[row.klass.school_year_id].append(row)
    return [YearGroup(year, by_year[year.id]) for year in years if by_year[year.id]]


# --- /hoc-ba/lop/<id>: one class --------------------------------------------------------------------------


@dataclass
class StudentRow:
    number: int | None
    student: Student
    left: bool
    transcript: Summary | None


@dataclass
class ClassView:
    klass: SchoolClass
    year: SchoolYear
    grade: int
    homeroom: str
    locked: bool
    lock_reason: str
    rows: list[StudentRow]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.transcript and r.transcript.status == status)

    @property
    def missing(self) -> int:
        return sum(1 for r in self.rows if r.transcript is None or r.transcript.status == "void")

    @property
    def complete(self) -> int:
        """Versions in signing with every signature given (candidates for release)."""
        return sum(1 for r in self.rows if r.transcript and r.transcript.status == "signing"
                   and r.transcript.signed == r.transcript.required)


def class_view(session: Session, klass: SchoolClass) -> ClassView:
    from portal.gradebook.service import class_roster

    year = session.get(SchoolYear, klass.school_year_id)
    grade = session.get(Grade, klass.grade_id)
    homeroom = session.get(User, klass.homeroom_teacher_id) if klass.homeroom_teacher_id else None
    locked, why = service.year_locked(session, klass)
    latest = _latest_summaries(session, Transcript.class_id == klass.id)
    _add_progress(session, list(latest.values()), waiting=True)
    rows = []
    for enrollment, student in class_roster(session, klass.id, include_left=True):
        left = enrollment.left_on is not None and enrollment.left_on < year.end_date  # moved away during the year
        rows.append(StudentRow(enrollment.number, student, left, latest.get((student.id, year.id))))
    return ClassView(klass, year, grade.number, homeroom.full_name if homeroom else "", locked, why, rows)


@dataclass
class JobView:
    """A background job as its progress fragment shows it; the fragment polls while it is running."""

    job: Job

    @property
    def running(self) -> bool:
        return self.job.status in ("queued", "running")


@dataclass
class PrepareProgress(JobView):
    failures: list[str]

    @property
    def percent(self) -> int:
        total = self.job.total
        return round(100 * (self.job.done + self.job.failed) / total) if total else 0


def prepare_progress(session: Session, job_id: int | None) -> PrepareProgress | None:
    """The class preparation job named in the URL (None when it is not one)."""
    job = session.get(Job, job_id) if job_id else None
    if job is None or job.kind != PREPARE_JOB:
        return None
    lines = [line for line in (job.error or "").splitlines() if line.strip()]
    return PrepareProgress(job, lines)


# --- /hoc-ba/<id>: one transcript -------------------------------------------------------------------------


@dataclass
class SignatureRow:
    position: int
    role: str
    name: str
    subjects: str
    signed_at: str
    signed: bool
    waiting: bool  # its turn has come

    @property
    def role_label(self) -> str:
        return SIGNER_ROLES[self.role]


@dataclass
class Version:
    id: int
    version: int
    status: str

    @property
    def status_label(self) -> str:
        return TRANSCRIPT_STATUSES.get(self.status, self.status)


@dataclass
class Detail:
    row: Transcript
    student: Student
    year: SchoolYear
    klass: SchoolClass
    signatures: list[SignatureRow]
    supersedes: Version | None
    superseded_by: Version | None
    people: dict[int, str]  # user id → name (preparer, releaser, revoker)

    @property
    def status_label(self) -> str:
        return TRANSCRIPT_STATUSES.get(self.row.status, self.row.status)

    @property
    def badge(self) -> str:
        return BADGES.get(self.row.status, "")

    @property
    def signed(self) -> int:
        return sum(s.signed for s in self.signatures)

    def name(self, user_id: int | None) -> str:
        return self.people.get(user_id, "") if user_id else ""


def _version(session: Session, *conditions) -> Version | None:
    found = session.exec(select(Transcript.id, Transcript.version, Transcript.status).where(*conditions)).first()
    return Version(*found) if found else None


def detail(session: Session, row: Transcript) -> Detail:
    sigs = service.signatures_of(session, row.id)
    turn = {s.id for s in service.waiting_for(sigs)} if row.status == "signing" else set()
    signatures = [SignatureRow(s.position, s.role, s.signer_name if s.role != "school" else "",
                               s.subjects, local(s.signed_at), s.status == "signed", s.id in turn) for s in sigs]
    ids = {row.prepared_by, row.released_by, row.revoked_by} - {None}
    people = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
    return Detail(row=row, student=session.get(Student, row.student_id),
                  year=session.get(SchoolYear, row.school_year_id), klass=session.get(SchoolClass, row.class_id),
                  signatures=signatures,
                  supersedes=_version(session, Transcript.id == row.supersedes_id) if row.supersedes_id else None,
                  superseded_by=_version(session, Transcript.supersedes_id == row.id), people=people)


def file_name(session: Session, row: Transcript, ext: str) -> str:
    """hocba_<mã học sinh>_<năm học>_v<phiên bản>.<ext>"""
    student = session.get(Student, row.student_id)
    year = session.get(SchoolYear, row.school_year_id)
    return f"hocba_{student.student_code}_{year.name}_v{row.version}.{ext}"


# --- /hoc-ba/hoc-sinh/<id>: a student's whole level -------------------------------------------------------


@dataclass
class LevelRow:
    transcript: Summary
    year: SchoolYear
    klass: SchoolClass
    revoke_reason: str
    newer: int | None  # the version that replaced a revoked one


def level_view(session: Session, student_id: int) -> list[LevelRow]:
    """Every released or revoked version of the student's transcripts, oldest year first."""
    rows = session.exec(select(*SUMMARY_COLUMNS, Transcript.revoke_reason, Transcript.record_id).where(
        Transcript.student_id == student_id, Transcript.status.in_(("released", "revoked")))).all()
    found = [(Summary(*row[:len(SUMMARY_COLUMNS)]), row[-2] or "", row[-1]) for row in rows]
    newest: dict[str, int] = {}
    for item, _reason, record_id in found:
        if item.status == "released":
            newest[record_id] = max(newest.get(record_id, 0), item.version)
    years = {y.id: y for y in session.exec(select(SchoolYear))}
    class_ids = {item.class_id for item, _, _ in found}
    classes = {c.id: c for c in session.exec(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))}
    out = []
    for item, reason, record_id in found:
        newer = newest.get(record_id, 0) if item.status == "revoked" else 0
        out.append(LevelRow(item, years[item.school_year_id], classes[item.class_id], reason,
                            newer if newer > item.version else None))
    out.sort(key=lambda r: (r.year.start_date, -r.transcript.version))
    return out


def unreleased_years(session: Session, student_id: int) -> list[str]:
    """The years whose transcript is still being signed (for the leadership's note)."""
    return sorted(session.exec(select(SchoolYear.name).join(Transcript, Transcript.school_year_id == SchoolYear.id)
                               .where(Transcript.student_id == student_id, Transcript.status == "signing")
                               .distinct()).all())


# --- /ky-so: the signer's queue -------------------------------------------------------------------------


@dataclass
class QueueItem:
    transcript_id: int
    version: int
    student: str
    number: int | None
    mine: str  # what the user signs as: subjects, "Giáo viên chủ nhiệm", "Hiệu trưởng"
    waiting: str
    signed: int
    required: int


@dataclass
class QueueGroup:
    klass: SchoolClass
    year: SchoolYear
    due: list[QueueItem] = field(default_factory=list)
    waiting: list[QueueItem] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"Lớp {self.klass.name} · năm học {self.year.name}"


def _what_i_sign(mine: list[TranscriptSignature]) -> str:
    parts = []
    subjects = [s.subjects for s in mine if s.role == "subject" and s.subjects]
    if subjects:
        parts.append(", ".join(subjects))
    parts += [SIGNER_ROLES[s.role] for s in mine if s.role != "subject"]
    return "; ".join(parts)


def queue(session: Session, user_id: int) -> list[QueueGroup]:
    """The user's pending signatures grouped by class: those whose turn has come, and those still waiting."""
    pending = service.pending_for_user(session, user_id)
    if not pending:
        return []
    class_ids = {t.class_id for t, _, _ in pending}
    classes = {c.id: c for c in session.exec(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))}
    years = {y.id: y for y in session.exec(select(SchoolYear))}
    student_ids = {t.student_id for t, _, _ in pending}
    names = dict(session.exec(select(Student.id, Student.full_name).where(Student.id.in_(student_ids))).all())
    numbers = dict(session.exec(select(Enrollment.student_id, Enrollment.number).where(
        Enrollment.class_id.in_(class_ids), Enrollment.student_id.in_(student_ids))).all())
    groups: dict[int, QueueGroup] = {}
    for row, sigs, due in pending:
        klass = classes[row.class_id]
        group = groups.setdefault(klass.id, QueueGroup(klass, years[klass.school_year_id]))
        # What is signed now when it is the user's turn; all that is left for the user otherwise.
        mine = service.due_signatures(sigs, user_id) if due else [
            s for s in sigs if s.user_id == user_id and s.status == "pending"]
        item = QueueItem(row.id, row.version, names.get(row.student_id, ""), numbers.get(row.student_id),
                         _what_i_sign([s for s in mine if s.role != "school"]), waiting_label(sigs),
                         sum(s.status == "signed" for s in sigs), len(sigs))
        (group.due if due else group.waiting).append(item)
    for group in groups.values():
        for items in (group.due, group.waiting):
            items.sort(key=lambda i: (i.number or 0, i.student))
    return sorted(groups.values(), key=lambda g: (-g.year.start_date.toordinal(), g.klass.name))


def due_ids(groups: list[QueueGroup]) -> list[int]:
    return [i.transcript_id for g in groups for i in g.due]


# --- /ky-so/tien-do/<id>: one signing batch -------------------------------------------------------------


@dataclass
class BatchItem:
    transcript_id: int
    student: str
    class_name: str
    status: str
    error: str


@dataclass
class Batch(JobView):
    items: list[BatchItem]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def done(self) -> int:
        return sum(i.status == "done" for i in self.items)

    @property
    def failed(self) -> list[BatchItem]:
        return [i for i in self.items if i.status == "failed"]

    @property
    def percent(self) -> int:
        finished = self.done + len(self.failed)
        return round(100 * finished / self.total) if self.total else (100 if not self.running else 0)


def batch(session: Session, job: Job) -> Batch:
    rows = session.exec(select(JobItem, Student.full_name, SchoolClass.name)
                        .join(Transcript, Transcript.id == JobItem.transcript_id)
                        .join(Student, Student.id == Transcript.student_id)
                        .join(SchoolClass, SchoolClass.id == Transcript.class_id)
                        .where(JobItem.job_id == job.id).order_by(JobItem.id)).all()
    return Batch(job, [BatchItem(item.transcript_id, name, class_name, item.status, item.error or "")
                       for item, name, class_name in rows])
