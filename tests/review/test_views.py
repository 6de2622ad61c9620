"""Review screens: the department head's read-only sheets and flags; the leaders' summaries and exports."""

from __future__ import annotations

import re
from io import BytesIO

import lxml.html
import pytest
from openpyxl import load_workbook
from sqlmodel import func, select

from portal.models import Flag
from tests.conftest import DEMO_PASSWORD
from tests.review.helpers import current_class, fill_student, roster, subject, user


def _login(app, username):
    client = app.test_client()
    response = client.post("/dang-nhap", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return client


def _sheet_url(session, class_name, code, term="hk1", suffix=""):
    klass = current_class(session, class_name)
    return f"/to-chuyen-mon/{klass.id}/{subject(session, klass, code).id}/{term}{suffix}"


def _doc(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def _editable(element) -> list:
    return element.xpath(".//input[not(@type='hidden')] | .//select | .//textarea | .//*[@hx-post]")


def _flags(session) -> int:
    return session.exec(select(func.count()).select_from(Flag)).one()


# --- Department head -----------------------------------------------------------------------------------


def test_department_page_lists_subjects_by_class(app, session):
    client = _login(app, "vinhtd")
    response = client.get("/to-chuyen-mon")
    assert response.status_code == 200
    doc = _doc(response)
    assert "Tổ Toán – Tin" in doc.text_content()
    headings = [h.text_content() for h in doc.xpath("//main//h3")]
    assert headings == ["Toán", "Tin học"]
    links = {a.get("href") for a in doc.xpath("//a[contains(@class, 'rv-pair-link')]")}
    assert _sheet_url(session, "6A1", "toan") in links
    assert _sheet_url(session, "9A2", "tinhoc", "hk2") in links
    assert len(links) == 8 * 2 * 2
    assert "0/180" in doc.text_content()


@pytest.mark.parametrize("class_name, code", [("6A1", "toan"), ("9A2", "toan"), ("7A1", "tinhoc"), ("8A2", "tinhoc")])
def test_department_head_reads_his_subjects_in_any_class_read_only(app, session, class_name, code):
    klass = current_class(session, class_name)
    student = roster(session, klass)[0]
    fill_student(session, klass, student) if class_name == "7A1" else None
    client = _login(app, "vinhtd")
    for term in ("hk1", "hk2"):
        response = client.get(_sheet_url(session, class_name, code, term))
        assert response.status_code == 200
        doc = _doc(response)
        grid = doc.get_element_by_id("rv-grid")
        assert _editable(grid) == [], "the grid must not be editable"
        assert len(grid.xpath(".//tbody/tr")) == 30
        assert student.full_name in grid.text_content()
        assert "Chỉ xem" in doc.text_content()
    if class_name == "7A1":
        # A filled row shows its values and its averages; the others are highlighted as missing.
        row = grid.xpath(".//tbody/tr")[0]
        assert "8" in [td.text_content().strip() for td in row.xpath("./td")]
        assert "rv-missing" in grid.xpath(".//tbody/tr")[1].xpath("./td")[0].get("class")


def test_department_head_gets_403_outside_his_department(app, session):
    client = _login(app, "vinhtd")
    assert client.get(_sheet_url(session, "6A1", "van")).status_code == 403
    assert client.get(_sheet_url(session, "8A1", "khtn")).status_code == 403
    response = client.post(_sheet_url(session, "6A1", "van", suffix="/danh-dau"), data={"note": "x"})
    assert response.status_code == 403
    assert _flags(session) == 0


@pytest.mark.parametrize("username", ["hieutruong", "phohieutruong"])
def test_leaders_read_a_sheet_without_any_form(app, session, username):
    client = _login(app, username)
    response = client.get(_sheet_url(session, "6A1", "toan"))
    assert response.status_code == 200
    main = _doc(response).get_element_by_id("main")
    assert _editable(main) == []
    assert main.xpath(".//form") == []
    response = client.post(_sheet_url(session, "6A1", "toan", suffix="/danh-dau"), data={"note": "Xem lại"})
    assert response.status_code == 403
    assert _flags(session) == 0


@pytest.mark.parametrize("username", ["hoant", "tuanlm", "vanthu", "phuhuynh1", "quantri"])
def test_others_cannot_open_the_department_screens(app, session, username):
    client = _login(app, username)
    assert client.get("/to-chuyen-mon").status_code == 403
    assert client.get(_sheet_url(session, "6A1", "toan")).status_code == 403


def test_unknown_term_or_pair_is_404(app, session):
    client = _login(app, "vinhtd")
    assert client.get(_sheet_url(session, "6A1", "toan", "hk3")).status_code == 404
    klass6, klass9 = current_class(session, "6A1"), current_class(session, "9A1")
    # Toán of grade 9 is not a subject of a grade-6 class.
    assert client.get(f"/to-chuyen-mon/{klass6.id}/{subject(session, klass9, 'toan').id}/hk1").status_code == 404


def test_flag_a_cell_then_the_teacher_resolves_it(app, session):
    klass = current_class(session, "6A1")
    student = roster(session, klass)[4]
    head = _login(app, "vinhtd")
    url = _sheet_url(session, "6A1", "toan")
    # The cell's link preselects the student and the slot in the form.
    form = _doc(head.get(f"{url}?hs={student.id}&o=gk")).get_element_by_id("danh-dau")
    assert form.xpath(".//select[@name='student_id']/option[@selected]")[0].get("value") == str(student.id)
    assert form.xpath(".//select[@name='slot']/option[@selected]")[0].get("value") == "gk"

    response = head.post(f"{url}/danh-dau", data={"student_id": str(student.id), "slot": "gk",
                                                  "note": "Điểm giữa kì 2,0 có nhập nhầm không?"})
    assert response.status_code == 302
    flag = session.exec(select(Flag)).one()
    assert (flag.class_id, flag.subject_id, flag.term) == (klass.id, subject(session, klass, "toan").id, "hk1")
    assert (flag.student_id, flag.slot, flag.status) == (student.id, "gk", "open")
    page = _doc(head.get(url))
    assert "Điểm giữa kì 2,0 có nhập nhầm không?" in page.get_element_by_id("ghi-chu").text_content()
    flagged = page.get_element_by_id("rv-grid").xpath(".//td[contains(@class, 'rv-flagged')]")
    assert len(flagged) == 1
    assert "1 ghi chú chưa xử lý" in _doc(head.get("/to-chuyen-mon")).text_content()

    other = _login(app, "tuanlm")  # teaches Tin học to 6A1, not Toán
    assert other.post(f"/danh-dau/{flag.id}/xu-ly").status_code == 403
    session.expire_all()
    assert session.get(Flag, flag.id).status == "open"

    teacher = _login(app, "hoant")
    response = teacher.post(f"/danh-dau/{flag.id}/xu-ly", data={"resolution": "Đã sửa thành 7,0.",
                                                               "next": "/giang-day/x"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/giang-day/x")
    session.expire_all()
    flag = session.get(Flag, flag.id)
    assert flag.status == "resolved"
    assert flag.resolved_by == user(session, "hoant").id
    assert flag.resolution == "Đã sửa thành 7,0."
    assert flag.resolved_at is not None
    page = _doc(head.get(url))
    assert page.get_element_by_id("rv-grid").xpath(".//td[contains(@class, 'rv-flagged')]") == []
    assert "Đã xử lý (1)" in page.text_content()
    # Closing twice is refused.
    assert teacher.post(f"/danh-dau/{flag.id}/xu-ly").status_code == 409


def test_resolve_over_htmx_returns_the_flags_fragment(app, session):
    head = _login(app, "vinhtd")
    url = _sheet_url(session, "6A1", "toan", "hk2")
    assert head.post(f"{url}/danh-dau", data={"note": "Thiếu điểm TX4 của cả lớp."}).status_code == 302
    flag = session.exec(select(Flag)).one()
    teacher = _login(app, "hoant")
    response = teacher.post(f"/danh-dau/{flag.id}/xu-ly", headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = lxml.html.fragment_fromstring(response.get_data(as_text=True))
    assert fragment.get("id") == f"flag-{flag.id}"
    assert "Đã xử lý" in fragment.text_content()
    assert "Cả bảng điểm" in fragment.text_content()


def test_redirect_after_resolving_stays_on_this_site(app, session):
    head = _login(app, "vinhtd")
    url = _sheet_url(session, "6A1", "toan")
    head.post(f"{url}/danh-dau", data={"note": "Xem lại"})
    flag = session.exec(select(Flag)).one()
    response = _login(app, "hoant").post(f"/danh-dau/{flag.id}/xu-ly", data={"next": "https://evil.example/x"})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


@pytest.mark.parametrize("note, message", [("", "Vui lòng nhập nội dung ghi chú cho giáo viên."),
                                           ("   ", "Vui lòng nhập nội dung ghi chú cho giáo viên."),
                                           ("x" * 1001, "vượt quá 1000 ký tự cho phép")])
def test_a_bad_note_is_refused_in_vietnamese_and_nothing_is_written(app, session, note, message):
    klass = current_class(session, "6A1")
    student = roster(session, klass)[0]
    client = _login(app, "vinhtd")
    response = client.post(_sheet_url(session, "6A1", "toan", suffix="/danh-dau"),
                           data={"student_id": str(student.id), "slot": "tx2", "note": note})
    assert response.status_code == 422
    doc = _doc(response)
    assert message in doc.get_element_by_id("flag-error").text_content()
    form = doc.get_element_by_id("danh-dau")  # the form keeps what was chosen
    assert form.xpath(".//select[@name='slot']/option[@selected]")[0].get("value") == "tx2"
    assert _flags(session) == 0


def test_department_head_cannot_resolve_outside_his_department(app, session):
    head = _login(app, "vinhtd")
    head.post(_sheet_url(session, "6A1", "toan", suffix="/danh-dau"), data={"note": "Xem lại"})
    flag = session.exec(select(Flag)).one()
    # The head of Tổ Ngữ văn – KHXH teaches nothing in Toán.
    assert _login(app, "thuydt").post(f"/danh-dau/{flag.id}/xu-ly").status_code == 403
    assert _login(app, "hieutruong").post(f"/danh-dau/{flag.id}/xu-ly").status_code == 403
    assert _login(app, "hoant").post("/danh-dau/999999/xu-ly").status_code == 403
    assert head.post(f"/danh-dau/{flag.id}/xu-ly").status_code == 302


# --- Summaries -------------------------------------------------------------------------------------------


@pytest.fixture
def filled(session):
    klass = current_class(session, "6A1")
    s = roster(session, klass)
    fill_student(session, klass, s[0], score="9", conduct=("T", "T"))
    fill_student(session, klass, s[1], score="7", conduct=("K", "K"))
    fill_student(session, klass, s[2], score="4", conduct=("T", "D"))
    return klass, s


def _row(doc, table_id, label):
    section = doc.get_element_by_id(table_id)
    for tr in section.xpath(".//tbody/tr"):
        if tr.xpath("./th")[0].text_content().strip() == label:
            return [td.text_content().strip() for td in tr.xpath("./td[not(contains(@class, 'rv-dist-col'))]")]
    raise AssertionError(f"no row {label} in {table_id}")


def test_summary_counts_per_level(app, session, filled):
    client = _login(app, "hieutruong")
    doc = _doc(client.get("/tong-hop?ky=year"))
    # Sĩ số, Tốt, Khá, Đạt, Chưa đạt, Chưa đủ dữ liệu
    assert _row(doc, "hoc-tap", "6A1") == ["30", "1", "1", "0", "1", "27"]
    assert _row(doc, "hoc-tap", "6A2") == ["30", "0", "0", "0", "0", "30"]
    assert _row(doc, "hoc-tap", "Khối 6")[0:2] == ["60", "12%"]
    assert _row(doc, "hoc-tap", "Toàn trường")[0] == "240"
    assert _row(doc, "ren-luyen", "6A1") == ["30", "1", "2", "0", "0", "27"]
    # Lên lớp, Kiểm tra lại, Rèn luyện hè, Ở lại, Chưa xác định, HS Xuất sắc, HS Giỏi
    assert _row(doc, "cuoi-nam", "6A1") == ["30", "2", "1", "0", "0", "27", "1", "0"]
    headers = [th.text_content().strip() for th in doc.get_element_by_id("hoc-tap").xpath(".//thead//th")]
    assert headers == ["Lớp", "Sĩ số", "Tốt", "Khá", "Đạt", "Chưa đạt", "Chưa đủ dữ liệu", "Tỉ lệ"]

    hk1 = _doc(client.get("/tong-hop?ky=hk1"))
    assert _row(hk1, "ren-luyen", "6A1") == ["30", "2", "1", "0", "0", "27"]
    assert "cuoi-nam" not in hk1.get_element_by_id("main").xpath(".//@id")
    assert client.get("/tong-hop?ky=hk9").status_code == 404


def test_summary_links_each_class(app, session):
    doc = _doc(_login(app, "phohieutruong").get("/tong-hop?ky=hk2"))
    klass = current_class(session, "8A2")
    assert f"/tong-hop/lop/{klass.id}?ky=hk2" in {a.get("href") for a in doc.xpath("//a")}


@pytest.mark.parametrize("username", ["tuanlm", "hoant", "vinhtd", "vanthu", "phuhuynh1", "quantri"])
def test_summary_is_for_leaders_only(app, session, username):
    client = _login(app, username)
    assert client.get("/tong-hop").status_code == 403
    assert client.get("/tong-hop/year.xlsx").status_code == 403


def test_homeroom_sees_her_class_summary_only(app, session):
    client = _login(app, "hoant")
    own, other = current_class(session, "6A1"), current_class(session, "9A2")
    assert client.get(f"/tong-hop/lop/{own.id}").status_code == 200
    assert client.get(f"/tong-hop/lop/{own.id}/hk1.xlsx").status_code == 200
    assert client.get(f"/tong-hop/lop/{other.id}").status_code == 403
    assert client.get(f"/tong-hop/lop/{other.id}/hk1.xlsx").status_code == 403
    for username in ("tuanlm", "vanthu", "phuhuynh1", "vinhtd"):
        assert _login(app, username).get(f"/tong-hop/lop/{own.id}").status_code == 403


def test_class_summary_page(app, session, filled):
    klass, students = filled
    doc = _doc(_login(app, "hieutruong").get(f"/tong-hop/lop/{klass.id}?ky=year"))
    table = doc.get_element_by_id("bang-tong-hop")
    rows = table.xpath(".//tbody/tr")
    assert len(rows) == 30
    headers = [th.text_content().strip() for th in table.xpath(".//thead//th")]
    assert headers[:3] == ["Học sinh", "Văn", "Toán"]
    assert headers[-6:] == ["Học tập", "Rèn luyện", "Nghỉ P", "Nghỉ K", "Danh hiệu", "Quyết định"]
    first = [td.text_content().strip() for td in rows[0].xpath("./td")]
    assert first[:2] == ["9,0", "9,0"]
    assert first[-6:] == ["Tốt", "Tốt", "0", "0", "Xuất sắc", "Lên lớp"]
    third = [td.text_content().strip() for td in rows[2].xpath("./td")]
    assert third[-6:] == ["Chưa đạt", "Khá", "0", "0", "", "Kiểm tra lại"]
    empty = rows[5].xpath("./td")
    assert "rv-missing" in empty[0].get("class")


def _xlsx(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+\.xlsx"', disposition), disposition
    return load_workbook(BytesIO(response.data))


def _rows(ws):
    return [[c for c in row] for row in ws.iter_rows(values_only=True)]


def test_class_summary_xlsx(app, session, filled):
    klass, students = filled
    year = klass.school_year_id
    client = _login(app, "hieutruong")
    response = client.get(f"/tong-hop/lop/{klass.id}/year.xlsx")
    assert "tong-hop-6A1-year-" in response.headers["Content-Disposition"]
    ws = _xlsx(response).active
    rows = _rows(ws)
    titles = " ".join(str(r[0]) for r in rows[:4])
    assert "TRƯỜNG THCS HOA LƯ" in titles and "BẢNG TỔNG HỢP KẾT QUẢ ĐÁNH GIÁ" in titles
    assert "Lớp 6A1" in titles and "Cả năm" in titles and "Năm học" in titles
    header_index = next(i for i, r in enumerate(rows) if r[0] == "STT")
    header = rows[header_index]
    assert header[:4] == ["STT", "Mã học sinh", "Họ và tên", "Ngữ văn"]
    for heading in ("Toán", "Giáo dục thể chất", "Kết quả học tập", "Kết quả rèn luyện", "Nghỉ có phép",
                    "Nghỉ không phép", "Danh hiệu", "Quyết định cuối năm"):
        assert heading in header
    body = [r for r in rows[header_index + 1:] if isinstance(r[0], int)]
    assert [r[2] for r in body] == [s.full_name for s in students]
    assert len(body) == 30
    first = dict(zip(header, body[0], strict=False))
    assert float(first["Toán"]) == 9.0 and first["Giáo dục thể chất"] == "Đạt"
    assert first["Kết quả học tập"] == "Tốt" and first["Danh hiệu"] == "Học sinh Xuất sắc"
    assert first["Quyết định cuối năm"] == "Được lên lớp"
    assert dict(zip(header, body[10], strict=False))["Kết quả học tập"] == "Chưa đủ dữ liệu"
    assert year

    hk1 = _rows(_xlsx(client.get(f"/tong-hop/lop/{klass.id}/hk1.xlsx")).active)
    assert any("Học kì I" in str(r[0]) for r in hk1[:4])
    assert "Quyết định cuối năm" not in next(r for r in hk1 if r[0] == "STT")
    assert client.get(f"/tong-hop/lop/{klass.id}/hk3.xlsx").status_code == 404


def test_school_summary_xlsx(app, session, filled):
    response = _login(app, "hieutruong").get("/tong-hop/year.xlsx")
    assert "tong-hop-toan-truong-year-" in response.headers["Content-Disposition"]
    ws = _xlsx(response).active
    rows = _rows(ws)
    assert "TRƯỜNG THCS HOA LƯ" in str(rows[0][0]) and "Cả năm" in str(rows[2][0])
    header = next(r for r in rows if r[0] == "Lớp")
    assert "Học tập: Tốt" in header and "Rèn luyện: Chưa đủ dữ liệu" in header and "Được lên lớp" in header
    by_class = {r[0]: dict(zip(header, r, strict=False)) for r in rows if r[0]}
    assert by_class["6A1"]["Sĩ số"] == 30 and by_class["6A1"]["Học tập: Tốt"] == 1
    assert by_class["6A1"]["Kiểm tra lại"] == 1 and by_class["6A1"]["Học sinh Xuất sắc"] == 1
    assert by_class["Cộng khối 6"]["Sĩ số"] == 60
    assert by_class["Toàn trường"]["Sĩ số"] == 240
    assert by_class["Toàn trường"]["Học tập: Chưa đủ dữ liệu"] == 237
    names = [name for name in by_class if re.fullmatch(r"\d[A-Z]\d", name)]
    assert names == ["6A1", "6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]


def test_home_sections_link_to_the_review_screens(app, session):
    doc = _doc(_login(app, "vinhtd").get("/"))
    assert "/to-chuyen-mon" in {a.get("href") for a in doc.get_element_by_id("home-department_head").xpath(".//a")}
    doc = _doc(_login(app, "hieutruong").get("/"))
    links = {a.get("href") for a in doc.get_element_by_id("home-principal").xpath(".//a")}
    assert "/tong-hop" in links
    assert f"/tong-hop/lop/{current_class(session, '9A2').id}" in links
