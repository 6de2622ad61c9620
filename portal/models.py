"""All tables. Field names are English; docs/data-model.md maps them to the national record's names.

Dates are `date`; instants are timezone-aware UTC `datetime` (SQLModel's UTCDateTime refuses naive
ones). Codes are short ASCII strings so that SQLite and PostgreSQL store the same thing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# --- School structure ------------------------------------------------------------------------------

LEVELS = {
    "tieuhoc": "Tiểu học",
    "thcs": "Trung học cơ sở",
    "thpt": "Trung học phổ thông",
    "gdtx": "Giáo dục thường xuyên",
}
# macaphoc of the national record.
LEVEL_CODES = {"tieuhoc": "1", "thcs": "2", "thpt": "3", "gdtx": "4"}
LEVEL_GRADES = {"tieuhoc": range(1, 6), "thcs": range(6, 10), "thpt": range(10, 13), "gdtx": range(6, 13)}


class School(SQLModel, table=True):
    __tablename__ = "schools"
    id: int | None = Field(default=None, primary_key=True)
    ministry_code: str = Field(max_length=20)  # matruong
    name: str = Field(max_length=150)  # tentruong
    level: str = Field(max_length=10)  # key of LEVELS → macaphoc
    department_code: str = Field(max_length=2)  # masogd
    department_name: str = Field(max_length=150)  # tensogd
    address: str = Field(default="", max_length=250)
    ward_name: str = Field(default="", max_length=150)  # thongtintruong_diachi_tenxa
    ward_code: str | None = Field(default=None, max_length=5)  # thongtintruong_diachi_maxa
    district_name: str | None = Field(default=None, max_length=250)  # tenhuyen
    province_name: str = Field(default="", max_length=150)  # thongtintruong_diachi_tentinh
    province_code: str = Field(default="", max_length=2)  # thongtintruong_diachi_matinh
    release_place: str = Field(default="", max_length=150)  # diadanhphathanh
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=150)


class SchoolYear(SQLModel, table=True):
    __tablename__ = "school_years"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=9, unique=True)  # namhoc, "YYYY-YYYY"
    start_date: date
    end_date: date
    is_current: bool = Field(default=False)


TERM_CODES = {"hk1": "Học kì I", "hk2": "Học kì II"}


class Term(SQLModel, table=True):
    __tablename__ = "terms"
    __table_args__ = (UniqueConstraint("school_year_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    school_year_id: int = Field(foreign_key="school_years.id", index=True)
    code: str = Field(max_length=4)  # hk1 | hk2
    start_date: date
    end_date: date


class Grade(SQLModel, table=True):
    __tablename__ = "grades"
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)  # 1..12 → makhoi

    @property
    def name(self) -> str:
        return f"Khối {self.number}"

    @property
    def regime(self) -> str:
        """Return the assessment regime of this grade: TT27 for primary, TT22 otherwise."""
        return "tt27" if self.number <= 5 else "tt22"


class Department(SQLModel, table=True):
    """Tổ chuyên môn."""

    __tablename__ = "departments"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=150, unique=True)
    head_id: int | None = Field(default=None, foreign_key="users.id", index=True)


# kind: "score" (comment + score, TT22), "comment" (Đạt/Chưa đạt, TT22), "level" (HTT/HT/CHT, TT27).
SUBJECT_KINDS = {"score": "Đánh giá bằng nhận xét kết hợp điểm số", "comment": "Đánh giá bằng nhận xét",
                 "level": "Mức đạt được (HTT/HT/CHT)"}


class Subject(SQLModel, table=True):
    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("grade_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    grade_id: int = Field(foreign_key="grades.id", index=True)
    code: str = Field(max_length=20)  # the school's code, e.g. "toan"
    ministry_code: str | None = Field(default=None, max_length=3)  # mamonhoc (primary)
    name: str = Field(max_length=100)  # tenmonhoc
    periods_per_year: int
    kind: str = Field(max_length=10)  # key of SUBJECT_KINDS
    has_periodic_test: bool = Field(default=False)  # TT27 periodic tests
    department_id: int | None = Field(default=None, foreign_key="departments.id", index=True)
    position: int = Field(default=0)


class SchoolClass(SQLModel, table=True):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_year_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    school_year_id: int = Field(foreign_key="school_years.id", index=True)
    grade_id: int = Field(foreign_key="grades.id", index=True)
    name: str = Field(max_length=10)  # tenlop
    homeroom_teacher_id: int | None = Field(default=None, foreign_key="users.id", index=True)


class TeachingAssignment(SQLModel, table=True):
    """One teacher teaches one subject to one class; the year is the class's."""

    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("class_id", "subject_id"),)
    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True)
    subject_id: int = Field(foreign_key="subjects.id", index=True)
    teacher_id: int = Field(foreign_key="users.id", index=True)


# --- People and accounts ---------------------------------------------------------------------------

# Stored roles. "homeroom" and "department_head" are derived from classes and departments.
STORED_ROLES = ("admin", "principal", "vice_principal", "teacher", "office", "parent")


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=150)
    email: str | None = Field(default=None, max_length=150)
    phone: str | None = Field(default=None, max_length=20)
    password_hash: str = Field(max_length=255)
    active: bool = Field(default=True)
    must_change_password: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime | None = None
    last_login_at: datetime | None = None


class UserRole(SQLModel, table=True):
    __tablename__ = "user_roles"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    role: str = Field(max_length=20, primary_key=True)


class TeacherProfile(SQLModel, table=True):
    __tablename__ = "teacher_profiles"
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    personal_id: str = Field(max_length=12, unique=True)  # số định danh cá nhân (soddcngvcn, ...)
    date_of_birth: date | None = None
    sex: int = Field(default=0)  # 0 chưa có thông tin, 1 nam, 2 nữ (QCVN 109:2017)
    title: str = Field(default="Giáo viên", max_length=150)  # chức vụ (chucvugiamhieu)
    department_id: int | None = Field(default=None, foreign_key="departments.id", index=True)


class UserSession(SQLModel, table=True):
    """A server-side login session; the cookie holds a random token whose SHA-256 is stored here."""

    __tablename__ = "user_sessions"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=255)


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),
                      Index("ix_login_attempts_ip_at", "ip", "at"))
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(max_length=45)
    at: datetime = Field(default_factory=utcnow)
    success: bool = Field(default=False)


# --- Students ----------------------------------------------------------------------------------------

SEXES = {0: "Chưa có thông tin", 1: "Nam", 2: "Nữ"}


class Student(SQLModel, table=True):
    __tablename__ = "students"
    id: int | None = Field(default=None, primary_key=True)
    student_code: str = Field(max_length=20, unique=True)  # mahocsinh
    personal_id: str = Field(max_length=12, unique=True)  # sodinhdanh
    full_name: str = Field(max_length=150)  # hovaten
    date_of_birth: date  # ngaythangnamsinh
    sex: int = Field(default=0)  # gioitinh
    ethnicity: str = Field(default="01", max_length=3)  # dantoc (QCVN 109: 01 = Kinh)
    nationality: str = Field(default="VN", max_length=2)  # quoctich
    birthplace: str = Field(default="", max_length=250)  # noisinh_diachichitiet
    birthplace_province_code: str | None = Field(default=None, max_length=2)  # noisinh_matinh
    hometown: str = Field(default="", max_length=250)  # quequan_diachichitiet
    residence: str = Field(default="", max_length=250)  # noiohiennay_diachichitiet
    policy_group: str | None = Field(default=None, max_length=250)  # doituongchinhsach
    disability_not_assessed: bool = Field(default=False)  # cokhuyettatkhongdanhgia
    registration_number: str | None = Field(default=None, max_length=50)  # sosodangbo
    father_name: str | None = Field(default=None, max_length=150)  # hotencha
    father_occupation: str | None = Field(default=None, max_length=150)
    mother_name: str | None = Field(default=None, max_length=150)  # hotenme
    mother_occupation: str | None = Field(default=None, max_length=150)
    guardian_name: str | None = Field(default=None, max_length=150)  # hotennguoigiamho
    guardian_occupation: str | None = Field(default=None, max_length=150)
    photo_sha256: str | None = Field(default=None, max_length=64)  # set when a StudentPhoto exists
    status: str = Field(default="studying", max_length=20)  # studying | transferred | graduated
    created_at: datetime = Field(default_factory=utcnow)


class StudentPhoto(SQLModel, table=True):
    """The 3×4 photo, kept in the database so that backups and archives carry it."""

    __tablename__ = "student_photos"
    student_id: int = Field(foreign_key="students.id", primary_key=True)
    mime: str = Field(max_length=20)  # image/jpeg | image/png
    data: bytes
    updated_at: datetime = Field(default_factory=utcnow)


class Enrollment(SQLModel, table=True):
    """A student's membership of a class in a school year (the basis of quatrinhhoctap)."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("student_id", "class_id"),)
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    class_id: int = Field(foreign_key="classes.id", index=True)
    number: int | None = None  # số thứ tự trong lớp
    joined_on: date | None = None  # ngaytrangthaichuyenden when transferred in
    left_on: date | None = None


GUARDIAN_RELATIONS = {"cha": "Cha", "me": "Mẹ", "giam_ho": "Người giám hộ"}


class Guardian(SQLModel, table=True):
    __tablename__ = "guardians"
    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(max_length=150)
    relation: str = Field(default="giam_ho", max_length=10)  # key of GUARDIAN_RELATIONS
    phone: str | None = Field(default=None, max_length=20)
    occupation: str | None = Field(default=None, max_length=150)
    user_id: int | None = Field(default=None, foreign_key="users.id", unique=True)  # parent account


class StudentGuardian(SQLModel, table=True):
    __tablename__ = "student_guardians"
    student_id: int = Field(foreign_key="students.id", primary_key=True)
    guardian_id: int = Field(foreign_key="guardians.id", primary_key=True)


# --- Background jobs ---------------------------------------------------------------------------------


class Job(SQLModel, table=True):
    """A unit of background work. This row is the truth about its status; RQ only carries it."""

    __tablename__ = "jobs"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=50)  # dotted entry point, e.g. "jobs.system.ping"
    status: str = Field(default="queued", max_length=20)  # queued | running | done | failed
    total: int = Field(default=0)
    done: int = Field(default=0)
    failed: int = Field(default=0)
    error: str | None = None
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# --- Assessments (gradebook) -------------------------------------------------------------------------

# Slots of a subject's term. TT22: regular assessments tx1..tx4 (ĐĐGtx), mid-term gk (ĐĐGgk), end of
# term ck (ĐĐGck); term "year" slot "retake" holds the re-assessment result. TT27: level at mid-term and
# end of term (gk_level, ck_level) and periodic test scores (gk_test for grades 4–5 in Tiếng Việt and
# Toán, ck_test: end of term I and end of year).
TT22_SLOTS = ("tx1", "tx2", "tx3", "tx4", "gk", "ck")
TT27_SLOTS = ("gk_level", "ck_level", "gk_test", "ck_test")
ASSESSMENT_TERMS = ("hk1", "hk2", "year")


class Assessment(SQLModel, table=True):
    """One cell of a subject's gradebook: a score, a comment result (D/CD) or a level."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("student_id", "subject_id", "school_year_id", "term", "slot"),
                      Index("ix_assessments_class_subject", "class_id", "subject_id", "term"))
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    subject_id: int = Field(foreign_key="subjects.id")
    school_year_id: int = Field(foreign_key="school_years.id")
    class_id: int = Field(foreign_key="classes.id")  # the class the student was in when assessed
    term: str = Field(max_length=4)  # hk1 | hk2 | year
    slot: str = Field(max_length=10)
    value: str = Field(max_length=10)  # normalised: "8.5", "10", "D", "CD", "HTT", "M"
    version: int = Field(default=1)  # optimistic concurrency: a stale write is refused
    updated_by: int = Field(foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow)


class SubjectComment(SQLModel, table=True):
    """A subject teacher's comment on a student for a term (nhận xét môn học)."""

    __tablename__ = "subject_comments"
    __table_args__ = (UniqueConstraint("student_id", "subject_id", "school_year_id", "term"),)
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    subject_id: int = Field(foreign_key="subjects.id")
    school_year_id: int = Field(foreign_key="school_years.id")
    class_id: int = Field(foreign_key="classes.id", index=True)
    term: str = Field(max_length=4)
    text: str = Field(max_length=1000)
    version: int = Field(default=1)
    updated_by: int = Field(foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow)


# Homeroom entries per student and term (hk1 | hk2 | year), keyed by name (see gradebook/rules.py):
#   per term: conduct (TT22 T/K/D/CD), absences_excused, absences_unexcused (sessions), the TT27
#   qualities and competencies (the keys of ASSESSMENT.md §C); per year: homeroom_comment,
#   conduct_retrained (after summer training), award_note (free text).
class StudentRecord(SQLModel, table=True):
    __tablename__ = "student_records"
    __table_args__ = (UniqueConstraint("student_id", "school_year_id", "term", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    school_year_id: int = Field(foreign_key="school_years.id")
    class_id: int = Field(foreign_key="classes.id", index=True)
    term: str = Field(max_length=4)
    key: str = Field(max_length=30)
    value: str = Field(max_length=2000)
    version: int = Field(default=1)
    updated_by: int = Field(foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow)


class Flag(SQLModel, table=True):
    """A department head's note on a gradebook (a cell, a student or the whole sheet) for the teacher."""

    __tablename__ = "flags"
    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True)
    subject_id: int = Field(foreign_key="subjects.id", index=True)
    term: str = Field(max_length=4)
    student_id: int | None = Field(default=None, foreign_key="students.id")
    slot: str | None = Field(default=None, max_length=10)
    note: str = Field(max_length=1000)
    status: str = Field(default="open", max_length=10)  # open | resolved
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    resolved_by: int | None = Field(default=None, foreign_key="users.id")
    resolved_at: datetime | None = None
    resolution: str | None = Field(default=None, max_length=1000)


# --- Grade periods, locks, unlock requests (issue: periods) ------------------------------------------

# The five assessment periods of a school year. Which data each period covers: gk* the mid-term cells of
# its term; ck* the other cells of the term (regular assessments, end of term), the subject comments and
# the homeroom entries of the term; cn the whole-year data (retake results, year comments, awards,
# summer conduct re-evaluation).
PERIODS = {
    "gk1": "Giữa học kì I",
    "ck1": "Cuối học kì I",
    "gk2": "Giữa học kì II",
    "ck2": "Cuối học kì II",
    "cn": "Cả năm",
}
LOCK_SCOPES = {"school": "Toàn trường", "grade": "Khối", "class": "Lớp"}
UNLOCK_STATUSES = {"pending": "Chờ quyết định", "granted": "Đã cho mở", "refused": "Từ chối"}
# Year deadlines other than data entry (seed 002 §III.1): signing, signing of the last grade of the level
# (grade 9 in a THCS), sending to the Ministry's database.
YEAR_DEADLINES = {
    "signing": "Hoàn thành ký học bạ",
    "signing_final": "Hoàn thành ký học bạ lớp cuối cấp",
    "sending": "Hoàn thành gửi học bạ về CSDL của Bộ",
}


class GradePeriod(SQLModel, table=True):
    """One assessment period of a school year and the last day (local time) on which its data may be entered."""

    __tablename__ = "grade_periods"
    __table_args__ = (UniqueConstraint("school_year_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    school_year_id: int = Field(foreign_key="school_years.id", index=True)
    code: str = Field(max_length=4)  # key of PERIODS
    deadline: date  # entry allowed through this day (Vietnam time); locked from the next midnight


class YearDeadline(SQLModel, table=True):
    __tablename__ = "year_deadlines"
    __table_args__ = (UniqueConstraint("school_year_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    school_year_id: int = Field(foreign_key="school_years.id", index=True)
    code: str = Field(max_length=20)  # key of YEAR_DEADLINES
    due: date


class PeriodLock(SQLModel, table=True):
    """The principal's lock of a period for the school, a grade or a class; released_at ends it."""

    __tablename__ = "period_locks"
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="grade_periods.id", index=True)
    scope: str = Field(max_length=10)  # key of LOCK_SCOPES
    grade_id: int | None = Field(default=None, foreign_key="grades.id")
    class_id: int | None = Field(default=None, foreign_key="classes.id")
    locked_by: int = Field(foreign_key="users.id")
    locked_at: datetime = Field(default_factory=utcnow)
    released_by: int | None = Field(default=None, foreign_key="users.id")
    released_at: datetime | None = None


GRANT_CHECK = ("status <> 'granted' OR (minutes_number IS NOT NULL AND minutes_number <> ''"
               " AND minutes_date IS NOT NULL AND approver IS NOT NULL AND approver <> ''"
               " AND decided_by IS NOT NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL)")


class UnlockRequest(SQLModel, table=True):
    """A request to write in a locked scope and its decision: a grant with its written approval, or a refusal.

    Scope: period + class + subject (NULL subject = the homeroom entries of the class), optionally one
    student. A grant is active from `starts_at` until `ends_at`; it needs the minutes (biên bản) number,
    date and approver (a CHECK constraint refuses a grant without them).
    """

    __tablename__ = "unlock_requests"
    __table_args__ = (CheckConstraint(GRANT_CHECK, name="ck_unlock_requests_grant_has_approval"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="grade_periods.id", index=True)
    class_id: int = Field(foreign_key="classes.id", index=True)
    subject_id: int | None = Field(default=None, foreign_key="subjects.id")
    student_id: int | None = Field(default=None, foreign_key="students.id")
    reason: str = Field(max_length=1000)
    requested_by: int = Field(foreign_key="users.id", index=True)
    requested_at: datetime = Field(default_factory=utcnow)
    status: str = Field(default="pending", max_length=10)  # key of UNLOCK_STATUSES
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = None
    refusal_reason: str | None = Field(default=None, max_length=1000)
    minutes_number: str | None = Field(default=None, max_length=50)  # số biên bản
    minutes_date: date | None = None
    approver: str | None = Field(default=None, max_length=150)  # who signed the approval
    scan_path: str | None = Field(default=None, max_length=200)  # relative to the instance folder
    scan_sha256: str | None = Field(default=None, max_length=64)
    scan_mime: str | None = Field(default=None, max_length=50)
    scan_name: str | None = Field(default=None, max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


# --- Audit trail ----------------------------------------------------------------------------------------


class AuditEvent(SQLModel, table=True):
    """One append-only, hash-chained event: hash = SHA-256(prev_hash ‖ canonical JSON of the event).

    See portal/audit.py for the canonical form. Triggers (migration 0003) abort UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(max_length=32)  # UTC, ISO 8601 with microseconds, e.g. 2026-11-23T08:15:02.123456Z
    action: str = Field(max_length=40, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str = Field(default="", max_length=150)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    object_type: str = Field(default="", max_length=40)
    object_id: str = Field(default="", max_length=60)
    school_year_id: int | None = None
    class_id: int | None = Field(default=None, index=True)
    subject_id: int | None = None
    student_id: int | None = Field(default=None, index=True)
    period: str = Field(default="", max_length=4)
    grant_id: int | None = Field(default=None, index=True)
    before: str = Field(default="")  # canonical JSON or ""
    after: str = Field(default="")
    note: str = Field(default="", max_length=1000)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The chain's last event and count, moved in the same transaction as every append (detects a cut tail)."""

    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    count: int = Field(default=0)
    last_id: int = Field(default=0)
    hash: str = Field(max_length=64)


# --- Signing keys (issue: transcripts) ----------------------------------------------------------------


class SignerKey(SQLModel, table=True):
    """Where a signer's key lives (PKCS#11 module, token label, key label) and its certificate.

    A person's key (user_id set) signs their rows of the transcripts; the school's organisation key
    (user_id NULL, kind "school") is the seal. The admin can point a signer at another PKCS#11 library,
    token and key, or import a real certificate; the newest active row is the one used.
    """

    __tablename__ = "signer_keys"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    kind: str = Field(default="person", max_length=10)  # person | school
    module: str = Field(max_length=300)  # path of the PKCS#11 library
    token_label: str = Field(max_length=64)
    key_label: str = Field(max_length=64)
    certificate: bytes  # DER
    subject: str = Field(max_length=300)
    issuer: str = Field(max_length=300)
    serial: str = Field(max_length=64)
    not_before: datetime
    not_after: datetime
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


# --- Transcripts (issue: transcripts) ---------------------------------------------------------------------

# draft: prepared (rendered, XML sealed) and open for signatures; released: phát hành, immutable; revoked:
# thu hồi (a new version references it); void: a draft withdrawn before release (data changed).
TRANSCRIPT_STATUSES = {"signing": "Đang ký", "released": "Đã phát hành", "revoked": "Đã thu hồi",
                       "void": "Đã hủy bản nháp"}
# The legal order of signatures: every subject/activity teacher (any order among them) → homeroom teacher
# → principal → school seal.
SIGNER_ROLES = {"subject": "Giáo viên môn học", "homeroom": "Giáo viên chủ nhiệm", "principal": "Hiệu trưởng",
                "school": "Con dấu số của nhà trường"}
SIGNER_STAGES = {"subject": 1, "homeroom": 2, "principal": 3, "school": 4}


class Transcript(SQLModel, table=True):
    """One version of one student's transcript for one school year: the signed PDF and sealed XML.

    The PDF grows by one incremental update per signature; once `status` is "released" the row is frozen
    (database triggers, migration 0005): only revocation may change it, and only its revocation fields.
    """

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("student_id", "school_year_id", "version"),
                      Index("ix_transcripts_year_status", "school_year_id", "status"))
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    school_year_id: int = Field(foreign_key="school_years.id")
    class_id: int = Field(foreign_key="classes.id", index=True)
    version: int = Field(default=1)  # phienban
    record_id: str = Field(max_length=36)  # madinhdanhhocba: the same for every version of a student-year
    verify_code: str = Field(max_length=20, unique=True)  # printed on every page, per version
    status: str = Field(default="signing", max_length=10)  # key of TRANSCRIPT_STATUSES
    supersedes_id: int | None = Field(default=None, foreign_key="transcripts.id")
    regime: str = Field(max_length=4)  # tt22 | tt27
    data_json: str  # canonical JSON of the national record (what the XML and the PDF show)
    data_sha256: str = Field(max_length=64)
    xml: bytes  # the XML data file, XAdES-BES signed by the school
    pdf: bytes  # the current PDF: rendered, then one incremental update per signature
    pdf_sha256: str = Field(max_length=64)
    issue_date: date  # ngaykyphathanh, printed next to the principal's signature
    issue_place: str = Field(max_length=150)  # diadanhphathanh
    prepared_by: int = Field(foreign_key="users.id")
    prepared_at: datetime = Field(default_factory=utcnow)
    released_by: int | None = Field(default=None, foreign_key="users.id")
    released_at: datetime | None = None
    revoked_by: int | None = Field(default=None, foreign_key="users.id")
    revoked_at: datetime | None = None
    revoke_reason: str | None = Field(default=None, max_length=1000)
    revoke_minutes_number: str | None = Field(default=None, max_length=50)
    revoke_minutes_date: date | None = None
    revoke_approver: str | None = Field(default=None, max_length=150)
    revoke_scan_path: str | None = Field(default=None, max_length=200)
    revoke_scan_sha256: str | None = Field(default=None, max_length=64)


class TranscriptSignature(SQLModel, table=True):
    """One required signature of a transcript version, in the legal order (`stage`, then `position`)."""

    __tablename__ = "transcript_signatures"
    __table_args__ = (UniqueConstraint("transcript_id", "position"),
                      Index("ix_transcript_signatures_user_status", "user_id", "status"))
    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcripts.id", index=True)
    position: int  # 1.. in signing order; the PDF field is named after it
    stage: int  # SIGNER_STAGES of the role: all signatures of a stage precede the next stage's
    role: str = Field(max_length=10)  # key of SIGNER_ROLES
    user_id: int | None = Field(default=None, foreign_key="users.id")  # NULL for the school seal
    signer_name: str = Field(max_length=150)
    subjects: str = Field(default="", max_length=500)  # subject names a teacher signs for
    field_name: str = Field(max_length=60)
    status: str = Field(default="pending", max_length=10)  # pending | signed
    signed_at: datetime | None = None
    signer_key_id: int | None = Field(default=None, foreign_key="signer_keys.id")
    cert_serial: str | None = Field(default=None, max_length=64)


class JobItem(SQLModel, table=True):
    """One item of a batch job (e.g. one transcript to sign) and its outcome with the reason of a failure."""

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "transcript_id"),)
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id", index=True)
    transcript_id: int = Field(foreign_key="transcripts.id", index=True)
    status: str = Field(default="queued", max_length=10)  # queued | done | failed
    error: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = Field(default_factory=utcnow)


# --- Public verification --------------------------------------------------------------------------------


class VerifyAttempt(SQLModel, table=True):
    """One public verification (file upload or code lookup), counted per client to rate-limit them across
    processes; rows older than the window are pruned as new ones arrive."""

    __tablename__ = "verify_attempts"
    __table_args__ = (Index("ix_verify_attempts_client_at", "client", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=64)  # keyed hash of the client address: no address is stored
    at: datetime = Field(default_factory=utcnow, index=True)


# --- Sending, receiving, transfer, parents (issue: delivery) ---------------------------------------------------

# "rejected": the receiver refused the content (HTTP 422 or 409); it would refuse it again, so it is not retried until
# someone resends it by hand.
SUBMISSION_STATUSES = {"pending": "Chờ gửi", "sending": "Đang gửi", "sent": "Đã gửi", "failed": "Lỗi, sẽ gửi lại",
                       "rejected": "Bị từ chối"}
SUBMISSION_EVENTS = ("NEW", "UPDATE", "CANCEL")


class Submission(SQLModel, table=True):
    """One transcript event to deliver to one endpoint (the outbox). Written in the same transaction as the
    release or revocation that causes it; this row, not RQ, is the truth about its delivery."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("endpoint", "idbanghi", "phienban"),
                      UniqueConstraint("endpoint", "transcript_id", "sukien"),
                      Index("ix_submissions_status_next", "status", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcripts.id", index=True)
    endpoint: str = Field(max_length=20)  # key of the configured endpoints, e.g. "ministry", "department"
    idbanghi: str = Field(max_length=150)  # the record: madinhdanhhocba
    sukien: str = Field(max_length=10)  # NEW | UPDATE | CANCEL
    phienban: int  # strictly increasing per (endpoint, idbanghi): the idempotency key is idbanghi + phienban
    thoigiancapnhat: str = Field(max_length=20)  # "YYYY-MM-DD HH:MM:SS" (Vietnam time) of the event
    status: str = Field(default="pending", max_length=10)  # key of SUBMISSION_STATUSES
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)  # when pending/failed; unused once sent or rejected
    last_error: str | None = Field(default=None, max_length=1000)
    receipt: str | None = None  # the receiver's receipt (JSON text) once accepted
    receipt_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class ReceivedRecord(SQLModel, table=True):
    """What this portal received as a receiver (a Department server, or a school receiving transfers).

    One row per (sender, idbanghi, phienban) that was accepted; the highest phienban of an idbanghi is the
    current one. Rejected submissions are kept too (accepted False) with their reasons, for the sender's
    support calls; a resend of an accepted version gets the same receipt.
    """

    __tablename__ = "received_records"
    __table_args__ = (Index("ix_received_records_key", "sender", "idbanghi", "phienban"),)
    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=20)  # the sending school's matruong
    idbanghi: str = Field(max_length=150)
    phienban: int
    sukien: str = Field(max_length=10)
    accepted: bool = Field(default=False)
    reasons: str = Field(default="")  # JSON list of Vietnamese reasons when rejected
    receipt_id: str = Field(max_length=100)
    receipt: str = Field(default="")  # JSON
    student_name: str = Field(default="", max_length=150)
    school_year: str = Field(default="", max_length=9)
    class_name: str = Field(default="", max_length=10)
    xml: bytes | None = None
    pdf: bytes | None = None
    pdf_sha256: str = Field(default="", max_length=64)
    received_at: datetime = Field(default_factory=utcnow)


class TransferredDocument(SQLModel, table=True):
    """A signed transcript brought by a student from another school (transfer package), stored unchanged."""

    __tablename__ = "transferred_documents"
    __table_args__ = (UniqueConstraint("student_id", "pdf_sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    source_school: str = Field(max_length=150)
    source_school_code: str = Field(max_length=20)
    school_year: str = Field(max_length=9)
    class_name: str = Field(max_length=100)
    version: int
    madinhdanhhocba: str = Field(max_length=36)
    pdf: bytes
    pdf_sha256: str = Field(max_length=64)
    xml: bytes
    report: str = Field(default="")  # JSON: the verification report made at import
    imported_by: int = Field(foreign_key="users.id")
    imported_at: datetime = Field(default_factory=utcnow)


class ParentClaimCode(SQLModel, table=True):
    """A one-time code the school hands a parent to link their account to a child (only its hash is kept)."""

    __tablename__ = "parent_claim_codes"
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    code_sha256: str = Field(max_length=64, unique=True)
    relation: str = Field(default="giam_ho", max_length=10)  # key of GUARDIAN_RELATIONS
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_by: int | None = Field(default=None, foreign_key="users.id")
    used_at: datetime | None = None


class TermPublication(SQLModel, table=True):
    """The principal's publication of a class's term results to parents (hk1, hk2 or year)."""

    __tablename__ = "term_publications"
    __table_args__ = (UniqueConstraint("class_id", "term"),)
    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True)
    term: str = Field(max_length=4)  # hk1 | hk2 | year
    published_by: int = Field(foreign_key="users.id")
    published_at: datetime = Field(default_factory=utcnow)
