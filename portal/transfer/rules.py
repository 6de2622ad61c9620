"""The transfer package's shape and the checks that need no database, no PDF library and no Flask.

A package is one zip file, ``hocba_<mahocsinh>.zip``, with exactly these members and no folders:

- ``manifest.json``: the index: format and version, the sending school, when it was made, and for every
  other member its name, SHA-256, size and kind (``student``, ``pdf``, ``xml``); a transcript's PDF and XML
  also carry namhoc, tenlop, phienban, madinhdanhhocba, mamaxacthuc and status (``released`` | ``revoked``);
- ``student.json``: the student's profile in the national record's field names (`PROFILE_FIELDS`);
- ``hocba_<mahocsinh>_<namhoc>_v<phienban>.pdf`` and ``.xml``: each released (or revoked) version, unchanged.

A receiving school reads nothing of a member before `check_members` has passed the whole directory:
names (no folder, no ``..``, only the names above, no duplicate), count, encryption and each member's
declared size against `MAX_MEMBER_BYTES` and the total against `MAX_TOTAL_BYTES`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from portal.transcripts import rules as shown

FORMAT = "hocbaso-chuyentruong"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STUDENT = "student.json"
KINDS = {"student": "Hồ sơ học sinh", "pdf": "Học bạ (PDF)", "xml": "Dữ liệu học bạ (XML)"}
STATUSES = {"released": "Đã phát hành", "revoked": "Đã thu hồi"}

MAX_PACKAGE_BYTES = 12 * 1024 * 1024
MAX_DOCUMENTS = 40  # versions of transcripts in one package: 12 years with a few reissues each
MAX_MEMBERS = 2 + 2 * MAX_DOCUMENTS
MAX_MEMBER_BYTES = {"pdf": 10 * 1024 * 1024, "xml": 2 * 1024 * 1024, "json": 256 * 1024}
MAX_TOTAL_BYTES = 64 * 1024 * 1024

DOCUMENT_NAME = re.compile(r"hocba_(?P<code>[0-9A-Za-z]{1,20})_(?P<year>\d{4}-\d{4})_v(?P<version>\d{1,4})"
                           r"\.(?P<ext>pdf|xml)")
SHA256 = re.compile(r"[0-9a-f]{64}")
VN = timezone(timedelta(hours=7), "ICT")  # Vietnam keeps no daylight saving time

# The profile in student.json: national field → Student attribute (DATA_DICTIONARY.md, thongtinsohocba…).
PROFILE_FIELDS = {
    "hovaten": "full_name", "sodinhdanh": "personal_id", "mahocsinh": "student_code",
    "ngaythangnamsinh": "date_of_birth", "gioitinh": "sex", "dantoc": "ethnicity", "quoctich": "nationality",
    "noisinh_diachichitiet": "birthplace", "noisinh_matinh": "birthplace_province_code",
    "quequan_diachichitiet": "hometown", "noiohiennay_diachichitiet": "residence",
    "doituongchinhsach": "policy_group", "cokhuyettatkhongdanhgia": "disability_not_assessed",
    "sosodangbo": "registration_number", "hotencha": "father_name", "nghenghiepcha": "father_occupation",
    "hotenme": "mother_name", "nghenghiepme": "mother_occupation", "hotennguoigiamho": "guardian_name",
    "nghenghiepnguoigiamho": "guardian_occupation",
}
# What must be the same in student.json and in every transcript's XML.
IDENTITY_FIELDS = {"sodinhdanh": "số định danh", "mahocsinh": "mã học sinh", "hovaten": "họ và tên",
                   "ngaythangnamsinh": "ngày sinh"}
_LENGTHS = {"hovaten": 150, "noisinh_diachichitiet": 250, "quequan_diachichitiet": 250,
            "noiohiennay_diachichitiet": 250, "doituongchinhsach": 250, "sosodangbo": 50, "hotencha": 150,
            "nghenghiepcha": 150, "hotenme": 150, "nghenghiepme": 150, "hotennguoigiamho": 150,
            "nghenghiepnguoigiamho": 150}
_OPTIONAL = ("noisinh_matinh", "doituongchinhsach", "sosodangbo", "hotencha", "nghenghiepcha", "hotenme",
             "nghenghiepme", "hotennguoigiamho", "nghenghiepnguoigiamho")


def document_name(student_code: str, school_year: str, version: int, ext: str) -> str:
    """hocba_<mahocsinh>_<namhoc>_v<phienban>.<ext>: the same name as a download from the transcript page."""
    return f"hocba_{student_code}_{school_year}_v{version}.{ext}"


def package_name(student_code: str) -> str:
    return f"hocba_{student_code}.zip"


def show_instant(text: str) -> str:
    """An ISO 8601 UTC instant of a manifest ("2026-05-20T01:30:00Z") in Vietnam time, "20/05/2026 08:30"."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return text or ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN).strftime("%d/%m/%Y %H:%M")


# --- The zip's directory, before anything is read ---------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One entry of the zip's central directory, as declared (nothing is decompressed yet)."""

    name: str
    size: int  # declared uncompressed size
    encrypted: bool = False
    is_dir: bool = False


def member_kind(name: str) -> str | None:
    """pdf | xml | json for an expected member name, None for anything else."""
    if name in (MANIFEST, STUDENT):
        return "json"
    found = DOCUMENT_NAME.fullmatch(name)
    return found["ext"] if found else None


def _unsafe(name: str) -> bool:
    """A path rather than a plain file name: a folder, a parent, a drive or an absolute path."""
    return any(mark in name for mark in ("/", "\\", "..", ":", "\x00"))


def check_members(members: list[Member]) -> list[str]:
    """Why the zip's directory is refused (empty when every member may be read), in Vietnamese."""
    problems: list[str] = []
    if len(members) > MAX_MEMBERS:
        return [f"Gói có {len(members)} tệp, nhiều hơn mức cho phép ({MAX_MEMBERS}): không phải gói hồ sơ chuyển "
                "trường của học bạ số."]
    seen: set[str] = set()
    total = 0
    for member in members:
        shown = member.name[:120]
        if _unsafe(member.name) or member.is_dir:
            problems.append(f"Tệp “{shown}” trong gói có đường dẫn thư mục hoặc “..”: gói không an toàn, "
                            "không được đọc.")
            continue
        kind = member_kind(member.name)
        if kind is None:
            problems.append(f"Tệp “{shown}” không thuộc gói hồ sơ chuyển trường (chỉ có manifest.json, "
                            "student.json và các tệp hocba_….pdf/.xml).")
            continue
        if member.name in seen:
            problems.append(f"Tệp “{shown}” xuất hiện hai lần trong gói.")
        seen.add(member.name)
        if member.encrypted:
            problems.append(f"Tệp “{shown}” bị mã hóa bằng mật khẩu: không đọc được.")
        limit = MAX_MEMBER_BYTES[kind]
        if member.size > limit:
            problems.append(f"Tệp “{shown}” khi giải nén lớn {format_size(member.size)}, vượt mức "
                            f"{format_size(limit)} cho phép: gói bị từ chối.")
        total += max(member.size, 0)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"Tổng dung lượng giải nén {format_size(total)} vượt mức {format_size(MAX_TOTAL_BYTES)}.")
    for required in (MANIFEST, STUDENT):
        if required not in seen and not problems:
            problems.append(f"Gói thiếu tệp {required}.")
    return problems


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB").replace(".", ",")
    return f"{max(1, round(size / 1024))} KB"


# --- manifest.json ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file listed by the manifest."""

    name: str
    kind: str  # student | pdf | xml
    sha256: str
    size: int
    namhoc: str = ""
    tenlop: str = ""
    phienban: int = 0
    madinhdanhhocba: str = ""
    mamaxacthuc: str = ""
    status: str = ""  # released | revoked (pdf, xml)

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0]


@dataclass
class Manifest:
    school_name: str
    school_code: str
    province: str
    created_at: str
    entries: list[Entry] = field(default_factory=list)

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


def load_json(data: bytes, name: str) -> tuple[dict | None, str | None]:
    """The JSON object in a member, or why it is not one."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, f"Tệp {name} không phải JSON hợp lệ (UTF-8)."
    if not isinstance(value, dict):
        return None, f"Tệp {name} không đúng cấu trúc (phải là một đối tượng JSON)."
    return value, None


def _text(value, limit: int = 250) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_manifest(value: dict) -> tuple[Manifest | None, list[str]]:
    """Read the manifest's fields; return it and what is wrong with it."""
    problems: list[str] = []
    if value.get("format") != FORMAT:
        return None, [f"manifest.json không phải bản kê gói hồ sơ chuyển trường (format phải là “{FORMAT}”)."]
    if value.get("format_version") != FORMAT_VERSION:
        return None, [f"Không hỗ trợ phiên bản định dạng gói {value.get('format_version')!r} "
                      f"(trường này đọc được phiên bản {FORMAT_VERSION})."]
    school = value.get("school") if isinstance(value.get("school"), dict) else {}
    manifest = Manifest(school_name=_text(school.get("tentruong"), 150), school_code=_text(school.get("matruong"), 20),
                        province=_text(school.get("tentinh"), 150), created_at=_text(value.get("created_at"), 40))
    if not manifest.school_name or not manifest.school_code:
        problems.append("Bản kê không ghi tên và mã trường gửi (tentruong, matruong).")
    files = value.get("files")
    if not isinstance(files, list) or not files:
        return manifest, [*problems, "Bản kê không liệt kê tệp nào."]
    names: set[str] = set()
    for index, item in enumerate(files[:MAX_MEMBERS + 1], start=1):
        if not isinstance(item, dict):
            problems.append(f"Dòng {index} của bản kê không đúng cấu trúc.")
            continue
        name, kind = _text(item.get("name"), 200), _text(item.get("kind"), 10)
        sha, size = _text(item.get("sha256"), 64).lower(), item.get("size")
        where = f"Bản kê, tệp “{name or index}”"
        if member_kind(name) is None or name == MANIFEST:
            problems.append(f"{where}: tên tệp không hợp lệ.")
            continue
        if name in names:
            problems.append(f"{where}: ghi hai lần.")
            continue
        names.add(name)
        expected_kind = "student" if name == STUDENT else member_kind(name)
        if kind != expected_kind:
            problems.append(f"{where}: loại “{kind}” không khớp tên tệp.")
        if not SHA256.fullmatch(sha):
            problems.append(f"{where}: thiếu mã băm SHA-256 hợp lệ.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problems.append(f"{where}: thiếu dung lượng tệp.")
            size = -1
        entry = Entry(name=name, kind=expected_kind or kind, sha256=sha, size=size)
        if entry.kind in ("pdf", "xml"):
            version = item.get("phienban")
            entry = Entry(name=name, kind=entry.kind, sha256=sha, size=size, namhoc=_text(item.get("namhoc"), 9),
                          tenlop=_text(item.get("tenlop"), 100),
                          phienban=version if isinstance(version, int) and not isinstance(version, bool) else 0,
                          madinhdanhhocba=_text(item.get("madinhdanhhocba"), 36),
                          mamaxacthuc=_text(item.get("mamaxacthuc"), 40), status=_text(item.get("status"), 10))
            found = DOCUMENT_NAME.fullmatch(name)
            if entry.namhoc != found["year"] or entry.phienban != int(found["version"]):
                problems.append(f"{where}: năm học/phiên bản ghi trong bản kê không khớp tên tệp.")
            if entry.status not in STATUSES:
                problems.append(f"{where}: trạng thái “{entry.status}” không hợp lệ.")
            if not entry.madinhdanhhocba:
                problems.append(f"{where}: thiếu mã định danh học bạ.")
        manifest.entries.append(entry)
    if len(files) > MAX_MEMBERS:
        problems.append("Bản kê liệt kê quá nhiều tệp.")
    if STUDENT not in names:
        problems.append("Bản kê không có tệp student.json.")
    for entry in manifest.entries:
        if entry.kind == "pdf" and f"{entry.stem}.xml" not in names:
            problems.append(f"Học bạ {entry.name} không có tệp dữ liệu XML đi kèm trong bản kê.")
        if entry.kind == "xml" and f"{entry.stem}.pdf" not in names:
            problems.append(f"Tệp dữ liệu {entry.name} không có học bạ PDF đi kèm trong bản kê.")
    if not any(e.kind == "pdf" for e in manifest.entries):
        problems.append("Gói không có học bạ nào.")
    return manifest, problems


# --- student.json ---------------------------------------------------------------------------------------------


def nfc(text: str) -> str:
    """Unicode NFC with single spaces: Vietnamese text typed on two systems compares equal."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def parse_profile(value: dict) -> tuple[dict, list[str]]:
    """Student attributes from student.json (national names), and what is missing or malformed."""
    problems: list[str] = []
    out: dict = {}
    for national in PROFILE_FIELDS:
        raw = value.get(national, "")
        out[national] = nfc(raw) if isinstance(raw, str) else raw
    if not re.fullmatch(r"\d{12}", str(out["sodinhdanh"] or "")):
        problems.append("Hồ sơ học sinh: số định danh cá nhân phải gồm đúng 12 chữ số.")
    if not re.fullmatch(r"[0-9A-Za-z]{1,20}", str(out["mahocsinh"] or "")):
        problems.append("Hồ sơ học sinh: mã học sinh không hợp lệ.")
    if not out["hovaten"]:
        problems.append("Hồ sơ học sinh: thiếu họ và tên.")
    try:
        date.fromisoformat(str(out["ngaythangnamsinh"]))
    except ValueError:
        problems.append("Hồ sơ học sinh: ngày sinh không hợp lệ (YYYY-MM-DD).")
    if str(out["gioitinh"]) not in ("0", "1", "2"):
        problems.append("Hồ sơ học sinh: giới tính không hợp lệ (0, 1 hoặc 2).")
    if not re.fullmatch(r"\d{2}", str(out["dantoc"] or "")):
        problems.append("Hồ sơ học sinh: mã dân tộc không hợp lệ.")
    if not re.fullmatch(r"[A-Za-z]{2}", str(out["quoctich"] or "")):
        problems.append("Hồ sơ học sinh: quốc tịch phải là mã 2 chữ cái.")
    if out["noisinh_matinh"] and not re.fullmatch(r"\d{2}", str(out["noisinh_matinh"])):
        problems.append("Hồ sơ học sinh: mã tỉnh nơi sinh không hợp lệ.")
    if str(out["cokhuyettatkhongdanhgia"] or "0") not in ("0", "1"):
        problems.append("Hồ sơ học sinh: trường cokhuyettatkhongdanhgia phải là 0 hoặc 1.")
    for national, limit in _LENGTHS.items():
        if not isinstance(out[national], str):
            problems.append(f"Hồ sơ học sinh: {national} phải là chuỗi.")
        elif len(out[national]) > limit:
            problems.append(f"Hồ sơ học sinh: {national} dài quá {limit} kí tự.")
    return out, problems


def student_values(profile: dict) -> dict:
    """The Student columns of a checked profile (empty optional fields stored as NULL)."""
    values = {}
    for national, attr in PROFILE_FIELDS.items():
        value = profile.get(national, "")
        if national == "ngaythangnamsinh":
            value = date.fromisoformat(value)
        elif national == "gioitinh":
            value = int(value)
        elif national == "cokhuyettatkhongdanhgia":
            value = str(value or "0") == "1"
        elif national == "quoctich":
            value = value.upper()
        elif national in _OPTIONAL:
            value = value or None
        values[attr] = value
    return values


def profile_of(student) -> dict[str, str]:
    """student.json of a Student: every profile field as a string, in the national names."""
    out = {}
    for national, attr in PROFILE_FIELDS.items():
        value = getattr(student, attr)
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, date):
            value = value.isoformat()
        out[national] = "" if value is None else str(value)
    return out


def identity_mismatches(profile: dict, hocba: dict[str, str]) -> list[str]:
    """Which identifying fields of the transcript differ from the profile in student.json."""
    return [label for national, label in IDENTITY_FIELDS.items()
            if nfc(str(profile.get(national, ""))) != nfc(hocba.get(national, ""))]


def manifest_mismatches(entry: Entry, hocba: dict[str, str], school_code: str) -> list[str]:
    """Where the manifest's description of a transcript disagrees with its signed data."""
    facts = (("năm học", entry.namhoc, hocba.get("namhoc", "")),
             ("phiên bản", str(entry.phienban), hocba.get("phienbanthongtinhocba", "")),
             ("mã định danh học bạ", entry.madinhdanhhocba, hocba.get("madinhdanhhocba", "")),
             ("lớp", nfc(entry.tenlop), nfc(hocba.get("tenlop", ""))),
             ("mã trường", school_code, hocba.get("matruong", "")))
    return [f"{label}: bản kê ghi “{said}”, học bạ ghi “{signed}”" for label, said, signed in facts if said != signed]


def profile_facts(profile: dict) -> list[tuple[str, str]]:
    """The profile as the report shows it: (label, value) with the national codes in words."""

    def safe_date(value) -> str:
        try:
            return shown.show_date(str(value or ""))
        except ValueError:
            return str(value)

    p = {k: str(v) if v is not None else "" for k, v in profile.items()}
    parents = [(label, p.get(name, "") + (f" · {p[job]}" if p.get(job) else "")) for label, name, job in (
        ("Họ tên cha", "hotencha", "nghenghiepcha"), ("Họ tên mẹ", "hotenme", "nghenghiepme"),
        ("Người giám hộ", "hotennguoigiamho", "nghenghiepnguoigiamho"))]
    facts = [("Họ và tên", p.get("hovaten", "")), ("Ngày sinh", safe_date(p.get("ngaythangnamsinh"))),
             ("Giới tính", shown.show_sex(p.get("gioitinh", ""))), ("Số định danh", p.get("sodinhdanh", "")),
             ("Mã học sinh", p.get("mahocsinh", "")), ("Dân tộc", shown.show_ethnicity(p.get("dantoc", ""))),
             ("Quốc tịch", shown.show_nationality(p.get("quoctich", ""))),
             ("Nơi sinh", p.get("noisinh_diachichitiet", "")), ("Quê quán", p.get("quequan_diachichitiet", "")),
             ("Chỗ ở hiện tại", p.get("noiohiennay_diachichitiet", "")), *parents]
    return [(label, value) for label, value in facts if value]
