"""Pure rules of the imports: file type by magic bytes, reading rows, matching headers, parsing values.

No Flask, no database, no I/O beyond the bytes handed in. Every problem found in a file becomes a
`RowError` (row number as the user sees it — the header is row 1 —, the column's header, a Vietnamese
message); problems that make the whole file unreadable raise `FileRefused`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from portal.catalog import ETHNICITIES

NOT_A_TABLE = "Tệp không phải CSV hoặc Excel (.xlsx) hợp lệ."
NOT_UTF8 = (
    "Tệp CSV phải dùng bảng mã UTF-8. Trong Excel, hãy chọn Lưu thành → «CSV UTF-8 (Comma delimited)», "
    "hoặc tải lên tệp Excel (.xlsx)."
)
OLD_EXCEL = (
    "Tệp Excel 97–2003 (.xls) hoặc tệp Excel có đặt mật khẩu không được hỗ trợ. Hãy mở tệp trong Excel, "
    "bỏ mật khẩu (nếu có) và chọn Lưu thành → «Sổ làm việc Excel (.xlsx)»."
)
TEXT_FORMAT_HINT = "Hãy định dạng cột này là Văn bản (Text) rồi nhập lại."

# Signatures of files that are certainly not tables (an executable renamed .csv, a PDF, an image...).
FOREIGN_MAGIC = (b"MZ", b"\x7fELF", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf",
                 b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
# An .xlsx is compressed XML; refuse archives that would inflate beyond this (zip bombs).
XLSX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
HEADER_SEARCH_ROWS = 10


class FileRefused(Exception):
    """The file as a whole cannot be read; the message is shown to the user as it is."""


class Problem(ValueError):
    """A cell value that cannot be accepted; the message is shown to the user as it is."""


@dataclass(frozen=True)
class RowError:
    row: int | None  # as the user sees it in the file; None for the file as a whole
    column: str  # the column's header, "" when the error is not about one column
    message: str


# --- File type and reading ------------------------------------------------------------------------------


def detect_format(data: bytes) -> str:
    """Return "xlsx" or "csv" from the content itself (never the name); raise FileRefused otherwise."""
    if not data:
        raise FileRefused("Tệp rỗng, không có dữ liệu.")
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise FileRefused(NOT_A_TABLE) from exc
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            raise FileRefused(f"{NOT_A_TABLE} Tệp nén (ZIP) này không phải bảng tính Excel.")
        if sum(info.file_size for info in infos) > XLSX_MAX_UNCOMPRESSED:
            raise FileRefused(f"{NOT_A_TABLE} Nội dung tệp Excel sau khi giải nén quá lớn.")
        return "xlsx"
    if data.startswith(OLE_MAGIC):
        raise FileRefused(OLD_EXCEL)
    if data.startswith(FOREIGN_MAGIC) or b"\x00" in data:
        raise FileRefused(NOT_A_TABLE)
    body = data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Text in a legacy code page (Windows-1258, TCVN3...) has few control bytes; binary has many.
        controls = sum(1 for b in body[:4096] if b < 0x20 and b not in (9, 10, 13))
        raise FileRefused(NOT_A_TABLE if controls > 2 else NOT_UTF8) from exc
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text[:65536]):
        raise FileRefused(NOT_A_TABLE)
    return "csv"


@dataclass
class Sheet:
    """The non-empty rows of a file: (row number as in the file, cell values)."""

    rows: list[tuple[int, list]]


def read_sheet(data: bytes, fmt: str, *, max_rows: int) -> Sheet:
    """Read the non-empty rows of a CSV or of the first worksheet of an XLSX; raise FileRefused."""
    rows = _read_xlsx(data) if fmt == "xlsx" else _read_csv(data)
    kept: list[tuple[int, list]] = []
    for number, cells in rows:
        values = [_clean(v) for v in cells]
        while values and values[-1] is None:
            values.pop()
        if not values:
            continue  # empty rows (trailing or in between) are not data
        kept.append((number, values))
        if len(kept) > max_rows + 1:  # + the header
            raise FileRefused(f"Tệp có hơn {max_rows:,} dòng dữ liệu. Hãy chia thành nhiều tệp nhỏ hơn."
                              .replace(",", "."))
    if not kept:
        raise FileRefused("Tệp không có dữ liệu (không có dòng nào).")
    return Sheet(kept)


def _read_xlsx(data: bytes) -> Iterable[tuple[int, list]]:
    import openpyxl  # heavy; only needed for Excel files

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise FileRefused("Không đọc được tệp Excel: tệp bị hỏng hoặc không đúng định dạng .xlsx.") from exc
    try:
        if not book.worksheets:
            raise FileRefused("Tệp Excel không có trang tính nào.")
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # files written by other tools often declare wrong dimensions
        try:
            for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                yield number, list(cells)
        except FileRefused:
            raise
        except Exception as exc:
            raise FileRefused("Không đọc được tệp Excel: tệp bị hỏng hoặc không đúng định dạng .xlsx.") from exc
    finally:
        book.close()


def _read_csv(data: bytes) -> Iterable[tuple[int, list]]:
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    start = 1
    delimiter = None
    if lines and re.fullmatch(r'"?sep=(.)"?,*', lines[0].strip()):
        delimiter = lines[0].strip().strip('"')[4]  # Excel's "sep=;" hint line
        text = text.split("\n", 1)[1] if "\n" in text else ""
        start = 2
    if delimiter is None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = start - 1
    try:
        for number, record in enumerate(reader, start=start):
            yield number, record
    except csv.Error as exc:
        raise FileRefused(f"Tệp CSV bị lỗi định dạng ở dòng {number + 1}: kiểm tra dấu ngoặc kép.") from exc


def sniff_delimiter(line: str) -> str:
    """Return the delimiter (comma, semicolon or tab) that splits the header line into most fields."""
    best, best_count = ",", 1
    for candidate in (",", ";", "\t"):
        count = len(next(csv.reader([line], delimiter=candidate), []))
        if count > best_count:
            best, best_count = candidate, count
    return best


def _clean(value):
    """Normalise a cell: strings NFC and trimmed (blank → None); other types kept as they are."""
    if value is None:
        return None
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).replace("\u00a0", " ").strip()
        return value or None
    return value


# --- Normalisation -----------------------------------------------------------------------------------------


def norm(text: str) -> str:
    """Return text NFC-normalised, trimmed, with single spaces and case-folded (diacritics are kept)."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def norm_header(text: str) -> str:
    """Return a header's comparison key: norm() without a trailing "*" or "(…)" hint."""
    key = norm(text)
    key = re.sub(r"\s*\([^)]*\)\s*$", "", key)
    return key.rstrip("* ").strip()


def norm_name(text: str) -> str:
    """Return a name's comparison key: norm() with dashes unified (– — - all become "-")."""
    return re.sub(r"\s*[-–—]\s*", " - ", norm(text))


def squash(text: str) -> str:
    """Return norm() without spaces, hyphens and apostrophes (for "Khơ-me" = "Khơ me" = "khơme")."""
    return re.sub(r"[\s\-–—'’]", "", norm(text))


def column_letter(index: int) -> str:
    """Return the spreadsheet letter of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def display(value) -> str:
    """Return a cell value as the user would read it, for messages."""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M") if value.time() != time() else value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- Value parsers: take a non-blank cell, return the stored value or raise Problem ----------------------


def _as_text(value) -> str:
    if isinstance(value, bool):
        raise Problem("Giá trị không hợp lệ.")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return display(value)
    return str(value)


def text(max_length: int) -> Callable:
    def parse(value) -> str:
        result = _as_text(value)
        if len(result) > max_length:
            raise Problem(f"Dài quá {max_length} ký tự (đang có {len(result)}).")
        return result

    return parse


SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?e\+?\d+$", re.IGNORECASE)


def code(max_length: int) -> Callable:
    """A code of ASCII letters, digits and . _ / - (mã học sinh, mã môn)."""

    def parse(value) -> str:
        if isinstance(value, float) and not value.is_integer():
            raise Problem(f"Mã «{display(value)}» không hợp lệ. {TEXT_FORMAT_HINT}")
        result = _as_text(value)
        if SCIENTIFIC.match(result):
            raise Problem(f"Excel đã đổi mã thành dạng số mũ («{result}») nên các chữ số đã mất. {TEXT_FORMAT_HINT}")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", result):
            raise Problem(f"Mã «{result}» chỉ được gồm chữ cái không dấu, chữ số và các dấu . _ / -")
        if len(result) > max_length:
            raise Problem(f"Mã dài quá {max_length} ký tự (đang có {len(result)}).")
        return result

    return parse


def personal_id(value) -> str:
    """A 12-digit personal identification number (số định danh cá nhân); leading zeros matter."""
    if isinstance(value, bool):
        raise Problem("Số định danh phải gồm đúng 12 chữ số.")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise Problem(f"Số định danh «{display(value)}» không hợp lệ: phải gồm đúng 12 chữ số.")
        digits = str(int(value))
        if len(digits) < 12:
            raise Problem(
                f"Số định danh bị mất số 0 ở đầu: Excel đã coi «{digits}» là một con số ({len(digits)} chữ số). "
                "Hãy định dạng cột này là Văn bản (Text) rồi nhập lại đủ 12 chữ số."
            )
        value = digits
    raw = str(value).strip()
    if SCIENTIFIC.match(raw):
        raise Problem(
            f"Excel đã đổi số định danh thành dạng số mũ («{raw}») nên các chữ số đã mất. {TEXT_FORMAT_HINT}"
        )
    result = re.sub(r"[\s.]", "", raw)
    if result.isdigit() and len(result) < 12:
        raise Problem(
            f"Số định danh phải có đủ 12 chữ số (đang có {len(result)}: «{result}»). Nếu tệp đã được mở "
            f"và lưu bằng Excel, có thể số 0 ở đầu đã bị mất. {TEXT_FORMAT_HINT}"
        )
    if not re.fullmatch(r"\d{12}", result):
        raise Problem(f"Số định danh «{raw}» không hợp lệ: phải gồm đúng 12 chữ số.")
    return result


DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
DATE_HINT = "Nhập theo dạng ngày/tháng/năm (dd/mm/yyyy), ví dụ 05/09/2012."


def a_date(value) -> date:
    """A date: dd/mm/yyyy, d/m/yyyy, yyyy-mm-dd, or a real Excel date cell."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Problem(f"«{display(value)}» không phải ngày. {DATE_HINT}")
    raw = _as_text(value).strip()
    if match := DMY.match(raw):
        day, month, year = (int(g) for g in match.groups())
    elif match := ISO.match(raw):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise Problem(f"Ngày «{raw}» không đúng định dạng. {DATE_HINT}")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise Problem(f"Ngày «{raw}» không tồn tại. {DATE_HINT}") from exc


SEX_VALUES = {"nam": 1, "nữ": 2}


def sex(value) -> int:
    """Giới tính: "Nam" → 1, "Nữ" → 2 (QCVN 109:2017)."""
    result = SEX_VALUES.get(norm(_as_text(value)))
    if result is None:
        raise Problem(f"Giới tính «{display(value)}» không hợp lệ: ghi «Nam» hoặc «Nữ».")
    return result


ETHNICITY_KEYS = {squash(name): code_ for code_, name in ETHNICITIES.items()}
ETHNICITY_KEYS.update({"khmer": "05", "hmông": "08", "mèo": "08", "hoa(hán)": "04"})


def ethnicity(value) -> str:
    """Dân tộc by name ("Kinh", "Khơ-me") or by its two-digit code ("01", 1)."""
    raw = _as_text(value).strip()
    if raw.isdigit():
        key = raw.zfill(2)
        if key in ETHNICITIES:
            return key
    elif (key := ETHNICITY_KEYS.get(squash(raw))) is not None:
        return key
    raise Problem(f"Dân tộc «{raw}» không có trong danh mục (QCVN 109:2017): ghi tên (ví dụ Kinh, Mường) "
                  "hoặc mã hai chữ số (ví dụ 01).")


def nationality(value) -> str:
    """Quốc tịch: "Việt Nam" or a two-letter ISO 3166 code."""
    raw = _as_text(value).strip()
    if squash(raw) in ("việtnam", "vietnam"):
        return "VN"
    if re.fullmatch(r"[A-Za-z]{2}", raw):
        return raw.upper()
    raise Problem(f"Quốc tịch «{raw}» không hợp lệ: ghi «Việt Nam» hoặc mã nước hai chữ cái (ví dụ VN).")


def username(value) -> str:
    """A login name: lower-case ASCII letters, digits and . _ -, 3 to 64 characters."""
    raw = _as_text(value).strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{2,63}", raw):
        raise Problem(f"Tên đăng nhập «{raw}» không hợp lệ: chỉ gồm chữ cái không dấu, chữ số và . _ -, "
                      "từ 3 đến 64 ký tự.")
    return raw


def email(value) -> str:
    raw = _as_text(value).strip()
    if len(raw) > 150 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", raw):
        raise Problem(f"Email «{raw}» không hợp lệ.")
    return raw


def phone(value) -> str:
    """A phone number kept as text; a number cell has lost its leading zero."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Problem(f"Số điện thoại bị mất số 0 ở đầu: Excel đã coi «{display(value)}» là một con số. "
                      f"{TEXT_FORMAT_HINT}")
    raw = _as_text(value).strip()
    compact = re.sub(r"[\s.()-]", "", raw)
    if not re.fullmatch(r"\+?\d{9,15}", compact):
        raise Problem(f"Số điện thoại «{raw}» không hợp lệ.")
    return compact


# --- Kinds of import and their columns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    parse: Callable
    required: bool = False
    example: str = ""
    help: str = ""
    aliases: tuple[str, ...] = ()
    as_text: bool = True  # the template formats the column as Text so Excel keeps leading zeros


@dataclass(frozen=True)
class Kind:
    key: str
    label: str  # "Học sinh"
    file_stem: str  # template file name
    columns: tuple[Column, ...]
    # Groups of columns of which at least one must be present (header) and filled (each row).
    one_of: tuple[tuple[str, ...], ...] = ()
    # Keys that must not repeat within the file: each a tuple of column keys.
    unique: tuple[tuple[str, ...], ...] = ()
    check: Callable[[dict, date], list[tuple[str, str]]] | None = None
    policy: str = ""  # what a row does, shown on the upload page

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _check_student(values: dict, today: date) -> list[tuple[str, str]]:
    born = values.get("date_of_birth")
    if born and born > today:
        return [("date_of_birth", f"Ngày sinh {born:%d/%m/%Y} ở trong tương lai.")]
    if born and born.year < 1900:
        return [("date_of_birth", f"Ngày sinh {born:%d/%m/%Y} không hợp lệ.")]
    return []


def _check_teacher(values: dict, today: date) -> list[tuple[str, str]]:
    born = values.get("date_of_birth")
    if born and (born.year < 1930 or born > date(today.year - 18, today.month, min(today.day, 28))):
        return [("date_of_birth", f"Ngày sinh {born:%d/%m/%Y} không hợp lệ cho một giáo viên.")]
    return []


STUDENTS = Kind(
    key="students", label="Học sinh", file_stem="mau-nhap-hoc-sinh",
    columns=(
        Column("student_code", "Mã học sinh", code(20), True, "3710123400241",
               "Mã học sinh trên CSDL ngành. Mã đã có: cập nhật học sinh đó; mã mới: thêm học sinh."),
        Column("personal_id", "Số định danh", personal_id, True, "037212004587",
               "Số định danh cá nhân, đủ 12 chữ số (giữ số 0 ở đầu).", ("Số định danh cá nhân",)),
        Column("full_name", "Họ và tên", text(150), True, "Nguyễn Minh Anh", aliases=("Họ tên",)),
        Column("date_of_birth", "Ngày sinh", a_date, True, "05/09/2012", "dd/mm/yyyy"),
        Column("sex", "Giới tính", sex, True, "Nữ", "Nam hoặc Nữ"),
        Column("ethnicity", "Dân tộc", ethnicity, False, "Kinh", "Tên hoặc mã (01 = Kinh). Trống: Kinh."),
        Column("nationality", "Quốc tịch", nationality, False, "Việt Nam", "Trống: Việt Nam."),
        Column("birthplace", "Nơi sinh", text(250), False, "Trạm y tế xã Gia Viễn, tỉnh Ninh Bình"),
        Column("hometown", "Quê quán", text(250), False, "Xã Gia Hưng, tỉnh Ninh Bình"),
        Column("residence", "Chỗ ở hiện tại", text(250), False, "Thôn Đông, xã Gia Viễn, tỉnh Ninh Bình",
               aliases=("Nơi ở hiện nay", "Nơi ở hiện tại")),
        Column("father_name", "Họ tên cha", text(150), False, "Nguyễn Văn Hùng", aliases=("Họ và tên cha",)),
        Column("father_occupation", "Nghề nghiệp cha", text(150), False, "Nông dân"),
        Column("mother_name", "Họ tên mẹ", text(150), False, "Trần Thị Lan", aliases=("Họ và tên mẹ",)),
        Column("mother_occupation", "Nghề nghiệp mẹ", text(150), False, "Giáo viên"),
        Column("guardian_name", "Họ tên người giám hộ", text(150), False, "",
               aliases=("Họ và tên người giám hộ",)),
        Column("guardian_occupation", "Nghề nghiệp người giám hộ", text(150), False, ""),
        Column("class_name", "Lớp", text(10), True, "6A1", "Tên lớp của năm học hiện tại.", ("Tên lớp",)),
    ),
    unique=(("student_code",), ("personal_id",)),
    check=_check_student,
    policy="Mã học sinh mới: thêm học sinh và xếp vào lớp ghi trong tệp. Mã học sinh đã có: cập nhật hồ sơ của "
           "học sinh đó và xếp vào lớp ghi trong tệp (chuyển lớp nếu đang học lớp khác của năm học hiện tại). "
           "Ô để trống ở cột không bắt buộc: giữ nguyên thông tin đang có.",
)

TEACHERS = Kind(
    key="teachers", label="Giáo viên", file_stem="mau-nhap-giao-vien",
    columns=(
        Column("username", "Tên đăng nhập", username, True, "tranthibinh",
               "Chữ không dấu. Đã có: cập nhật hồ sơ; mới: tạo tài khoản giáo viên với mật khẩu tạm."),
        Column("full_name", "Họ và tên", text(150), True, "Trần Thị Bình", aliases=("Họ tên",)),
        Column("personal_id", "Số định danh", personal_id, True, "037188012345",
               "Số định danh cá nhân, đủ 12 chữ số.", ("Số định danh cá nhân",)),
        Column("date_of_birth", "Ngày sinh", a_date, False, "12/04/1988", "dd/mm/yyyy"),
        Column("sex", "Giới tính", sex, False, "Nữ", "Nam hoặc Nữ"),
        Column("department", "Tổ chuyên môn", text(150), False, "Tổ Toán – Tin",
               "Tên một tổ chuyên môn đã có.", ("Tổ",)),
        Column("title", "Chức vụ", text(150), False, "Giáo viên", "Trống: Giáo viên."),
        Column("email", "Email", email, False, "tranthibinh@truong.edu.vn", aliases=("Thư điện tử",)),
        Column("phone", "Điện thoại", phone, False, "0912345678", aliases=("Số điện thoại",)),
    ),
    unique=(("username",), ("personal_id",)),
    check=_check_teacher,
    policy="Tên đăng nhập mới: tạo tài khoản giáo viên với mật khẩu tạm, chỉ hiện một lần sau khi ghi; giáo viên "
           "phải đổi mật khẩu ở lần đăng nhập đầu tiên. Tên đăng nhập đã có: cập nhật hồ sơ (không đổi mật khẩu). "
           "Ô để trống ở cột không bắt buộc: giữ nguyên thông tin đang có.",
)

ASSIGNMENTS = Kind(
    key="assignments", label="Phân công giảng dạy", file_stem="mau-nhap-phan-cong",
    columns=(
        Column("class_name", "Lớp", text(10), True, "6A1", "Lớp của năm học hiện tại.", ("Tên lớp",)),
        Column("subject_code", "Mã môn", code(20), False, "toan", "Mã môn của khối (hoặc ghi cột Môn học).",
               ("Mã môn học",)),
        Column("subject_name", "Môn học", text(100), False, "Toán", "Tên môn (hoặc ghi cột Mã môn).",
               ("Tên môn học", "Tên môn")),
        Column("teacher_username", "Tên đăng nhập giáo viên", username, True, "tranthibinh",
               "Tài khoản có vai trò giáo viên.", ("Tên đăng nhập",)),
        Column("teacher_name", "Họ tên giáo viên", text(150), False, "Trần Thị Bình",
               "Không bắt buộc; nếu ghi, phải khớp với tài khoản để tránh nhầm.", ("Giáo viên",)),
    ),
    one_of=(("subject_code", "subject_name"),),
    check=None,
    policy="Mỗi dòng giao một môn của một lớp (năm học hiện tại) cho một giáo viên; nếu môn đó của lớp đã có "
           "giáo viên thì thay bằng giáo viên trong tệp. Hãy nhập danh sách giáo viên trước khi nhập phân công.",
)

KINDS = {k.key: k for k in (STUDENTS, TEACHERS, ASSIGNMENTS)}


# --- Headers and rows ------------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Where each known column is in the file."""

    header_row: int
    positions: dict[str, int]  # column key → 0-based index
    headers: dict[int, str]  # 0-based index → header text as written in the file
    errors: list[RowError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # headers that are not part of the kind

    def header_of(self, key: str, kind: Kind) -> str:
        index = self.positions.get(key)
        return self.headers[index] if index is not None else kind.column(key).header


def _header_keys(kind: Kind) -> dict[str, str]:
    keys = {}
    for column in kind.columns:
        for name in (column.header, *column.aliases):
            keys[norm_header(name)] = column.key
    return keys


def find_layout(kind: Kind, sheet: Sheet) -> Layout:
    """Find the header row (the first rows may hold a title) and match its headers to the kind's columns."""
    keys = _header_keys(kind)
    candidates = sheet.rows[:HEADER_SEARCH_ROWS]
    header_number, header_cells = candidates[0]
    for number, cells in candidates:
        matched = {keys.get(norm_header(_as_text(c))) for c in cells if c is not None} - {None}
        if len(matched) >= 2:
            header_number, header_cells = number, cells
            break
    layout = Layout(header_row=header_number, positions={}, headers={})
    for index, cell in enumerate(header_cells):
        if cell is None:
            continue
        label = _as_text(cell)
        layout.headers[index] = label
        key = keys.get(norm_header(label))
        if key is None:
            layout.ignored.append(label)
        elif key in layout.positions:
            first = column_letter(layout.positions[key])
            layout.errors.append(RowError(header_number, label,
                                          f"Cột «{label}» bị lặp lại (cột {first} và cột {column_letter(index)})."))
        else:
            layout.positions[key] = index
    for column in kind.columns:
        if column.required and column.key not in layout.positions:
            layout.errors.append(RowError(header_number, column.header,
                                          f"Thiếu cột bắt buộc «{column.header}»."))
    for group in kind.one_of:
        if not any(key in layout.positions for key in group):
            names = " hoặc ".join(f"«{kind.column(k).header}»" for k in group)
            layout.errors.append(RowError(header_number, " / ".join(kind.column(k).header for k in group),
                                          f"Thiếu cột {names} (cần ít nhất một trong hai)."))
    return layout


@dataclass
class Record:
    """One data row, parsed: values by column key (only the columns present and filled)."""

    row: int
    values: dict


def parse_records(kind: Kind, sheet: Sheet, layout: Layout, *, today: date) -> tuple[list[Record], list[RowError]]:
    """Parse every data row; return the records and every error, row by row and column by column."""
    records, errors = [], []
    seen: dict[tuple, dict] = {key: {} for key in kind.unique}
    for number, cells in sheet.rows:
        if number <= layout.header_row:
            continue
        values, row_errors = {}, []
        for column in kind.columns:
            index = layout.positions.get(column.key)
            if index is None:
                continue
            raw = cells[index] if index < len(cells) else None
            if raw is None:
                if column.required:
                    row_errors.append(RowError(number, layout.headers[index], "Chưa nhập (cột bắt buộc)."))
                continue
            try:
                values[column.key] = column.parse(raw)
            except Problem as problem:
                row_errors.append(RowError(number, layout.headers[index], str(problem)))
        for index in range(len(cells)):
            if cells[index] is not None and index not in layout.headers:
                row_errors.append(RowError(number, f"Cột {column_letter(index)}",
                                           "Ô có dữ liệu nhưng cột không có tiêu đề."))
        for group in kind.one_of:
            if not any(key in values for key in group) and not any(
                e.column in {layout.header_of(k, kind) for k in group} for e in row_errors
            ):
                names = " hoặc ".join(f"«{kind.column(k).header}»" for k in group)
                row_errors.append(RowError(number, " / ".join(layout.header_of(k, kind) for k in group),
                                           f"Cần nhập {names}."))
        for key in kind.unique:
            if not all(k in values for k in key):
                continue
            value = tuple(values[k] for k in key)
            first = seen[key].setdefault(value, number)
            if first != number:
                header = layout.header_of(key[0], kind)
                row_errors.append(RowError(number, header, f"Trùng {kind.column(key[0]).header} "
                                                           f"«{value[0]}» với dòng {first}."))
        if kind.check is not None:
            for key, message in kind.check(values, today):
                row_errors.append(RowError(number, layout.header_of(key, kind), message))
        errors.extend(row_errors)
        records.append(Record(number, values))
    if not records and not layout.errors:
        errors.append(RowError(None, "", "Tệp chỉ có dòng tiêu đề, chưa có dòng dữ liệu nào."))
    return records, errors


def header_row_values(kind: Kind) -> list[str]:
    return [c.header for c in kind.columns]


def example_row_values(kind: Kind, overrides: dict | None = None) -> list[str]:
    overrides = overrides or {}
    return [overrides.get(c.key, c.example) for c in kind.columns]
