"""Score sheets in Excel: the template's layout, upload → preview → commit, and every refusal (nothing written)."""

from __future__ import annotations

import html
import io
import os
import re
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func
from sqlmodel import select

from portal.authz import Actor
from portal.gradebook import service, xlsx
from portal.gradebook.rules import Slot
from portal.models import Assessment, School, SchoolYear, Subject, SubjectComment, User
from tests.factories import current_class

FIRST = xlsx.FIRST_ROW  # Excel row of the first student
TOAN_HEADERS = ["STT", "Mã học sinh", "Họ và tên", "TX1", "TX2", "TX3", "TX4", "GK", "CK", "Nhận xét"]
TIN_HEADERS = ["STT", "Mã học sinh", "Họ và tên", "TX1", "TX2", "GK", "CK", "Nhận xét"]


# --- Helpers ----------------------------------------------------------------------------------------------------


def pair_ids(session, class_name: str, subject_code: str) -> tuple[int, int]:
    klass = current_class(session, class_name)
    subject = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id,
                                                 Subject.code == subject_code)).one()
    return klass.id, subject.id


def url(kind: str, class_id: int, subject_id: int, term: str = "hk1") -> str:
    tail = {"template": "mau.xlsx", "upload": "tai-len", "commit": "tai-len/ghi"}[kind]
    return f"/giang-day/{class_id}/{subject_id}/{term}/{tail}"


def count(session, model=Assessment) -> int:
    session.commit()
    return session.exec(select(func.count()).select_from(model)).one()


def download(client, class_id: int, subject_id: int, term: str = "hk1") -> bytes:
    response = client.get(url("template", class_id, subject_id, term))
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return response.data


def fill(data: bytes, values: dict[tuple[int, str], object], *, edit=None) -> bytes:
    """Set cells of the score sheet by (Excel row, header); `edit(book)` may change anything else."""
    book = load_workbook(io.BytesIO(data))
    sheet = book[xlsx.DATA_SHEET]
    headers = {sheet.cell(row=xlsx.HEADER_ROW, column=c).value: c for c in range(1, sheet.max_column + 1)}
    for (row, header), value in values.items():
        sheet.cell(row=row, column=headers[header]).value = value  # (cell(value=None) would keep the old one)
    if edit:
        edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, target: str, data: bytes, name: str = "Diem.xlsx"):
    return client.post(target, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table inside the element with id `table_id`, as lists of cell texts."""
    match = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert match, f"no table #{table_id} on the page"
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows.append([" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in cells])
    return rows


def form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name}"
    return match.group(1)


def stored(session, class_id: int, subject_id: int, term: str = "hk1") -> dict[tuple[int, str], str]:
    session.commit()
    rows = session.exec(select(Assessment).where(Assessment.class_id == class_id, Assessment.subject_id == subject_id,
                                                 Assessment.term == term)).all()
    return {(a.student_id, a.slot): a.value for a in rows}


def roster(session, class_id: int) -> list:
    return [s for _, s in service.class_roster(session, class_id)]


def actor(session, username: str) -> Actor:
    return Actor(session, session.exec(select(User).where(User.username == username)).one())


def uploads_left(app) -> list[str]:
    folder = os.path.join(app.instance_path, "uploads", "xlsx")
    return os.listdir(folder) if os.path.isdir(folder) else []


# --- The template -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("teacher", "subject_code", "headers", "name"), [
    ("homeroom", "toan", TOAN_HEADERS, "Diem_Toan_6A1_HK1.xlsx"),
    ("teacher", "tinhoc", TIN_HEADERS, "Diem_Tin_hoc_6A1_HK1.xlsx"),
])
def test_template_lists_the_class_with_one_column_per_slot(login_as, session, teacher, subject_code, headers, name):
    class_id, subject_id = pair_ids(session, "6A1", subject_code)
    client = login_as(teacher)
    response = client.get(url("template", class_id, subject_id))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Bảng điểm", "hocba_meta"]
    sheet = book["Bảng điểm"]
    assert [c.value for c in sheet[xlsx.HEADER_ROW]] == headers
    school = session.exec(select(School.name)).one()
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    subject = session.get(Subject, subject_id)
    assert sheet["A1"].value == school
    assert sheet["A2"].value == (f"BẢNG ĐIỂM MÔN {subject.name.upper()} – LỚP 6A1 – HỌC KÌ I – "
                                 f"NĂM HỌC {year.name}")
    students = roster(session, class_id)
    assert len(students) == 30
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=FIRST, max_row=sheet.max_row)]
    assert len(rows) == 30
    assert [(r[0], r[1], r[2]) for r in rows] == [(i, s.student_code, s.full_name)
                                                  for i, s in enumerate(students, start=1)]
    assert all(v is None for r in rows for v in r[3:])  # nothing saved yet
    # Data validation: 0–10 decimals on every score column, and the comment's length.
    rules = {str(dv.sqref): dv for dv in sheet.data_validations.dataValidation}
    n_slots = len(headers) - 4
    for index in range(n_slots):
        letter = "DEFGHI"[index]
        dv = rules[f"{letter}{FIRST}:{letter}{FIRST + 29}"]
        assert (dv.type, dv.operator, dv.formula1, dv.formula2) == ("decimal", "between", "0", "10")
    assert sheet.column_dimensions["C"].width >= 25
    assert sheet.protection.sheet and not sheet["D5"].protection.locked and sheet["B5"].protection.locked
    meta = book["hocba_meta"]
    assert meta.sheet_state == "hidden"
    values = {r[0]: r[1] for r in meta.iter_rows(values_only=True) if r and r[0]}
    assert values["format"] == xlsx.FORMAT
    assert (values["class_id"], values["subject_id"], values["term"], values["school_year_id"]) == (
        class_id, subject_id, "hk1", year.id)
    assert values["school_year"] == year.name and values["class"] == "6A1" and values["subject"] == subject.name


def test_template_holds_saved_values_as_numbers_and_their_versions(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    _, hdtn = pair_ids(session, "6A1", "hdtn")
    first, second = roster(session, class_id)[:2]
    hoa = actor(session, "hoant")
    service.save_cell(session=session, actor=hoa, class_id=class_id, subject_id=toan, term="hk1",
                      student_id=first.id, slot="tx1", raw="8,5", version=0)
    cell = service.save_cell(session=session, actor=hoa, class_id=class_id, subject_id=toan, term="hk1",
                             student_id=first.id, slot="gk", raw="7", version=0)
    service.save_cell(session=session, actor=hoa, class_id=class_id, subject_id=toan, term="hk1",
                      student_id=first.id, slot="gk", raw="9", version=cell.version)
    service.save_comment(session=session, actor=hoa, class_id=class_id, subject_id=toan, term="hk1",
                         student_id=second.id, text="Tiến bộ rõ rệt", version=0)
    service.save_cell(session=session, actor=hoa, class_id=class_id, subject_id=hdtn, term="hk1",
                      student_id=first.id, slot="tx1", raw="Đạt", version=0)
    session.commit()
    client = login_as("homeroom")

    sheet = load_workbook(io.BytesIO(download(client, class_id, toan)))["Bảng điểm"]
    assert sheet[f"D{FIRST}"].value == 8.5 and isinstance(sheet[f"D{FIRST}"].value, float)
    assert sheet[f"H{FIRST}"].value == 9 and isinstance(sheet[f"H{FIRST}"].value, int)
    assert sheet[f"J{FIRST + 1}"].value == "Tiến bộ rõ rệt"
    meta = load_workbook(io.BytesIO(download(client, class_id, toan)))["hocba_meta"]
    table = {(r[0], r[2]): (r[3], r[4]) for r in meta.iter_rows(values_only=True) if isinstance(r[0], int)}
    assert table[(first.id, "tx1")] == ("8.5", 1)
    assert table[(first.id, "gk")] == ("9", 2)
    assert table[(first.id, "tx2")] == (None, 0)  # empty cells are written as blank
    assert table[(second.id, "comment")] == ("Tiến bộ rõ rệt", 1)
    assert len(table) == 30 * 7

    book = load_workbook(io.BytesIO(download(client, class_id, hdtn)))
    sheet = book["Bảng điểm"]
    assert sheet[f"D{FIRST}"].value == "Đ"
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    assert lists and all(dv.formula1 == '"Đ,CĐ"' for dv in lists)


def test_primary_levels_and_tests_round_trip_through_the_pure_functions():
    info = xlsx.SheetInfo("Trường Tiểu học Thử", 1, "2025-2026", 7, "4A", 9, "Tiếng Việt", "hk1", "Học kì I")
    slots = [Slot("gk_level", "Mức GK", "level", "Mức đạt được giữa kì"),
             Slot("gk_test", "KT GK", "test", "Điểm kiểm tra giữa kì")]
    lines = [xlsx.StudentLine(1, "HS001", "Lò Văn Ánh", 1), xlsx.StudentLine(2, "HS002", "Hà Thị Bình", 2)]
    data = xlsx.build_template(info, slots, lines, generated_at=datetime(2025, 10, 1, tzinfo=UTC))
    sheet = load_workbook(io.BytesIO(data))["Bảng điểm"]
    assert [c.value for c in sheet[xlsx.HEADER_ROW]] == ["STT", "Mã học sinh", "Họ và tên", "Mức GK", "KT GK",
                                                          "Nhận xét"]
    kinds = {str(dv.sqref)[0]: (dv.type, dv.formula1) for dv in sheet.data_validations.dataValidation}
    assert kinds["D"] == ("list", '"HTT,HT,CHT"') and kinds["E"] == ("whole", "1")
    filled = fill(data, {(FIRST, "Mức GK"): "hoàn thành tốt", (FIRST, "KT GK"): 9,
                         (FIRST + 1, "Mức GK"): "Giỏi", (FIRST + 1, "KT GK"): 7.5})
    known = {line.code: xlsx.RosterEntry(line.student_id, line.code, line.name) for line in lines}
    parsed = xlsx.parse_upload(filled, info=info, slots=slots, roster=known)
    assert parsed.rows[0].values == {"gk_level": "HTT", "gk_test": "9", "comment": ""}
    assert [(i.row, i.column, i.value) for i in parsed.issues] == [(FIRST + 1, "Mức GK", "Giỏi"),
                                                                   (FIRST + 1, "KT GK", "7,5")]
    assert xlsx.filename(info) == "Diem_Tieng_Viet_4A_HK1.xlsx"


# --- Upload, preview, commit --------------------------------------------------------------------------------------


def test_upload_previews_the_changes_then_commits_them_all(app, login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    students = roster(session, class_id)
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {
        (FIRST, "TX1"): "8,5", (FIRST, "TX2"): 9, (FIRST, "GK"): 7.5, (FIRST, "CK"): "10",
        (FIRST + 2, "TX1"): 0, (FIRST + 2, "Nhận xét"): "  Chăm chỉ,   cần   cẩn thận hơn ",
    })
    before = count(session)

    response = upload(client, url("upload", class_id, toan), data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Lưu tất cả" in page
    changes = table_rows(page, "xlsx-changes")
    name0, name2 = students[0].full_name, students[2].full_name
    assert changes == [
        [str(FIRST), name0, "TX1", "(trống) → 8,5"], [str(FIRST), name0, "TX2", "(trống) → 9"],
        [str(FIRST), name0, "GK", "(trống) → 7,5"], [str(FIRST), name0, "CK", "(trống) → 10"],
        [str(FIRST + 2), name2, "TX1", "(trống) → 0"],
        [str(FIRST + 2), name2, "Nhận xét", "(trống) → Chăm chỉ, cần cẩn thận hơn"],
    ]
    assert count(session) == before  # a preview writes nothing
    token = form_value(page, "token")
    assert sorted(uploads_left(app)) == [f"{token}.bin", f"{token}.json"]

    response = client.post(url("commit", class_id, toan), data={"token": token, "sha256": form_value(page, "sha256")})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Đã lưu 6 ô của 2 học sinh" in response.get_data(as_text=True)
    assert stored(session, class_id, toan) == {
        (students[0].id, "tx1"): "8.5", (students[0].id, "tx2"): "9", (students[0].id, "gk"): "7.5",
        (students[0].id, "ck"): "10", (students[2].id, "tx1"): "0",
    }
    comment = session.exec(select(SubjectComment).where(SubjectComment.student_id == students[2].id)).one()
    assert comment.text == "Chăm chỉ, cần cẩn thận hơn" and comment.term == "hk1"
    assert uploads_left(app) == []

    # The same file again: nothing differs any more, nothing to commit.
    response = upload(client, url("upload", class_id, toan), data)
    assert response.status_code == 200
    assert 'id="xlsx-nothing"' in response.get_data(as_text=True) and 'name="token"' not in response.get_data(
        as_text=True)


def test_emptying_a_cell_clears_it_and_untouched_cells_are_not_rewritten(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    first, second = roster(session, class_id)[:2]
    hoa = actor(session, "hoant")
    for student in (first, second):
        service.save_cell(session=session, actor=hoa, class_id=class_id, subject_id=toan, term="hk1",
                          student_id=student.id, slot="tx1", raw="6", version=0)
    session.commit()
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): None})
    page = upload(client, url("upload", class_id, toan), data).get_data(as_text=True)
    assert table_rows(page, "xlsx-changes") == [[str(FIRST), first.full_name, "TX1", "6 → (trống)"]]
    response = client.post(url("commit", class_id, toan), data={"token": form_value(page, "token"),
                                                               "sha256": form_value(page, "sha256")})
    assert response.status_code == 200
    assert stored(session, class_id, toan) == {(first.id, "tx1"): "", (second.id, "tx1"): "6"}
    versions = {a.student_id: a.version for a in session.exec(select(Assessment))}
    assert versions == {first.id: 2, second.id: 1}


def test_bad_cells_are_listed_by_row_and_column_and_nothing_is_written(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    _, hdtn = pair_ids(session, "6A1", "hdtn")
    client = login_as("homeroom")
    before = count(session)

    data = fill(download(client, class_id, toan), {
        (FIRST, "TX1"): 8, (FIRST, "TX2"): 11, (FIRST + 1, "GK"): "8.25", (FIRST + 3, "CK"): "abc",
        (FIRST + 4, "TX3"): 9.5, (FIRST + 5, "TX4"): datetime(2025, 5, 8),
    })
    response = upload(client, url("upload", class_id, toan), data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    issues = table_rows(page, "xlsx-issues")
    assert [row[:3] for row in issues] == [
        [str(FIRST), f"TX2 (E{FIRST})", "11"], [str(FIRST + 1), f"GK (H{FIRST + 1})", "8.25"],
        [str(FIRST + 3), f"CK (I{FIRST + 3})", "abc"], [str(FIRST + 5), f"TX4 (G{FIRST + 5})", "08/05/2025"],
    ]
    assert "ngoài khoảng 0–10" in issues[0][3] and "quá một chữ số thập phân" in issues[1][3]
    assert "ngày giờ" in issues[3][3]
    assert 'name="token"' not in page and "Lưu tất cả" not in page

    data = fill(download(client, class_id, hdtn), {(FIRST, "TX1"): "Đ", (FIRST + 1, "TX2"): "X",
                                                   (FIRST + 2, "GK"): 8})
    response = upload(client, url("upload", class_id, hdtn), data)
    assert response.status_code == 422
    issues = table_rows(response.get_data(as_text=True), "xlsx-issues")
    assert [row[:3] for row in issues] == [[str(FIRST + 1), f"TX2 (E{FIRST + 1})", "X"],
                                           [str(FIRST + 2), f"GK (H{FIRST + 2})", "8"]]  # 105 periods: TX1–TX4
    assert "Đ (Đạt) hoặc CĐ (Chưa đạt)" in issues[0][3]
    assert count(session) == before == 0
    assert count(session, SubjectComment) == 0


def test_unknown_duplicated_and_misplaced_students_are_errors(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    students = roster(session, class_id)
    other = roster(session, current_class(session, "6A2").id)[0]
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {
        (FIRST, "TX1"): 7,
        (FIRST + 1, "Mã học sinh"): students[0].student_code, (FIRST + 1, "Họ và tên"): students[0].full_name,
        (FIRST + 2, "Mã học sinh"): other.student_code, (FIRST + 2, "Họ và tên"): other.full_name,
        (FIRST + 3, "Họ và tên"): "Nguyễn Văn Khác",
        (FIRST + 4, "Mã học sinh"): None, (FIRST + 4, "TX1"): 5,
    })
    response = upload(client, url("upload", class_id, toan), data)
    assert response.status_code == 422
    issues = table_rows(response.get_data(as_text=True), "xlsx-issues")
    assert [(r[0], r[1].split()[0]) for r in issues] == [
        (str(FIRST + 1), "Mã"), (str(FIRST + 2), "Mã"), (str(FIRST + 3), "Họ"), (str(FIRST + 4), "Mã")]
    assert f"đã có ở dòng {FIRST}" in issues[0][3]
    assert "Không có học sinh mã" in issues[1][3] and "lớp 6A1" in issues[1][3]
    assert students[3].full_name in issues[2][3]
    assert "Thiếu mã học sinh" in issues[3][3]
    assert count(session) == 0


# --- Files refused as a whole ------------------------------------------------------------------------------------


def test_a_renamed_executable_and_other_non_xlsx_files_are_refused(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    for body in (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "STT,Mã học sinh\n1,x\n".encode(),
                 b"PK\x03\x04not really a zip"):
        response = upload(client, url("upload", class_id, toan), body, name="Diem_Toan_6A1_HK1.xlsx")
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "không phải bảng tính Excel (.xlsx)" in html.unescape(page) or "không đọc được" in page.lower(), page
    too_big = b"PK\x03\x04" + b"\x00" * (xlsx.MAX_BYTES + 10)
    response = upload(client, url("upload", class_id, toan), too_big)
    assert response.status_code == 400 and "Tệp quá lớn" in response.get_data(as_text=True)
    response = client.post(url("upload", class_id, toan), data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert count(session) == 0


def test_a_workbook_without_metadata_is_refused(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8}, edit=lambda b: b.remove(b["hocba_meta"]))
    response = upload(client, url("upload", class_id, toan), data)
    assert response.status_code == 400
    assert "thiếu trang thông tin ẩn" in html.unescape(response.get_data(as_text=True))
    plain = Workbook()
    plain.active.append(["STT", "Mã học sinh", "Họ và tên", "TX1"])
    out = io.BytesIO()
    plain.save(out)
    assert upload(client, url("upload", class_id, toan), out.getvalue()).status_code == 400
    assert count(session) == 0


@pytest.mark.parametrize(("source", "target"), [
    (("6A2", "hk1"), ("6A1", "hk1")),  # another class
    (("6A1", "hk2"), ("6A1", "hk1")),  # another term
])
def test_a_workbook_for_another_sheet_is_refused(login_as, session, source, target):
    source_class, toan = pair_ids(session, source[0], "toan")
    target_class, _ = pair_ids(session, target[0], "toan")
    client = login_as("homeroom")
    data = fill(download(client, source_class, toan, source[1]), {(FIRST, "TX1"): 8})
    response = upload(client, url("upload", target_class, toan, target[1]), data)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert f"lớp {source[0]}" in page and f"không phải bảng điểm môn Toán lớp {target[0]}" in page
    assert count(session) == 0


def test_crafted_metadata_cannot_reach_another_class(login_as, session):
    """The URL decides: metadata naming another class is refused, and students are matched to the URL's class."""
    own, toan = pair_ids(session, "6A1", "toan")
    assigned_other, _ = pair_ids(session, "6A2", "toan")
    foreign, foreign_toan = pair_ids(session, "9A2", "toan")  # hoant does not teach 9A2
    client = login_as("homeroom")
    template = download(client, own, toan)

    def point_at(class_id, subject_id):
        def edit(book):
            meta = book["hocba_meta"]
            for row in meta.iter_rows():
                if row[0].value == "class_id":
                    row[1].value = class_id
                if row[0].value == "subject_id":
                    row[1].value = subject_id
        return edit

    # Metadata says 9A2 while posting to the assigned 6A1: refused.
    crafted = fill(template, {(FIRST, "TX1"): 8}, edit=point_at(foreign, foreign_toan))
    response = upload(client, url("upload", own, toan), crafted)
    assert response.status_code == 400
    # Posting it to 9A2's URL is refused by the access policy before the file is read.
    assert upload(client, url("upload", foreign, foreign_toan), crafted).status_code == 403
    # Metadata rewritten to the other assigned class 6A2, posted there: 6A1's students are unknown in 6A2.
    crafted = fill(template, {(FIRST, "TX1"): 8}, edit=point_at(assigned_other, toan))
    response = upload(client, url("upload", assigned_other, toan), crafted)
    assert response.status_code == 422
    issues = table_rows(response.get_data(as_text=True), "xlsx-issues")
    assert len(issues) == 30 and all("Không có học sinh mã" in r[3] and "lớp 6A2" in r[3] for r in issues)
    assert count(session) == 0


# --- Conflicts: a cell changed after the download is never overwritten -------------------------------------------


def test_a_cell_changed_after_the_download_is_a_conflict_at_preview(login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    first = roster(session, class_id)[0]
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8, (FIRST, "TX2"): 7, (FIRST + 1, "GK"): 6})
    service.save_cell(session=session, actor=actor(session, "hoant"), class_id=class_id, subject_id=toan,
                      term="hk1", student_id=first.id, slot="tx1", raw="5,5", version=0)
    session.commit()

    response = upload(client, url("upload", class_id, toan), data)
    assert response.status_code == 422
    issues = table_rows(response.get_data(as_text=True), "xlsx-issues")
    assert len(issues) == 1
    assert issues[0][:3] == [str(FIRST), f"TX1 (D{FIRST})", "8"]
    assert "đã bị Nguyễn Thị Hoa sửa thành “5,5”" in issues[0][3] and "sau khi bạn tải mẫu" in issues[0][3]
    assert stored(session, class_id, toan) == {(first.id, "tx1"): "5.5"}


def test_a_cell_changed_between_preview_and_commit_refuses_the_whole_commit(app, login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    first, second = roster(session, class_id)[:2]
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8, (FIRST + 1, "TX1"): 9, (FIRST + 1, "CK"): 10})
    page = upload(client, url("upload", class_id, toan), data).get_data(as_text=True)
    token, sha = form_value(page, "token"), form_value(page, "sha256")
    service.save_cell(session=session, actor=actor(session, "hoant"), class_id=class_id, subject_id=toan,
                      term="hk1", student_id=second.id, slot="ck", raw="4", version=0)
    session.commit()

    response = client.post(url("commit", class_id, toan), data={"token": token, "sha256": sha})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    issues = table_rows(page, "xlsx-issues")
    assert [r[:3] for r in issues] == [[str(FIRST + 1), f"CK (I{FIRST + 1})", "10"]]
    assert "đã bị Nguyễn Thị Hoa sửa thành “4”" in issues[0][3]
    # All or nothing: the two valid cells were not written either.
    assert stored(session, class_id, toan) == {(second.id, "ck"): "4"}
    assert uploads_left(app) == []
    assert first.id  # (the first student's 8 is not stored)


def test_commit_checks_the_token_and_the_sha256(app, login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8})
    page = upload(client, url("upload", class_id, toan), data).get_data(as_text=True)
    token = form_value(page, "token")
    response = client.post(url("commit", class_id, toan), data={"token": token, "sha256": "0" * 64})
    assert response.status_code == 400
    assert uploads_left(app) == []  # a mismatching file is dropped
    for bad in ("../../portal", "x" * 32, ""):
        assert client.post(url("commit", class_id, toan), data={"token": bad, "sha256": "0" * 64}).status_code == 400
    # A token previewed for one sheet does not commit another.
    page = upload(client, url("upload", class_id, toan), data).get_data(as_text=True)
    other, _ = pair_ids(session, "6A2", "toan")
    response = client.post(url("commit", other, toan), data={"token": form_value(page, "token"),
                                                            "sha256": form_value(page, "sha256")})
    assert response.status_code == 400
    assert count(session) == 0


# --- Access ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "subject_code", "owner"), [
    ("tuanlm", "toan", "hoant"),  # teaches Tin học to 6A1, not Toán
    ("hoant", "tinhoc", "tuanlm"),  # teaches Toán to 6A1, not Tin học
])
def test_a_teacher_cannot_touch_a_pair_not_assigned_to_them(app, client, login_as, session, username, subject_code,
                                                            owner):
    class_id, subject_id = pair_ids(session, "6A1", subject_code)
    # A genuine template of the pair, previewed by the teacher who owns it (so a real token exists).
    owner_client = app.test_client()
    assert owner_client.post("/dang-nhap", data={"username": owner, "password": "Hocbaso@2026"}).status_code == 302
    data = fill(download(owner_client, class_id, subject_id), {(FIRST, "TX1"): 8})
    page = upload(owner_client, url("upload", class_id, subject_id), data).get_data(as_text=True)
    token, sha = form_value(page, "token"), form_value(page, "sha256")

    intruder = login_as(username=username)
    assert intruder.get(url("template", class_id, subject_id)).status_code == 403
    assert intruder.get(url("upload", class_id, subject_id)).status_code == 403
    assert upload(intruder, url("upload", class_id, subject_id), data).status_code == 403
    assert intruder.post(url("commit", class_id, subject_id), data={"token": token, "sha256": sha}).status_code == 403
    assert count(session) == 0
    assert len(uploads_left(app)) == 2  # the owner's preview is untouched


def test_the_upload_page_and_the_links_block(app, login_as, session):
    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    response = client.get(url("upload", class_id, toan))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in page and "Tải mẫu Excel" in page
    assert url("template", class_id, toan) in page
    assert client.get(f"/giang-day/{class_id}/{toan}/year/mau.xlsx").status_code == 404
    with app.test_request_context():
        from flask import render_template

        links = render_template("gradebook/xlsx_links.html", class_id=class_id, subject_id=toan, term="hk2")
        assert url("template", class_id, toan, "hk2") in links and url("upload", class_id, toan, "hk2") in links
        year = render_template("gradebook/xlsx_links.html", class_id=class_id, subject_id=toan, term="year")
        assert year.strip() == ""


def test_a_write_refused_during_the_commit_rolls_back_the_cells_already_written(login_as, session, monkeypatch):
    """All or nothing even when the service refuses a cell halfway (a race the re-check cannot see)."""
    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8, (FIRST, "TX2"): 9, (FIRST + 1, "GK"): 7})
    page = upload(client, url("upload", class_id, toan), data).get_data(as_text=True)
    real, calls = service.save_cell, []

    def flaky(**kwargs):
        calls.append(kwargs["slot"])
        if len(calls) == 3:
            raise service.CellRefused("Sổ điểm học kì này đã khoá.")
        return real(**kwargs)

    monkeypatch.setattr(service, "save_cell", flaky)
    response = client.post(url("commit", class_id, toan), data={"token": form_value(page, "token"),
                                                               "sha256": form_value(page, "sha256")})
    assert response.status_code == 409
    assert calls == ["tx1", "tx2", "gk"]
    issues = table_rows(response.get_data(as_text=True), "xlsx-issues")
    assert issues == [[str(FIRST + 1), f"GK (H{FIRST + 1})", "7", "Sổ điểm học kì này đã khoá."]]
    assert count(session) == 0
