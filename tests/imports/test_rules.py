"""Pure rules: file type by magic bytes, reading, headers, values. No app needed."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from datetime import date, datetime

import pytest

from portal.imports import rules
from portal.imports.rules import KINDS, FileRefused, Problem
from tests.imports.files import STUDENT_HEADER, csv_bytes, student, xlsx_bytes

TODAY = date(2026, 3, 2)


def _zip(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in names.items():
            archive.writestr(name, content)
    return out.getvalue()


CP1258 = unicodedata.normalize("NFD", "Mã học sinh,Họ và tên\n01,Nguyễn Văn An\n").encode("cp1258", "replace")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (csv_bytes(["Lớp"], [{"Lớp": "6A1"}]), "csv"),
        (csv_bytes(["Lớp"], [{"Lớp": "6A1"}], bom=False), "csv"),
        ("Lớp;Mã môn\n6A1;toan\n".encode(), "csv"),
        (xlsx_bytes(["Lớp"], [{"Lớp": "6A1"}]), "xlsx"),
    ],
)
def test_detect_accepts_csv_and_xlsx_by_content(data, expected):
    assert rules.detect_format(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (EXE, rules.NOT_A_TABLE),
        (b"MZ" + b"A" * 50, rules.NOT_A_TABLE),  # an executable header even without NUL bytes
        (_zip({"readme.txt": b"hello", "data.csv": b"a,b"}), "không phải bảng tính Excel"),
        (_zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<x/>"}), "không phải bảng tính Excel"),
        (b"PK\x03\x04not really a zip", rules.NOT_A_TABLE),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", rules.NOT_A_TABLE),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", rules.NOT_A_TABLE),
        (CP1258, "UTF-8"),
        (b"", "rỗng"),
        (b"a,b\n\x01\x02\x03,\x04\x05\n", rules.NOT_A_TABLE),
    ],
    ids=["exe", "mz-text", "zip", "docx", "broken-zip", "xls", "pdf", "png", "cp1258", "empty", "controls"],
)
def test_detect_refuses_what_is_not_a_table(data, message):
    with pytest.raises(FileRefused) as refused:
        rules.detect_format(data)
    assert message in str(refused.value)


def test_detect_refuses_zip_bombs(monkeypatch):
    monkeypatch.setattr(rules, "XLSX_MAX_UNCOMPRESSED", 1000)
    data = _zip({"xl/workbook.xml": b"<w/>" + b" " * 5000})
    with pytest.raises(FileRefused, match="quá lớn"):
        rules.detect_format(data)


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("Lớp,Mã môn,Môn học", ","), ("Lớp;Mã môn;Môn học", ";"), ("Lớp\tMã môn\tMôn học", "\t"),
     ('"Họ, tên";Lớp;Mã', ";"), ("Lớp", ",")],
)
def test_sniff_delimiter(line, delimiter):
    assert rules.sniff_delimiter(line) == delimiter


def test_read_csv_numbers_rows_as_the_file_and_skips_blank_rows():
    data = "Lớp;Mã môn\r\n6A1;toan\r\n;\r\n\r\n6A2;van\r\n;;\r\n\r\n".encode()
    sheet = rules.read_sheet(data, "csv", max_rows=10)
    assert sheet.rows == [(1, ["Lớp", "Mã môn"]), (2, ["6A1", "toan"]), (5, ["6A2", "van"])]


def test_read_csv_handles_excel_sep_line_and_quoted_newlines():
    data = 'sep=;\r\nLớp;Ghi chú\r\n6A1;"dòng 1\r\ndòng 2"\r\n'.encode()
    sheet = rules.read_sheet(data, "csv", max_rows=10)
    assert sheet.rows[0] == (2, ["Lớp", "Ghi chú"])
    assert sheet.rows[1][0] == 3 and sheet.rows[1][1][1] == "dòng 1\r\ndòng 2"


def test_read_normalises_to_nfc():
    decomposed = unicodedata.normalize("NFD", "Lớp\nNguyễn\n")
    sheet = rules.read_sheet(decomposed.encode(), "csv", max_rows=10)
    assert sheet.rows[1][1] == ["Nguyễn"]


def test_read_xlsx_keeps_types_and_ignores_trailing_empty_rows():
    data = xlsx_bytes(["Lớp", "Ngày sinh", "Số định danh"],
                      [{"Lớp": "6A1", "Ngày sinh": datetime(2013, 9, 5), "Số định danh": 37213000001},
                       {}, {}])
    sheet = rules.read_sheet(data, "xlsx", max_rows=10)
    assert sheet.rows == [(1, ["Lớp", "Ngày sinh", "Số định danh"]), (2, ["6A1", datetime(2013, 9, 5), 37213000001])]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_read_refuses_too_many_rows(fmt):
    rows = [{"Lớp": f"6A{i}"} for i in range(6)]
    data = csv_bytes(["Lớp"], rows) if fmt == "csv" else xlsx_bytes(["Lớp"], rows)
    assert len(rules.read_sheet(data, fmt, max_rows=6).rows) == 7
    with pytest.raises(FileRefused, match="hơn 5 dòng"):
        rules.read_sheet(data, fmt, max_rows=5)


def test_read_refuses_damaged_xlsx():
    data = _zip({"xl/workbook.xml": b"<not-a-workbook", "[Content_Types].xml": b"<x"})
    with pytest.raises(FileRefused, match="Không đọc được tệp Excel"):
        rules.read_sheet(data, "xlsx", max_rows=10)


# --- Values -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("05/09/2012", date(2012, 9, 5)), ("5/9/2012", date(2012, 9, 5)), ("2012-09-05", date(2012, 9, 5)),
     ("05-09-2012", date(2012, 9, 5)), ("05.09.2012", date(2012, 9, 5)), ("2012-09-05 00:00:00", date(2012, 9, 5)),
     (datetime(2012, 9, 5), date(2012, 9, 5)), (date(2012, 9, 5), date(2012, 9, 5)),
     ("29/02/2012", date(2012, 2, 29))],
)
def test_dates_accepted(value, expected):
    assert rules.a_date(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("31/02/2012", "không tồn tại"), ("29/02/2013", "không tồn tại"), ("2012/09/05", "không đúng định dạng"),
     ("05/09/12", "không đúng định dạng"), ("5 tháng 9 2012", "không đúng định dạng"), (41157, "không phải ngày"),
     ("13/13/2012", "không tồn tại")],
)
def test_dates_refused(value, message):
    with pytest.raises(Problem, match=message):
        rules.a_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("037212004587", "037212004587"), ("037 212 004 587", "037212004587"), (137212004587, "137212004587"),
     (137212004587.0, "137212004587")],
)
def test_personal_id_accepted(value, expected):
    assert rules.personal_id(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [(37215621266, "mất số 0 ở đầu"), (37215621266.0, "mất số 0 ở đầu"), ("37215621266", "đủ 12 chữ số"),
     ("3.72156E+10", "số mũ"), ("03721200458a", "12 chữ số"), ("0372120045871", "12 chữ số"), (True, "12 chữ số")],
)
def test_personal_id_refused(value, message):
    with pytest.raises(Problem, match=message) as problem:
        rules.personal_id(value)
    if "0 ở đầu" in message:
        assert "Văn bản (Text)" in str(problem.value)


@pytest.mark.parametrize(("value", "expected"), [("Nam", 1), ("Nữ", 2), ("nữ", 2), (" NAM ", 1),
                                                 (unicodedata.normalize("NFD", "Nữ"), 2)])
def test_sex(value, expected):
    assert rules.sex(rules._clean(value)) == expected


@pytest.mark.parametrize("value", ["Nu", "F", "1", "Khác"])
def test_sex_refused(value):
    with pytest.raises(Problem, match="Nam.*Nữ"):
        rules.sex(value)


@pytest.mark.parametrize(("value", "expected"), [("Kinh", "01"), ("kinh", "01"), ("Mường", "06"), ("Khơ-me", "05"),
                                                 ("Khơ me", "05"), ("Khmer", "05"), ("01", "01"), ("6", "06"),
                                                 (6, "06"), ("Bru-Vân Kiều", "23"), ("Ê Đê", "12")])
def test_ethnicity(value, expected):
    assert rules.ethnicity(value) == expected


@pytest.mark.parametrize("value", ["Việt", "99", "0", "Kinhh"])
def test_ethnicity_refused(value):
    with pytest.raises(Problem, match="danh mục"):
        rules.ethnicity(value)


@pytest.mark.parametrize(("value", "expected"), [("Việt Nam", "VN"), ("việt nam", "VN"), ("VN", "VN"), ("la", "LA")])
def test_nationality(value, expected):
    assert rules.nationality(value) == expected


USERNAMES = [("hoant", "hoant"), ("HoaNT", "hoant"), ("tran.thi_binh-2", "tran.thi_binh-2"), ("hoà", None),
             ("ab", None), ("a b c", None), (".abc", None)]


@pytest.mark.parametrize(("value", "ok"), USERNAMES)
def test_username(value, ok):
    if ok:
        assert rules.username(value) == ok
    else:
        with pytest.raises(Problem, match="Tên đăng nhập"):
            rules.username(value)


@pytest.mark.parametrize(("value", "message"), [(912345678, "mất số 0"), ("09-123", "không hợp lệ")])
def test_phone_refused(value, message):
    with pytest.raises(Problem, match=message):
        rules.phone(value)


def test_phone_kept_as_text():
    assert rules.phone("0912 345 678") == "0912345678"
    assert rules.phone("+84 912 345 678") == "+84912345678"


@pytest.mark.parametrize(("value", "expected"), [("3710123400241", "3710123400241"), (3710123400241, "3710123400241"),
                                                 ("HS-2026/01", "HS-2026/01")])
def test_codes(value, expected):
    assert rules.code(20)(value) == expected


@pytest.mark.parametrize(("value", "message"), [("3.71012E+12", "số mũ"), ("mã hs", "chữ cái không dấu"),
                                                ("x" * 21, "20 ký tự")])
def test_codes_refused(value, message):
    with pytest.raises(Problem, match=message):
        rules.code(20)(value)


def test_text_length():
    with pytest.raises(Problem, match="Dài quá 10 ký tự"):
        rules.text(10)("6A1 chuyên Toán")


# --- Headers and records ------------------------------------------------------------------------------------------


def _layout(kind: str, header: list, before: list[list] | None = None):
    sheet = rules.Sheet([(i + 1, row) for i, row in enumerate([*(before or []), header, ["x"] * len(header)])])
    return rules.find_layout(KINDS[kind], sheet)


def test_headers_match_after_nfc_trimming_and_case_folding():
    header = [unicodedata.normalize("NFD", "  MÃ HỌC SINH* "), "số định danh", "Họ  và tên", "Ngày sinh (dd/mm/yyyy)",
              "GIỚI TÍNH", "lớp", "STT"]
    layout = _layout("students", header)
    assert not layout.errors
    assert layout.positions == {"student_code": 0, "personal_id": 1, "full_name": 2, "date_of_birth": 3, "sex": 4,
                                "class_name": 5}
    assert layout.ignored == ["STT"]


def test_headers_keep_diacritics_significant():
    layout = _layout("students", ["Ma hoc sinh", "Số định danh", "Họ và tên", "Ngày sinh", "Giới tính", "Lớp"])
    assert [(e.row, e.column, e.message) for e in layout.errors] == [
        (1, "Mã học sinh", "Thiếu cột bắt buộc «Mã học sinh»."),
    ]


def test_missing_and_duplicate_headers_are_errors():
    layout = _layout("students", ["Mã học sinh", "Họ và tên", "Họ tên", "Giới tính"])
    messages = [e.message for e in layout.errors]
    assert "Cột «Họ tên» bị lặp lại (cột B và cột C)." in messages
    for missing in ("Số định danh", "Ngày sinh", "Lớp"):
        assert f"Thiếu cột bắt buộc «{missing}»." in messages


def test_assignments_need_subject_code_or_name():
    assert not _layout("assignments", ["Lớp", "Môn học", "Tên đăng nhập giáo viên"]).errors
    assert not _layout("assignments", ["Lớp", "Mã môn", "Tên đăng nhập"]).errors
    errors = _layout("assignments", ["Lớp", "Tên đăng nhập giáo viên"]).errors
    assert len(errors) == 1 and "«Mã môn» hoặc «Môn học»" in errors[0].message


def test_header_row_found_below_a_title():
    layout = _layout("assignments", ["Lớp", "Mã môn", "Tên đăng nhập giáo viên"],
                     before=[["DANH SÁCH PHÂN CÔNG GIẢNG DẠY"], ["Năm học 2025-2026"]])
    assert layout.header_row == 3 and not layout.errors


def _records(kind, header, rows):
    sheet = rules.read_sheet(csv_bytes(header, rows), "csv", max_rows=100)
    layout = rules.find_layout(KINDS[kind], sheet)
    return rules.parse_records(KINDS[kind], sheet, layout, today=TODAY)


def test_every_bad_cell_is_reported_with_row_and_column():
    rows = [student("HS1", "001213000001"),
            student("HS2", "37213000002", dob="31/02/2013", sex="F"),
            student("HS3", "001213000003", dob="", **{"Dân tộc": "Việt"}),
            student("HS4", "001213000004", dob="05/09/2030")]
    records, errors = _records("students", STUDENT_HEADER, rows)
    assert len(records) == 4
    found = {(e.row, e.column) for e in errors}
    assert found == {(3, "Số định danh"), (3, "Ngày sinh"), (3, "Giới tính"), (4, "Ngày sinh"), (4, "Dân tộc"),
                     (5, "Ngày sinh")}
    by_cell = {(e.row, e.column): e.message for e in errors}
    assert by_cell[(4, "Ngày sinh")] == "Chưa nhập (cột bắt buộc)."
    assert "tương lai" in by_cell[(5, "Ngày sinh")]
    assert records[0].values["date_of_birth"] == date(2013, 9, 5) and records[0].values["ethnicity"] == "01"


def test_duplicates_within_the_file():
    rows = [student("HS1", "001213000001"), student("HS2", "001213000002"), student("HS1", "001213000003"),
            student("HS4", "001213000002")]
    _, errors = _records("students", STUDENT_HEADER, rows)
    assert [(e.row, e.column, e.message) for e in errors] == [
        (4, "Mã học sinh", "Trùng Mã học sinh «HS1» với dòng 2."),
        (5, "Số định danh", "Trùng Số định danh «001213000002» với dòng 3."),
    ]


def test_data_under_a_blank_header_is_an_error():
    data = "Lớp,Mã môn,,Tên đăng nhập giáo viên\n6A1,toan,???,hoant\n".encode()
    sheet = rules.read_sheet(data, "csv", max_rows=10)
    layout = rules.find_layout(KINDS["assignments"], sheet)
    _, errors = rules.parse_records(KINDS["assignments"], sheet, layout, today=TODAY)
    assert [(e.row, e.column) for e in errors] == [(2, "Cột C")]


def test_header_only_file_is_an_error():
    _, errors = _records("students", STUDENT_HEADER, [])
    assert errors and errors[0].row is None and "chưa có dòng dữ liệu" in errors[0].message


@pytest.mark.parametrize(("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letter(index, letter):
    assert rules.column_letter(index) == letter
