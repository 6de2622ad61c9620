"""Score-sheet workbooks: the pre-filled template of a (class, subject, term), read back and checked.

The template (format ``FORMAT``) has two sheets:

* «Bảng điểm» — row 1 the school, row 2 the title (subject, class, term, school year), row 3 how to fill
  it in, row 4 the headers ``STT | Mã học sinh | Họ và tên | one column per slot (TX1 … GK, CK; Mức GK,
  KT GK …) | Nhận xét``, one row per student from row 5. Scores are written as numbers, Đ/CĐ and levels
  as text; every slot column carries an Excel data validation; the student columns are locked (sheet
  protection without a password, so a teacher can still lift it).
* «hocba_meta» (hidden) — key/value rows naming the class, subject, term and school year by id, then one
  row per (student, slot) with the value and the version that were saved when the template was made.

Reading back, the URL alone decides the (class, subject, term): the metadata must name the same ones;
students are found by their code in the class's current roster; every cell is validated with
``rules.normalize``. A cell counts as changed when it differs from its value at download time, and it is
written with the version it had then, so a cell someone changed after the download is reported as a
conflict instead of being overwritten. The database part at the end reads and writes through
``gradebook.service`` only (the single write path). No Flask here.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlmodel import Session, select

from portal.errors import Conflict, DomainError, Forbidden, NotFound
from portal.gradebook import rules, service
from portal.gradebook.rules import Slot
from portal.imports.rules import OLE_MAGIC, FileRefused, column_letter, detect_format, norm_header, norm_name
from portal.models import School, User
from portal.periods.service import PeriodLocked

__all__ = ["FileRefused", "build_template", "commit_upload", "parse_upload", "plan_changes", "review_upload",
           "template_for"]

FORMAT = "hocbaso.bang-diem/1"
DATA_SHEET = "Bảng điểm"
META_SHEET = "hocba_meta"
HEADER_ROW = 4
FIRST_ROW = HEADER_ROW + 1
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 300  # data rows read from a sheet; a class has far fewer students
MAX_META_ROWS = 20_000
HEADER_SEARCH_ROWS = 12
COMMENT = "comment"  # the «Nhận xét» column's key (a SubjectComment, not an Assessment slot)
COMMENT_HEADER = "Nhận xét"
COMMENT_MAX = 1000
STUDENT_HEADERS = {"stt": "STT", "code": "Mã học sinh", "name": "Họ và tên"}
HEADER_ALIASES = {"số thứ tự": "stt", "mã hs": "code", "mã học sinh": "code", "họ tên": "name", "họ và tên": "name"}
VN = timezone(timedelta(hours=7), "ICT")  # Vietnam keeps no daylight saving time

NOT_XLSX = ("Tệp không phải bảng tính Excel (.xlsx). Hãy tải lên tệp mẫu đã tải về từ trang này, sau khi điền "
            "điểm và lưu ở định dạng Excel (.xlsx).")
NO_META = ("Tệp không phải mẫu bảng điểm của Học bạ số (thiếu trang thông tin ẩn «hocba_meta»). Hãy bấm "
           "«Tải mẫu Excel», điền điểm vào tệp đó rồi tải lên.")
BROKEN_META = ("Trang thông tin ẩn «hocba_meta» của tệp đã bị sửa hoặc hỏng. Hãy tải mẫu mới, chép điểm sang "
               "rồi tải lên.")


# --- Values -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetInfo:
    """What a score sheet is for (ids decide; names are for people)."""

    school: str
    school_year_id: int
    school_year: str
    class_id: int
    class_name: str
    subject_id: int
    subject_name: str
    term: str
    term_label: str

    @property
    def label(self) -> str:
        return f"môn {self.subject_name} lớp {self.class_name}, {self.term_label}, năm học {self.school_year}"


@dataclass(frozen=True)
class Saved:
    """A cell as stored: normalised value ("" when empty) and version (0 = never saved)."""

    value: str = ""
    version: int = 0
    by: str | None = None  # who saved it last (full name)
    at: datetime | None = None


@dataclass
class StudentLine:
    """One student's row of the template."""

    student_id: int
    code: str
    name: str
    number: int | None
    cells: dict[str, Saved] = field(default_factory=dict)  # slot code (or COMMENT) → saved cell


@dataclass(frozen=True)
class RosterEntry:
    student_id: int
    code: str
    name: str
    number: int | None = None


@dataclass(frozen=True)
class Issue:
    """A problem found in the file: row and column as Excel shows them, the value read, a message."""

    row: int | None
    column: str  # header, "" for the file as a whole
    letter: str  # column letter, "" when unknown
    value: str
    message: str
    col: int = 0  # for sorting

    @property
    def ref(self) -> str:
        return f"{self.letter}{self.row}" if self.letter and self.row else ""


@dataclass
class Change:
    row: int  # Excel row of the file
    student_id: int
    student_name: str
    number: int | None
    slot: str  # slot code or COMMENT
    column: str  # header
    position: int  # 0-based column of the file
    kind: str  # slot kind, "text" for the comment
    old: str  # stored value now
    new: str  # value in the file
    version: int  # version at download time: the write is refused if the cell has moved since

    @property
    def old_shown(self) -> str:
        return shown(self.kind, self.old)

    @property
    def new_shown(self) -> str:
        return shown(self.kind, self.new)


@dataclass
class Review:
    """The outcome of checking (or committing) an upload: changes to write, or issues; nothing partial."""

    info: SheetInfo
    columns: list[str]
    changes: list[Change] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    students: int = 0  # student rows read
    unchanged: int = 0  # cells equal to what is stored
    committed: bool = False
    locked: bool = False  # the commit was refused because a changed cell is in a locked period

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def changed_students(self) -> int:
        return len({c.student_id for c in self.changes})


def shown(kind: str, value: str) -> str:
    """Show a stored value as teachers write it ("8,5", "Đ"); "(trống)" when empty."""
    if not value:
        return "(trống)"
    if kind == "text":
        return value if len(value) <= 120 else value[:117] + "…"
    return rules.display(value)


def ascii_name(text: str) -> str:
    """Return text without diacritics, runs of other characters as "_" ("Tin học" → "Tin_hoc")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def filename(info: SheetInfo) -> str:
    """Return the download name, ASCII only: Diem_Toan_6A1_HK1.xlsx."""
    return f"Diem_{ascii_name(info.subject_name)}_{ascii_name(info.class_name)}_{info.term.upper()}.xlsx"


# --- Building the template -----------------------------------------------------------------------------------


KIND_HINTS = {
    "score": "Điểm: số từ 0 đến 10, tối đa một chữ số thập phân (ví dụ 8,5).",
    "comment": "Đ = Đạt, CĐ = Chưa đạt.",
    "level": "Mức: HTT (Hoàn thành tốt), HT (Hoàn thành), CHT (Chưa hoàn thành).",
    "test": "Điểm kiểm tra: số nguyên từ 1 đến 10.",
}


def _validation(kind: str, title: str):
    from openpyxl.worksheet.datavalidation import DataValidation

    common = {"allow_blank": True, "showErrorMessage": True, "showInputMessage": True, "errorStyle": "stop",
              "promptTitle": title[:32]}
    if kind == "score":
        return DataValidation(type="decimal", operator="between", formula1="0", formula2="10",
                              errorTitle="Điểm không hợp lệ", error="Nhập điểm từ 0 đến 10, tối đa một chữ số "
                              "thập phân (ví dụ 8,5).", prompt="Điểm từ 0 đến 10, ví dụ 8,5", **common)
    if kind == "test":
        return DataValidation(type="whole", operator="between", formula1="1", formula2="10",
                              errorTitle="Điểm không hợp lệ", error="Điểm kiểm tra là số nguyên từ 1 đến 10.",
                              prompt="Số nguyên từ 1 đến 10", **common)
    if kind == "comment":
        return DataValidation(type="list", formula1='"Đ,CĐ"', errorTitle="Giá trị không hợp lệ",
                              error="Chọn Đ (Đạt) hoặc CĐ (Chưa đạt).", prompt="Đ (Đạt) hoặc CĐ (Chưa đạt)",
                              **common)
    return DataValidation(type="list", formula1='"HTT,HT,CHT"', errorTitle="Giá trị không hợp lệ",
                          error="Chọn HTT, HT hoặc CHT.", prompt="HTT, HT hoặc CHT", **common)


def _excel_value(kind: str, value: str):
    """Scores as numbers (Excel shows them natively, with the locale's decimal comma); the rest as text."""
    if not value:
        return None
    if kind in ("score", "test") and value[0].isdigit():
        number = Decimal(value)
        return int(number) if number == number.to_integral() else float(number)
    return rules.display(value)


def build_template(info: SheetInfo, slots: list[Slot], students: list[StudentLine], *,
                   generated_at: datetime | None = None) -> bytes:
    """Return the pre-filled template of one sheet as XLSX bytes."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

    book = Workbook()
    book.properties.creator = "Học bạ số"
    book.properties.title = f"Bảng điểm {info.label}"
    ws = book.active
    ws.title = DATA_SHEET
    headers = [*STUDENT_HEADERS.values(), *(s.label for s in slots), COMMENT_HEADER]
    width = len(headers)
    last = column_letter(width - 1)

    ws.cell(row=1, column=1, value=info.school).font = Font(bold=True)
    title = (f"BẢNG ĐIỂM MÔN {info.subject_name.upper()} – LỚP {info.class_name} – {info.term_label.upper()} – "
             f"NĂM HỌC {info.school_year}")
    ws.cell(row=2, column=1, value=title).font = Font(bold=True, size=13)
    kinds = list(dict.fromkeys(s.kind for s in slots))
    hint = " ".join(KIND_HINTS[k] for k in kinds) + (" Chỉ sửa các cột điểm và Nhận xét; không sửa Mã học sinh, "
                                                      "không xoá hay đổi tên trang tính.")
    ws.cell(row=3, column=1, value=hint).font = Font(italic=True, size=9, color="555555")
    ws.cell(row=3, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    for row in (1, 2, 3):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    ws.row_dimensions[3].height = 30

    thin = Side(style="thin", color="9AA5B1")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for index, header in enumerate(headers, start=1):
        cell = ws.cell(row=HEADER_ROW, column=index, value=header)
        cell.font, cell.fill, cell.border = Font(bold=True), head_fill, border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, slot in enumerate(slots, start=4):
        ws.cell(row=HEADER_ROW, column=index).comment = Comment(slot.title, "Học bạ số")

    unlocked = Protection(locked=False)
    for offset, line in enumerate(students):
        r = FIRST_ROW + offset
        ws.cell(row=r, column=1, value=line.number or offset + 1)
        code = ws.cell(row=r, column=2, value=line.code)
        code.number_format = "@"  # a code of digits stays text (no 3.71E+12)
        ws.cell(row=r, column=3, value=line.name)
        for index, slot in enumerate(slots, start=4):
            cell = ws.cell(row=r, column=index, value=_excel_value(slot.kind, line.cells.get(slot.code, Saved()).value))
            cell.protection = unlocked
            cell.alignment = Alignment(horizontal="center")
        comment = ws.cell(row=r, column=width, value=line.cells.get(COMMENT, Saved()).value or None)
        comment.protection = unlocked
        comment.alignment = Alignment(wrap_text=True, vertical="top")
        for index in range(1, width + 1):
            ws.cell(row=r, column=index).border = border

    end = FIRST_ROW + max(len(students), 1) - 1
    for index, slot in enumerate(slots, start=4):
        letter = column_letter(index - 1)
        rule = _validation(slot.kind, slot.title)
        rule.add(f"{letter}{FIRST_ROW}:{letter}{end}")
        ws.add_data_validation(rule)
        ws.column_dimensions[letter].width = max(8, len(slot.label) + 3)
    from openpyxl.worksheet.datavalidation import DataValidation

    text_rule = DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(COMMENT_MAX),
                               allow_blank=True, showErrorMessage=True, errorTitle="Nhận xét quá dài",
                               error=f"Nhận xét tối đa {COMMENT_MAX} ký tự.")
    text_rule.add(f"{last}{FIRST_ROW}:{last}{end}")
    ws.add_data_validation(text_rule)
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 28
    ws.column_dimensions[last].width = 45
    ws.freeze_panes = f"D{FIRST_ROW}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    # Lock the student columns against slips; formatting and resizing stay allowed. No password.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.formatCells = False

    meta = book.create_sheet(META_SHEET)
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    for key, value in (
        ("format", FORMAT), ("school", info.school), ("school_year_id", info.school_year_id),
        ("school_year", info.school_year), ("class_id", info.class_id), ("class", info.class_name),
        ("subject_id", info.subject_id), ("subject", info.subject_name), ("term", info.term),
        ("term_label", info.term_label), ("sheet", DATA_SHEET), ("header_row", HEADER_ROW),
        ("generated_at", moment.isoformat()),
    ):
        meta.append([key, value])
    meta.append([])
    meta.append(["student_id", "student_code", "slot", "value", "version"])
    for line in students:
        for code in [*(s.code for s in slots), COMMENT]:
            saved = line.cells.get(code, Saved())
            meta.append([line.student_id, line.code, code, saved.value, saved.version])
    meta.sheet_state = "hidden"
    meta.protection.sheet = True
    book.active = 0

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- Reading an upload ---------------------------------------------------------------------------------------


@dataclass
class UploadRow:
    row: int
    student: RosterEntry
    values: dict[str, str]  # slot code (or COMMENT) → normalised value, for the columns present and valid


@dataclass
class Parsed:
    downloaded: dict[tuple[int, str], Saved]
    rows: list[UploadRow]
    columns: dict[str, tuple[int, str]]  # slot code (or COMMENT) → (0-based position, header) present
    issues: list[Issue]
    warnings: list[str]
    students: int


def _int(value) -> int:
    if isinstance(value, bool):
        raise FileRefused(BROKEN_META)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise FileRefused(BROKEN_META)


def _open(data: bytes):
    if len(data) > MAX_BYTES:
        raise FileRefused(f"Tệp quá lớn. Dung lượng tối đa là {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        fmt = detect_format(data)
    except FileRefused as exc:
        if data.startswith(OLE_MAGIC):
            raise  # the message explains .xls and password-protected files
        message = str(exc)
        raise FileRefused(NOT_XLSX if message.startswith("Tệp không phải CSV") else message) from exc
    if fmt != "xlsx":
        raise FileRefused(NOT_XLSX)
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise FileRefused("Không đọc được tệp Excel: tệp bị hỏng hoặc không đúng định dạng .xlsx.") from exc


def _read_meta(book) -> tuple[dict, dict[tuple[int, str], Saved]]:
    if META_SHEET not in book.sheetnames:
        raise FileRefused(NO_META)
    sheet = book[META_SHEET]
    values: dict = {}
    cells: dict[tuple[int, str], Saved] = {}
    in_table = False
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_META_ROWS:
            raise FileRefused(BROKEN_META)
        row = [*row, None, None, None, None, None][:5]
        if not in_table:
            if row[0] == "student_id":
                in_table = True
            elif isinstance(row[0], str) and row[0]:
                values[row[0]] = row[1]
            continue
        if row[0] is None:
            continue
        value = row[3]
        if value is not None and not isinstance(value, str):
            value = str(value)
        cells[(_int(row[0]), str(row[2] or ""))] = Saved(value or "", _int(row[4] if row[4] is not None else 0))
    if values.get("format") != FORMAT:
        raise FileRefused("Tệp mẫu này thuộc phiên bản khác hoặc thông tin ẩn của tệp đã bị sửa. Hãy tải mẫu mới, "
                          "chép điểm sang rồi tải lên.")
    return values, cells


def _check_meta(values: dict, info: SheetInfo) -> None:
    """Refuse a workbook made for another class, subject, term or school year than the page's."""
    try:
        ids = (_int(values.get("class_id")), _int(values.get("subject_id")), str(values.get("term")),
               _int(values.get("school_year_id")))
    except FileRefused:
        raise FileRefused(BROKEN_META) from None
    if ids == (info.class_id, info.subject_id, info.term, info.school_year_id):
        return

    def name(key):
        value = values.get(key)
        return str(value)[:60] if value not in (None, "") else "?"

    raise FileRefused(
        f"Tệp này là bảng điểm môn {name('subject')} lớp {name('class')}, {name('term_label')}, năm học "
        f"{name('school_year')}, không phải bảng điểm {info.label}. Hãy tải lên đúng trang của tệp, hoặc tải mẫu "
        "của trang này."
    )


def _header_keys(slots: list[Slot]) -> dict[str, str]:
    keys = dict(HEADER_ALIASES)
    keys["stt"] = "stt"
    for slot in slots:
        keys[norm_header(slot.label)] = slot.code
    keys[norm_header(COMMENT_HEADER)] = COMMENT
    return keys


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown_raw(value) -> str:
    """A cell value as the user would read it in the file, for the issue table."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return (str(int(value)) if value.is_integer() else repr(value)).replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M") if value.time() != time() else value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = str(value).strip()
    return text if len(text) <= 60 else text[:57] + "…"


def _cell_text(value) -> str:
    """Return a slot cell as text for rules.normalize; raise CellError for values that are no score or level."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise rules.CellError("Ô này đang là giá trị đúng/sai (TRUE/FALSE), không phải điểm hay mức đánh giá.")
    if isinstance(value, datetime | date | time):
        raise rules.CellError(f"Excel đã hiểu giá trị này là ngày giờ ({_shown_raw(value)}). Hãy định dạng ô là "
                              "Số (Number) rồi nhập lại, ví dụ 8,5.")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return unicodedata.normalize("NFC", str(value)).replace("\u00a0", " ").strip()


def _code_text(value) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_upload(data: bytes, *, info: SheetInfo, slots: list[Slot], roster: dict[str, RosterEntry]) -> Parsed:
    """Read an uploaded template: refuse the file (FileRefused) or return every row's valid values and every issue."""
    book = _open(data)
    try:
        values, downloaded = _read_meta(book)
        _check_meta(values, info)
        sheet_name = values.get("sheet")
        if isinstance(sheet_name, str) and sheet_name in book.sheetnames and sheet_name != META_SHEET:
            sheet = book[sheet_name]
        else:  # renamed: the first sheet that is not the metadata
            sheet = next((s for s in book.worksheets if s.title != META_SHEET), None)
            if sheet is None:
                raise FileRefused("Tệp không có trang tính bảng điểm.")
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        return _parse_sheet(sheet, info=info, slots=slots, roster=roster, downloaded=downloaded)
    except FileRefused:
        raise
    except Exception as exc:  # a damaged part met while iterating
        raise FileRefused("Không đọc được tệp Excel: tệp bị hỏng hoặc không đúng định dạng .xlsx.") from exc
    finally:
        book.close()


def _parse_sheet(sheet, *, info, slots, roster, downloaded) -> Parsed:
    keys = _header_keys(slots)
    by_code = {s.code: s for s in slots}
    positions: dict[str, tuple[int, str]] = {}
    issues: list[Issue] = []
    warnings: list[str] = []
    rows: list[UploadRow] = []
    seen: dict[str, int] = {}
    header_row = None
    students = 0

    def issue(row: int, key: str, raw, message: str) -> None:
        position, header = positions.get(key, (0, STUDENT_HEADERS.get(key, key)))
        issues.append(Issue(row, header, column_letter(position), _shown_raw(raw), message, position))

    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = list(cells)
        if header_row is None:
            found = {}
            for position, value in enumerate(cells):
                if isinstance(value, str) and value.strip():
                    key = keys.get(norm_header(value))
                    if key is not None:
                        if key in found:
                            raise FileRefused(f"Cột «{value.strip()}» có hai lần ở dòng tiêu đề (dòng {number}).")
                        found[key] = (position, value.strip())
            if "code" in found:
                header_row, positions = number, found
                for position, value in enumerate(cells):
                    if isinstance(value, str) and value.strip() and keys.get(norm_header(value)) is None:
                        warnings.append(f"Cột «{value.strip()[:40]}» ({column_letter(position)}) không thuộc mẫu nên "
                                        "không được đọc.")
                missing = [s.label for s in slots if s.code not in positions]
                if COMMENT not in positions:
                    missing.append(COMMENT_HEADER)
                if missing:
                    warnings.append(f"Tệp không có cột {', '.join(missing)}: các ô của "
                                    f"{'cột' if len(missing) == 1 else 'các cột'} này giữ nguyên như đã lưu.")
            elif number >= HEADER_SEARCH_ROWS:
                raise FileRefused(f"Không tìm thấy dòng tiêu đề có cột «Mã học sinh» trong {HEADER_SEARCH_ROWS} dòng "
                                  f"đầu của trang «{sheet.title}». Hãy dùng đúng tệp mẫu, không xoá dòng tiêu đề.")
            continue

        def get(key, cells=cells, positions=positions):
            position = positions.get(key, (None,))[0]
            return cells[position] if position is not None and position < len(cells) else None

        present = [k for k in [*by_code, COMMENT] if k in positions]
        raw_code = get("code")
        if _blank(raw_code) and all(_blank(get(k)) for k in present):
            continue  # an empty line (STT or a name alone is not data)
        students += 1
        if students > MAX_ROWS:
            raise FileRefused(f"Trang tính có hơn {MAX_ROWS} dòng học sinh: đây không phải bảng điểm của một lớp.")
        code = _code_text(raw_code)
        entry = None
        if not code:
            issue(number, "code", raw_code, "Thiếu mã học sinh: không biết dòng này là của học sinh nào.")
        elif code not in roster:
            issue(number, "code", raw_code, f"Không có học sinh mã «{code[:30]}» trong lớp {info.class_name}.")
        elif code in seen:
            issue(number, "code", raw_code, f"Học sinh {roster[code].name} đã có ở dòng {seen[code]}: mỗi học sinh "
                                            "chỉ được một dòng.")
        else:
            entry = roster[code]
            seen[code] = number
            raw_name = get("name")
            if isinstance(raw_name, str) and raw_name.strip() and norm_name(raw_name) != norm_name(entry.name):
                issue(number, "name", raw_name, f"Mã «{code}» là của học sinh {entry.name}, không khớp với họ tên ở "
                                                "dòng này. Hãy kiểm tra lại dòng (có thể đã bị sắp xếp lệch).")
        read: dict[str, str] = {}
        for key in present:
            raw = get(key)
            if key == COMMENT:
                text = raw if isinstance(raw, str) else ("" if raw is None else _shown_raw(raw))
                text = " ".join(unicodedata.normalize("NFC", text).split())
                if len(text) > COMMENT_MAX:
                    issue(number, key, raw, f"Nhận xét dài quá {COMMENT_MAX} ký tự (đang có {len(text)}).")
                    continue
                read[key] = text
                continue
            try:
                read[key] = rules.normalize(by_code[key].kind, _cell_text(raw))
            except rules.CellError as exc:
                issue(number, key, raw, str(exc))
        if entry is not None:
            rows.append(UploadRow(number, entry, read))
    if header_row is None:
        raise FileRefused(f"Không tìm thấy dòng tiêu đề có cột «Mã học sinh» trong trang «{sheet.title}». Hãy dùng "
                          "đúng tệp mẫu, không xoá dòng tiêu đề.")
    return Parsed(downloaded=downloaded, rows=rows, columns=positions, issues=issues, warnings=warnings,
                  students=students)


# --- Planning the changes --------------------------------------------------------------------------------------


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN).strftime("%H:%M ngày %d/%m/%Y")


def conflict_message(kind: str, before: Saved, now: Saved) -> str:
    who = now.by or "Người khác"
    when = f" lúc {_local(now.at)}" if now.at else ""
    return (f"Ô này đã bị {who} sửa thành “{shown(kind, now.value)}”{when} sau khi bạn tải mẫu (lúc tải mẫu: "
            f"“{shown(kind, before.value)}”). Giá trị trong tệp chưa được lưu: hãy tải mẫu mới rồi nhập lại.")


def plan_changes(parsed: Parsed, *, info: SheetInfo, slots: list[Slot],
                 current: dict[tuple[int, str], Saved]) -> Review:
    """Compare the file with the download-time and the stored values: the cells to write, and the conflicts."""
    kinds = {s.code: s.kind for s in slots}
    kinds[COMMENT] = "text"
    review = Review(info=info, columns=[h for _, h in sorted(parsed.columns.values())],
                    issues=list(parsed.issues), warnings=list(parsed.warnings), students=parsed.students)
    for line in parsed.rows:
        sid = line.student.student_id
        for key, new in line.values.items():
            before = parsed.downloaded.get((sid, key), Saved())
            now = current.get((sid, key), Saved())
            if new == now.value or new == before.value:
                # Untouched since the download (whatever was saved since stays), or already so.
                review.unchanged += 1
                continue
            position, header = parsed.columns[key]
            if now.version != before.version:
                review.issues.append(Issue(line.row, header, column_letter(position), shown(kinds[key], new),
                                           conflict_message(kinds[key], before, now), position))
                continue
            review.changes.append(Change(line.row, sid, line.student.name, line.student.number, key, header,
                                         position, kinds[key], now.value, new, before.version))
    review.issues.sort(key=lambda i: (i.row or 0, i.col))
    return review


# --- With the database (through gradebook.service only) -----------------------------------------------------------


def _sheet(session: Session, *, class_id: int, subject_id: int, term: str) -> service.Sheet:
    if term not in service.TERMS:
        raise NotFound("Bảng điểm Excel chỉ có cho Học kì I và Học kì II.")
    return service.load_sheet(session, class_id=class_id, subject_id=subject_id, term=term)


def sheet_info(session: Session, pair: service.Pair, term: str) -> SheetInfo:
    school = session.exec(select(School.name)).first() or ""
    return SheetInfo(school=school, school_year_id=pair.year.id, school_year=pair.year.name, class_id=pair.klass.id,
                     class_name=pair.klass.name, subject_id=pair.subject.id, subject_name=pair.subject.name,
                     term=term, term_label=service.TERM_LABELS[term])


def _saved_cells(session: Session, sheet: service.Sheet) -> dict[tuple[int, str], Saved]:
    rows = []
    for row in sheet.rows:
        rows.extend(((row.student.id, slot), cell) for slot, cell in row.cells.items())
        if row.comment is not None:
            rows.append(((row.student.id, COMMENT), row.comment))
    ids = {record.updated_by for _, record in rows}
    names = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
    return {key: Saved(record.text if key[1] == COMMENT else record.value, record.version,
                       names.get(record.updated_by), record.updated_at)
            for key, record in rows}


def template_for(session: Session, *, class_id: int, subject_id: int, term: str,
                 now: datetime | None = None) -> tuple[bytes, str]:
    """Return the pre-filled template of a sheet and its download name."""
    sheet = _sheet(session, class_id=class_id, subject_id=subject_id, term=term)
    info = sheet_info(session, sheet.pair, term)
    saved = _saved_cells(session, sheet)
    lines = []
    for row in sheet.rows:
        sid = row.student.id
        cells = {key: saved[(sid, key)] for key in [*(s.code for s in sheet.slots), COMMENT] if (sid, key) in saved}
        lines.append(StudentLine(sid, row.student.student_code, row.student.full_name, row.number, cells))
    return build_template(info, sheet.slots, lines, generated_at=now), filename(info)


def review_upload(session: Session, *, class_id: int, subject_id: int, term: str, data: bytes) -> Review:
    """Check an uploaded template against the class and the stored cells; raise FileRefused for the whole file."""
    sheet = _sheet(session, class_id=class_id, subject_id=subject_id, term=term)
    info = sheet_info(session, sheet.pair, term)
    roster = {r.student.student_code: RosterEntry(r.student.id, r.student.student_code, r.student.full_name, r.number)
              for r in sheet.rows}
    parsed = parse_upload(data, info=info, slots=sheet.slots, roster=roster)
    return plan_changes(parsed, info=info, slots=sheet.slots, current=_saved_cells(session, sheet))


def commit_upload(session: Session, *, actor, class_id: int, subject_id: int, term: str, data: bytes) -> Review:
    """Check the upload again and write every change through the service, or none (the caller commits)."""
    review = review_upload(session, class_id=class_id, subject_id=subject_id, term=term, data=data)
    if not review.ok or not review.changes:
        return review
    failures: list[tuple[Change, DomainError]] = []
    savepoint = session.begin_nested()
    for change in review.changes:
        try:
            if change.slot == COMMENT:
                service.save_comment(session=session, actor=actor, class_id=class_id, subject_id=subject_id,
                                     term=term, student_id=change.student_id, text=change.new, version=change.version)
            else:
                service.save_cell(session=session, actor=actor, class_id=class_id, subject_id=subject_id, term=term,
                                  student_id=change.student_id, slot=change.slot, raw=change.new,
                                  version=change.version)
        except DomainError as exc:
            failures.append((change, exc))
            if isinstance(exc, Forbidden):
                break  # the same for every cell: say it once
    if not failures:
        savepoint.commit()
        review.committed = True
        return review
    savepoint.rollback()
    current = _saved_cells(session, _sheet(session, class_id=class_id, subject_id=subject_id, term=term))
    locked: list[str] = []  # a locked period refuses the whole sheet: say so once per period, first
    for change, exc in failures:
        message = str(exc)
        if isinstance(exc, PeriodLocked):
            if message not in locked:
                locked.append(message)
            continue
        if isinstance(exc, Conflict):
            message = conflict_message(change.kind, Saved(change.old, change.version),
                                       current.get((change.student_id, change.slot), Saved()))
        if isinstance(exc, Forbidden):
            review.issues.append(Issue(None, "", "", "", message))
        else:
            review.issues.append(Issue(change.row, change.column, column_letter(change.position),
                                       shown(change.kind, change.new), message, change.position))
    review.issues[:0] = [Issue(None, "", "", "", message) for message in locked]
    review.locked = bool(locked)
    review.changes = []
    return review

