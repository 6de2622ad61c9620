"""The national record of one student's school year, in the field names of DATA_DICTIONARY.md.

`build_record` reads the database once and returns a `Record`: the main table's fields (``hocba``), the
subject rows (``bangdiem``: ``thongtinsohocbasothcsthpt_bangdiem`` or ``thongtinsohocbasotieuhoc_dsbangdiem``),
the learning history (``quatrinhhoctap``) and an extension (``morong``) with what the paper template shows
beyond the national fields: the ordered list of signers (``chuky``) and, for primary, each subject's
teacher and comment. Every value is a string ("" when empty) in the national encoding: enumerations as the
dictionary lists them (T/K/Đ/CĐ, T/H/C, T/Đ/C, M), scores with a decimal point ("7.9"), booleans "0"/"1",
dates YYYY-MM-DD. The XML file is this record written out; the PDF renders it; the agreement test reads
both back and compares them with this, field for field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from portal.errors import NotFound
from portal.homeroom.service import load_class_year
from portal.models import (
    LEVEL_CODES,
    Enrollment,
    School,
    SchoolClass,
    SchoolYear,
    SubjectComment,
    TeacherProfile,
    TransferredDocument,
    User,
    UserRole,
)

SCHEMA_VERSION = "1.0"
SECONDARY_TABLE = "thongtinsohocbasothcsthpt"
PRIMARY_TABLE = "thongtinsohocbasotieuhoc"
CIRCULARS = {"tt22": "22/2021/TT-BGDĐT", "tt27": "27/2020/TT-BGDĐT"}

# Internal codes → national enumerations.
TT22_LEVEL = {"T": "T", "K": "K", "D": "Đ", "CD": "CĐ"}
TT22_RESULT = {"D": "Đ", "CD": "CĐ", "M": "M"}
TT27_LEVEL = {"HTT": "T", "HT": "H", "CHT": "C", "M": "M"}
TT27_RATING = {"T": "T", "D": "Đ", "CCG": "C"}
TT27_OVERALL = {"HTXS": "Hoàn thành xuất sắc", "HTT": "Hoàn thành tốt", "HT": "Hoàn thành",
                "CHT": "Chưa hoàn thành"}
DECISIONS = {"len_lop": "Được lên lớp", "o_lai": "Không được lên lớp", "kiem_tra_lai": "Kiểm tra lại",
             "ren_luyen_he": "Rèn luyện trong kì nghỉ hè"}
AWARDS = {"xuat_sac": "Học sinh Xuất sắc", "gioi": "Học sinh Giỏi"}
# National field → our competency/quality key (TT27 record).
TT27_COMPETENCY_FIELDS = {
    "nangluctuhoc": "tu_chu_tu_hoc", "nanglucgiaotiep": "giao_tiep_hop_tac", "nanglucgiaiquyet": "gqvd_sang_tao",
    "nanglucngonngu": "ngon_ngu", "nangluctinhtoan": "tinh_toan", "nangluckhoahoc": "khoa_hoc",
    "nangluccongnghe": "cong_nghe", "nangluctinhoc": "tin_hoc", "nanglucthammi": "tham_mi",
    "nanglucthechat": "the_chat",
}
TT27_QUALITY_FIELDS = {
    "phamchatyeunuoc": "yeu_nuoc", "phamchatnhanai": "nhan_ai", "phamchatchamchi": "cham_chi",
    "phamchattrungthuc": "trung_thuc", "phamchattrachnhiem": "trach_nhiem",
}


class RecordError(Exception):
    """The data cannot make a transcript yet; `problems` lists why, in Vietnamese."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Identity:
    """What identifies one version of a transcript (decided when it is prepared)."""

    key: str  # keythongtinsohocba…: 32 hex characters, one per version
    record_id: str  # madinhdanhhocba: the same for every version of a student-year
    version: int  # phienban / phienbanthongtinhocba
    verify_code: str
    issue_date: date  # ngaykyphathanh
    issue_place: str  # diadanhphathanh
    created_at: datetime  # ngaytao / thoigiancapnhat (UTC)


@dataclass(frozen=True)
class Signer:
    """One required signature: its place in the legal order and who gives it."""

    position: int
    stage: int
    role: str  # subject | homeroom | principal | school
    user_id: int | None
    name: str
    personal_id: str
    subjects: tuple[str, ...] = ()

    @property
    def field_name(self) -> str:
        return f"ChuKy{self.position:02d}_{self.role}"


@dataclass
class Record:
    table: str  # SECONDARY_TABLE | PRIMARY_TABLE
    regime: str  # tt22 | tt27
    hocba: dict[str, str]
    bangdiem: list[dict[str, str]]
    quatrinhhoctap: list[dict[str, str]]
    morong: dict = field(default_factory=dict)
    schema: str = SCHEMA_VERSION

    @property
    def signers(self) -> list[Signer]:
        return [Signer(**{**s, "subjects": tuple(s["subjects"])}) for s in self.morong.get("chuky", [])]

    def as_dict(self) -> dict:
        return asdict(self)

    def canonical_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls(**json.loads(text))


def envelope(identity: Identity) -> dict[str, str]:
    """The sending envelope fields that every national table carries."""
    stamp = identity.created_at.strftime("%Y-%m-%d %H:%M:%S")
    return {"idbanghi": identity.record_id, "sukien": "NEW" if identity.version == 1 else "UPDATE",
            "phienban": str(identity.version), "thoigiancapnhat": stamp, "ngaycapnhat": stamp}


def _score(value: str | None) -> str:
    """A TT22 result in national form: "7.9", "Đ", "CĐ", "M" or ""."""
    if not value:
        return ""
    return TT22_RESULT.get(value, value)


def _b(value: bool) -> str:
    return "1" if value else "0"


def _profile(session: Session, user_id: int | None) -> tuple[User | None, TeacherProfile | None]:
    if user_id is None:
        return None, None
    return session.get(User, user_id), session.get(TeacherProfile, user_id)


def principal_of(session: Session) -> tuple[User, TeacherProfile] | None:
    row = session.exec(
        select(User, TeacherProfile).join(TeacherProfile, TeacherProfile.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id).where(UserRole.role == "principal", User.active)
        .order_by(User.id)).first()
    return (row[0], row[1]) if row else None


def enrollment_for(session: Session, student_id: int, school_year_id: int) -> tuple[Enrollment, SchoolClass]:
    row = session.exec(
        select(Enrollment, SchoolClass).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(Enrollment.student_id == student_id, SchoolClass.school_year_id == school_year_id)
        .order_by(Enrollment.left_on.is_not(None), Enrollment.id)).first()
    if row is None:
        raise NotFound("Học sinh không học ở trường trong năm học này.")
    return row[0], row[1]


def _comments(session: Session, student_id: int, school_year_id: int) -> dict[int, str]:
    """Each subject's year comment (the year's if written, else HK II's, else HK I's)."""
    rank = {"year": 0, "hk2": 1, "hk1": 2}
    best: dict[int, tuple[int, str]] = {}
    for row in session.exec(select(SubjectComment).where(SubjectComment.student_id == student_id,
                                                         SubjectComment.school_year_id == school_year_id)):
        r = rank.get(row.term, 9)
        if row.text.strip() and (row.subject_id not in best or r < best[row.subject_id][0]):
            best[row.subject_id] = (r, row.text.strip())
    return {k: v[1] for k, v in best.items()}


def _history(session: Session, student_id: int, school: School, year: SchoolYear, key: str,
             env: dict[str, str], table: str) -> list[dict[str, str]]:
    rows = session.exec(
        select(Enrollment, SchoolClass, SchoolYear).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
        .where(Enrollment.student_id == student_id, SchoolYear.start_date <= year.start_date)
        .order_by(SchoolYear.start_date, Enrollment.id)).all()
    here = [{"namhoc": row_year.name, "tenlop": klass.name, "tentruong": school.name, "tentinh": school.province_name,
             "ngaytrangthaichuyenden": enrollment.joined_on.isoformat() if enrollment.joined_on else ""}
            for enrollment, klass, row_year in rows]
    seen = {(y["namhoc"], y["tenlop"], y["tentruong"]) for y in here}
    earlier = [y for y in _transferred_years(session, student_id, year)
               if (y["namhoc"], y["tenlop"], y["tentruong"]) not in seen]
    # A stable sort by year: the other schools' part of a year comes before this school's.
    years = sorted(earlier + here, key=lambda y: y["namhoc"])
    return [{f"key{table}_quatrinhhoctap": f"{key[:28]}q{index:03d}", f"key{table}": key, **item, **env}
            for index, item in enumerate(years, start=1)]


def _transferred_years(session: Session, student_id: int, year: SchoolYear) -> list[dict[str, str]]:
    """The years spent at other schools up to `year`, read from the signed transcripts the student brought on
    transfer (the newest version of each): each one's own year and the history it lists itself."""
    from portal.transcripts import xmlfile  # xmlfile imports this module

    rows = session.exec(
        select(TransferredDocument.madinhdanhhocba, TransferredDocument.xml)
        .where(TransferredDocument.student_id == student_id, TransferredDocument.school_year <= year.name)
        .order_by(TransferredDocument.madinhdanhhocba, TransferredDocument.version.desc())).all()
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    done: set[str] = set()
    for record_id, xml in rows:
        if record_id in done:
            continue
        done.add(record_id)
        record = xmlfile.from_xml(xml)
        h = record.hocba
        own = {"namhoc": h.get("namhoc", ""), "tenlop": h.get("tenlop", ""), "tentruong": h.get("tentruong", ""),
               "tentinh": h.get("thongtintruong_diachi_tentinh", ""), "ngaytrangthaichuyenden": ""}
        for item in [*record.quatrinhhoctap, own]:
            entry = {name: item.get(name, "") for name in own}
            if entry["namhoc"] <= year.name:
                found.setdefault((entry["namhoc"], entry["tenlop"], entry["tentruong"]), entry)
    return sorted(found.values(), key=lambda y: (y["namhoc"], y["ngaytrangthaichuyenden"]))


def ministry_subject_code(subject) -> str:
    """mamonhoc: the subject's ministry code when the school set one, else its code's first three letters."""
    return (subject.ministry_code or subject.code[:3]).upper()


def build_record(session: Session, *, student_id: int, school_year_id: int, identity: Identity) -> Record:
    """Read one student's year and return the national record; raise RecordError when it is not complete."""
    school = session.exec(select(School)).first()
    year = session.get(SchoolYear, school_year_id)
    enrollment, klass = enrollment_for(session, student_id, school_year_id)
    book = load_class_year(session, class_id=klass.id, student_ids=[student_id], include_left=True)
    if not book.students:
        raise NotFound("Học sinh không còn trong danh sách lớp.")
    item = book.students[0]
    student = item.student
    result = item.result
    problems: list[str] = []
    if result["incomplete"]:
        from portal.homeroom.service import describe_missing

        for entry in result["incomplete"][:10]:
            subject = next((s.name for s in book.subjects if s.code == entry["subject"]), None)
            problems.append(f"Thiếu {describe_missing(entry)}" + (f" môn {subject}" if subject else ""))
    principal = principal_of(session)
    if principal is None:
        problems.append("Trường chưa có tài khoản hiệu trưởng có số định danh cá nhân.")
    homeroom, homeroom_profile = _profile(session, klass.homeroom_teacher_id)
    if homeroom is None or homeroom_profile is None:
        problems.append(f"Lớp {klass.name} chưa có giáo viên chủ nhiệm có số định danh cá nhân.")
    regime = "tt27" if book.primary else "tt22"
    table = PRIMARY_TABLE if book.primary else SECONDARY_TABLE
    env = envelope(identity)
    comments = _comments(session, student_id, school_year_id)

    # Subject rows and the subject teachers who sign them.
    teacher_subjects: dict[int, list[str]] = {}
    bangdiem = []
    subject_extra = []
    for index, subject in enumerate(book.subjects, start=1):
        teacher = book.teachers.get(subject.id)
        profile = session.get(TeacherProfile, teacher.id) if teacher else None
        if teacher is None:
            problems.append(f"Môn {subject.name} chưa có giáo viên được phân công.")
        elif profile is None or len(profile.personal_id) != 12 or not profile.personal_id.isdigit():
            problems.append(f"Giáo viên {teacher.full_name} (môn {subject.name}) "
                            "chưa có số định danh cá nhân 12 chữ số.")
        else:
            teacher_subjects.setdefault(teacher.id, []).append(subject.name)
        row_key = f"{identity.key[:28]}b{index:03d}"
        if regime == "tt22":
            values = result["subjects"].get(subject.code, {})
            exempt = values.get("year") == "M"
            bangdiem.append({
                f"key{table}_bangdiem": row_key, f"key{table}": identity.key,
                "mamonhoc": ministry_subject_code(subject), "tenmonhoc": subject.name,
                "diemhocky1": "M" if exempt else _score(values.get("hk1")),
                "diemhocky2": "M" if exempt else _score(values.get("hk2")),
                "diemcanam": _score(values.get("year")),
                "diemkttralai": _score(item.cells.get((subject.code, "year", "retake"))),
                "nxetmonhoc": comments.get(subject.id, ""),
                "soddcngvbm": profile.personal_id if profile else "", "gvbm": teacher.full_name if teacher else "",
                **env})
        else:
            level = item.cells.get((subject.code, "hk2", "ck_level"), "")
            test = item.cells.get((subject.code, "hk2", "ck_test"), "")
            bangdiem.append({
                f"key{table}_dsbangdiem": row_key, f"key{table}": identity.key,
                "mamonhoc": ministry_subject_code(subject), "tenmonhoc": subject.name,
                "mucdatduoc": TT27_LEVEL.get(level, ""), "diemkiemtradinhky": "M" if level == "M" else test,
                **env})
            subject_extra.append({"mamonhoc": ministry_subject_code(subject),
                                  "nxetmonhoc": comments.get(subject.id, ""),
                                  "gvbm": teacher.full_name if teacher else "",
                                  "soddcngvbm": profile.personal_id if profile else ""})
    if problems:
        raise RecordError(problems)

    p_user, p_profile = principal
    records = {k: r.value for k, r in item.records.items()}
    excused = sum(int(records.get((t, "absences_excused")) or 0) for t in ("hk1", "hk2"))
    unexcused = sum(int(records.get((t, "absences_unexcused")) or 0) for t in ("hk1", "hk2"))
    dob = student.date_of_birth
    hocba = {
        f"key{table}": identity.key, "trangthaithongtinhocba": "1", "trichluc": "0",
        "tenhuyen": school.district_name or "", "phienbanthongtinhocba": str(identity.version),
        "thongtu": CIRCULARS[regime], "madinhdanhhocba": identity.record_id, "namhoc": year.name,
        "masogd": school.department_code, "tensogd": school.department_name, "matruong": school.ministry_code,
        "tentruong": school.name, "thongtintruong_diachi_tenxa": school.ward_name,
        "thongtintruong_diachi_tentinh": school.province_name, "thongtintruong_diachi_maxa": school.ward_code or "",
        "thongtintruong_diachi_matinh": school.province_code, "macaphoc": LEVEL_CODES[school.level],
        "sosodangbo": student.registration_number or "", "hovaten": student.full_name,
        "sodinhdanh": student.personal_id, "mahocsinh": student.student_code, "gioitinh": str(student.sex),
        "ngaythangnamsinh": dob.isoformat(), "thangnamsinh": dob.strftime("%Y-%m"), "namsinh": str(dob.year),
    }
    if regime == "tt27":
        hocba.update({"cannang": "", "chieucao": "", "nghicophep": str(excused), "nghikhongphep": str(unexcused)})
    hocba.update({
        "noisinh_diachichitiet": student.birthplace, "noisinh_maxa": "",
        "noisinh_matinh": student.birthplace_province_code or "",
        "quequan_diachichitiet": student.hometown, "quequan_maxa": "", "quequan_matinh": "",
        "noiohiennay_diachichitiet": student.residence, "noiohiennay_maxa": "", "noiohiennay_matinh": "",
        "dantoc": student.ethnicity, "quoctich": student.nationality, "doituongchinhsach": student.policy_group or "",
        "cokhuyettatkhongdanhgia": _b(student.disability_not_assessed),
        "hotencha": student.father_name or "",
    })
    if regime == "tt22":
        hocba["nghenghiepcha"] = student.father_occupation or ""
    hocba["hotenme"] = student.mother_name or ""
    if regime == "tt22":
        hocba["nghenghiepme"] = student.mother_occupation or ""
    hocba["hotennguoigiamho"] = student.guardian_name or ""
    if regime == "tt22":
        hocba["nghenghiepnguoigiamho"] = student.guardian_occupation or ""
    hocba.update({
        "tengiamhieu": p_user.full_name, "soddcngiamhieu": p_profile.personal_id,
        "diadanhphathanh": identity.issue_place, "ngaykyphathanh": identity.issue_date.isoformat(),
        "ngaytao": identity.created_at.date().isoformat(), "chucvugiamhieu": p_profile.title or "Hiệu trưởng",
        "tengvcn": homeroom.full_name, "soddcngvcn": homeroom_profile.personal_id,
        "makhoi": str(book.grade.number), "tenlop": klass.name,
    })
    award_note = records.get(("year", "award_note"), "")
    if regime == "tt22":
        decision = result["decision"]
        award = AWARDS.get(result["award"] or "", "")
        hocba.update({
            "duoclenlop": _b(decision == "len_lop"), "ndungduoclenlop": DECISIONS.get(decision or "", ""),
            "ndunghoanthanh": "", "kquathamgiacuocthi": "", "ndungkquarenluyen": "",
            "ndungkhenthuong": "; ".join(x for x in (award, award_note) if x),
            "nxetgvcn": records.get(("year", "homeroom_comment"), ""),
            "hocky1": TT22_LEVEL.get(result["learning"].get("hk1") or "", ""),
            "hocky2": TT22_LEVEL.get(result["learning"].get("hk2") or "", ""),
            "canam": TT22_LEVEL.get(result["learning"].get("year") or "", ""),
            "sobuoinghi": str(excused + unexcused),
            "renluyenhocky1": TT22_LEVEL.get(records.get(("hk1", "conduct"), ""), ""),
            "renluyenhocky2": TT22_LEVEL.get(records.get(("hk2", "conduct"), ""), ""),
            "renluyencanam": TT22_LEVEL.get(result["conduct"].get("year") or "", ""),
            "renluyenlai": TT22_LEVEL.get(records.get(("year", "conduct_retrained"), ""), ""),
            "kqhoctaplai": TT22_LEVEL.get(result["learning"].get("after_retake") or "", ""),
        })
    else:
        completion = result["completion"]
        hocba.update({
            "xeploai": TT27_OVERALL.get(result["overall"] or "", ""),
            "duoclenlop": _b(completion in ("completed_grade", "completed_primary")),
            "ndunghoanthanh": {"completed_grade": "Hoàn thành chương trình lớp học",
                               "completed_primary": "Hoàn thành chương trình tiểu học"}.get(completion, ""),
            "dahthanhctrinhlophoc": _b(completion in ("completed_grade", "completed_primary")),
            "dahthanhctrinhtieuhoc": _b(completion == "completed_primary"),
            "ndungkhenthuong": "; ".join(x for x in (AWARDS.get(result["award"] or "", ""), award_note) if x),
            "ndungkhenthuongdotxuat": "",
            "nxetgvcn": records.get(("year", "homeroom_comment"), ""),
        })
        for name, key in TT27_COMPETENCY_FIELDS.items():
            hocba[name] = TT27_RATING.get(records.get(("hk2", key), ""), "")
        for name, key in TT27_QUALITY_FIELDS.items():
            hocba[name] = TT27_RATING.get(records.get(("hk2", key), ""), "")
        hocba.update({"nxetphamchat": records.get(("year", "comment_qualities"), ""),
                      "nxetnanglucchung": records.get(("year", "comment_general"), ""),
                      "nxetnanglucdacthu": records.get(("year", "comment_specific"), "")})
    hocba.update(env)

    # One signature per person, at their last stage: a homeroom teacher (or principal) who also teaches a
    # subject signs once, after every other subject teacher, for the class and for their subject rows. (A
    # second signature by the same certificate in one file also trips NSS's validation in poppler's pdfsig.)
    signers: list[dict] = []
    position = 0
    later = {homeroom.id, p_user.id}
    for teacher_id, names in teacher_subjects.items():  # in the order of the subjects' first rows
        if teacher_id in later:
            continue
        user, profile = _profile(session, teacher_id)
        position += 1
        signers.append(asdict(Signer(position, 1, "subject", teacher_id, user.full_name, profile.personal_id,
                                     tuple(names))))
    for stage, role, user, profile in ((2, "homeroom", homeroom, homeroom_profile),
                                       (3, "principal", p_user, p_profile)):
        if role == "homeroom" and user.id == p_user.id:
            continue  # the principal as homeroom teacher signs once, as principal
        position += 1
        names = teacher_subjects.get(user.id, [])
        signers.append(asdict(Signer(position, stage, role, user.id, user.full_name, profile.personal_id,
                                     tuple(names))))
    position += 1
    signers.append(asdict(Signer(position, 4, "school", None, school.name, school.ministry_code)))
    for s in signers:
        s["subjects"] = list(s["subjects"])
    morong = {"chuky": signers, "nghicophep": str(excused), "nghikhongphep": str(unexcused),
              "mamaxacthuc": identity.verify_code}
    if regime == "tt27":
        morong["monhoc"] = subject_extra
    history = _history(session, student_id, school, year, identity.key, env, table)
    return Record(table=table, regime=regime, hocba=hocba, bangdiem=bangdiem, quatrinhhoctap=history,
                  morong=morong)
