"""Homeroom pages: overview, conduct entry, year end; saving through the single write path; access by scope."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import select

from portal.gradebook.service import student_result
from portal.models import StudentRecord
from tests.homeroom.data import demo_year, fill_subjects, set_record, set_year

HX = {"HX-Request": "true"}


def stored(session, student, term, key):
    session.expire_all()
    row = session.exec(select(StudentRecord).where(StudentRecord.student_id == student.id,
                                                   StudentRecord.term == term, StudentRecord.key == key)).first()
    return row


def row_html(body: str, student) -> str:
    """The overview's table row of one student."""
    match = re.search(rf'<tr id="hr-row-{student.id}">(.*?)</tr>', body, re.S)
    assert match, f"no row for {student.full_name}"
    return match.group(1)


def card_html(body: str, student) -> str:
    """The year-end card of one student."""
    match = re.search(rf'<article class="card hr-student" id="hr-student-{student.id}">(.*?)</article>', body, re.S)
    assert match, f"no card for {student.full_name}"
    return match.group(1)


def save(client, klass, student, term, key, value, version=0, headers=HX):
    return client.post(f"/chu-nhiem/{klass.id}/ghi", headers=headers,
                       data={"student_id": student.id, "term": term, "key": key, "value": value, "version": version})


# --- Overview ----------------------------------------------------------------------------------------------


def test_overview_lists_the_class_and_highlights_missing_data(login_as, klass, roster):
    response = login_as("homeroom").get(f"/chu-nhiem/{klass.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Lớp 6A1 · Tổng hợp kết quả" in body
    assert len(re.findall(r'<tr id="hr-row-\d+">', body)) == 30
    for student in roster:
        assert html.escape(student.full_name) in body
    # Nothing is entered in the demo: every subject cell is highlighted and says what is missing.
    first = row_html(body, roster[0])
    assert first.count("hr-missing") >= 13
    assert 'title="Còn thiếu: đánh giá thường xuyên, giữa kì, cuối kì (HK I)' in first
    assert "30</strong> Chưa đủ dữ liệu" in body
    assert "Ngữ văn</strong>: 30 học sinh chưa đủ điểm · GV: Hoàng Thị Thu Lan" in body


def test_overview_shows_the_engine_results_of_a_complete_student(login_as, session, klass, roster):
    student = roster[0]
    fill_subjects(session, klass, student, overrides={"toan": "9", "van": "9.5"})
    set_year(session, klass, student, conduct=("K", "T"), absences=(1, 0, 2, 0))
    expected = student_result(session, student_id=student.id, klass=klass)
    assert (expected["learning"]["year"], expected["conduct"]["year"], expected["decision"]) == ("T", "T", "len_lop")
    assert expected["incomplete"] == []

    client = login_as("homeroom")
    row = row_html(client.get(f"/chu-nhiem/{klass.id}").get_data(as_text=True), student)
    assert "hr-missing" not in row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[:4] == ["Tốt", "Tốt", "3", "Được lên lớp"]
    assert "9,5" in cells and "9,0" in cells and "Đ" in cells

    hk1 = row_html(client.get(f"/chu-nhiem/{klass.id}?ky=hk1").get_data(as_text=True), student)
    assert re.findall(r"<td[^>]*>(.*?)</td>", hk1, re.S)[:3] == ["Tốt", "Khá", "1"]

    page = client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True)
    card = card_html(page, student)
    assert "Được lên lớp" in card and "Học sinh Giỏi" in card
    assert expected["explain"]
    for sentence in expected["explain"]:
        assert html.escape(sentence, quote=False) in card


def test_absences_over_45_mean_not_promoted(login_as, session, klass, roster):
    student = roster[3]
    set_record(session, klass, student, "hk1", "absences_excused", "46")
    for term, key in (("hk1", "absences_unexcused"), ("hk2", "absences_excused"), ("hk2", "absences_unexcused")):
        set_record(session, klass, student, term, key, "0")
    client = login_as("homeroom")
    row = row_html(client.get(f"/chu-nhiem/{klass.id}").get_data(as_text=True), student)
    assert "Không được lên lớp" in row
    assert '<td class="num hr-low">46</td>' in row
    card = card_html(client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True), student)
    assert "Không được lên lớp" in card and "46 buổi" in card
    filtered = client.get(f"/chu-nhiem/{klass.id}/cuoi-nam?loc=o_lai").get_data(as_text=True)
    assert filtered.count('class="card hr-student"') == 1


# --- Conduct entry ------------------------------------------------------------------------------------------


def test_conduct_page_has_a_self_saving_field_per_student(login_as, klass, roster):
    response = login_as("homeroom").get(f"/chu-nhiem/{klass.id}/ren-luyen/hk1")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Lớp 6A1 · Rèn luyện Học kì I" in body
    for student in roster:
        for key in ("conduct", "absences_excused", "absences_unexcused"):
            assert f'id="hr-{student.id}-hk1-{key}"' in body
    assert body.count(f'hx-post="/chu-nhiem/{klass.id}/ghi"') == 90
    assert body.count('hx-trigger="change"') == 90
    assert '<option value="CD">Chưa đạt</option>' in body


def test_conduct_without_a_term_opens_the_current_term(login_as, klass):
    response = login_as("homeroom").get(f"/chu-nhiem/{klass.id}/ren-luyen")
    assert response.status_code == 302
    assert re.search(rf"/chu-nhiem/{klass.id}/ren-luyen/hk[12]$", response.headers["Location"])
    assert login_as("homeroom").get(f"/chu-nhiem/{klass.id}/ren-luyen/hk3").status_code == 404


def test_saving_a_conduct_level(login_as, session, klass, roster):
    student = roster[0]
    client = login_as("homeroom")
    response = save(client, klass, student, "hk1", "conduct", "T")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<form id="hr-{student.id}-hk1-conduct"')
    assert "<html" not in body
    assert '<option value="T" selected>Tốt</option>' in body
    assert 'name="version" value="1"' in body and "Đã lưu." in body
    assert "HX-Request" in response.headers["Vary"]
    # The page's count of students entered so far is refreshed out of band.
    assert '<p id="hr-complete" class="muted small" role="status" hx-swap-oob="true">' in body
    assert "mức rèn luyện: <strong>1/30</strong>" in body
    row = stored(session, student, "hk1", "conduct")
    assert (row.value, row.version) == ("T", 1)


def test_an_invalid_conduct_level_is_refused_and_nothing_is_stored(login_as, session, klass, roster):
    student = roster[0]
    response = save(login_as("homeroom"), klass, student, "hk1", "conduct", "X")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "“X” không hợp lệ. Nhập T (Tốt), K (Khá), Đ (Đạt) hoặc CĐ (Chưa đạt)." in body
    assert 'aria-invalid="true"' in body and 'name="version" value="0"' in body
    assert stored(session, student, "hk1", "conduct") is None


def test_an_invalid_absence_count_keeps_the_saved_value(login_as, session, klass, roster):
    student = roster[0]
    client = login_as("homeroom")
    assert save(client, klass, student, "hk2", "absences_unexcused", "3").status_code == 200
    response = save(client, klass, student, "hk2", "absences_unexcused", "ba", version=1)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "“ba” không hợp lệ. Nhập số buổi là số nguyên từ 0 đến 200." in body
    assert 'value="3"' in body
    assert stored(session, student, "hk2", "absences_unexcused").value == "3"


def test_a_stale_version_is_refused_with_the_current_value(login_as, session, klass, roster):
    student = roster[0]
    set_record(session, klass, student, "hk1", "conduct", "K")  # someone saved K (version 1)
    response = save(login_as("homeroom"), klass, student, "hk1", "conduct", "T", version=0)
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Nguyễn Thị Hoa vừa sửa ô này thành “K”" in body and "chưa được lưu" in body
    assert '<option value="K" selected>Khá</option>' in body and 'name="version" value="1"' in body
    row = stored(session, student, "hk1", "conduct")
    assert (row.value, row.version) == ("K", 1)


def test_a_post_without_htmx_redirects_back_with_a_message(login_as, session, klass, roster):
    student = roster[1]
    client = login_as("homeroom")
    response = save(client, klass, student, "hk2", "absences_excused", "4", headers={})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/chu-nhiem/{klass.id}/ren-luyen/hk2")
    assert stored(session, student, "hk2", "absences_excused").value == "4"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã lưu." in page
    response = client.post(f"/chu-nhiem/{klass.id}/ghi", data={
        "student_id": student.id, "term": "hk2", "key": "absences_excused", "value": "x", "version": 1,
        "next": f"/chu-nhiem/{klass.id}/ren-luyen/hk2?a=1"})
    assert response.headers["Location"].endswith(f"/chu-nhiem/{klass.id}/ren-luyen/hk2?a=1")
    assert "Chưa lưu: “x” không hợp lệ" in client.get(response.headers["Location"]).get_data(as_text=True)
    # An outside address is never followed.
    response = client.post(f"/chu-nhiem/{klass.id}/ghi", data={
        "student_id": student.id, "term": "year", "key": "homeroom_comment", "value": "Tốt", "version": 0,
        "next": "https://example.com/"})
    assert response.headers["Location"].endswith(f"/chu-nhiem/{klass.id}/cuoi-nam")


@pytest.mark.parametrize("form", [
    {"term": "hk1", "key": "homeroom_comment"},  # a per-year key in a term
    {"term": "hk3", "key": "conduct"},
    {"term": "hk1", "key": "yeu_nuoc"},  # a primary rating in a secondary class
])
def test_unknown_entries_are_not_found(login_as, session, klass, roster, form):
    response = save(login_as("homeroom"), klass, roster[0], form["term"], form["key"], "T")
    assert response.status_code == 404
    assert session.exec(select(StudentRecord)).first() is None


def test_a_student_of_another_class_is_not_found(login_as, session, klass):
    from portal.gradebook.service import class_roster
    from tests.factories import current_class

    other = class_roster(session, current_class(session, "6A2").id)[0][1]
    response = save(login_as("homeroom"), klass, other, "hk1", "conduct", "T")
    assert response.status_code == 404
    assert stored(session, other, "hk1", "conduct") is None


# --- Year end -------------------------------------------------------------------------------------------


def test_year_end_shows_retakes_and_who_enters_them(login_as, session, klass, roster):
    from tests.homeroom.data import set_retake

    demo_year(session, klass, roster)
    client = login_as("homeroom")
    card = card_html(client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True), roster[1])
    assert "Kiểm tra lại" in card and "Chưa đạt" in card
    assert "Chờ Hoàng Thị Thu Lan nhập" in card and "Chờ Bùi Thị Ngọc nhập" in card
    set_retake(session, klass, roster[1], "van", "6")
    card = card_html(client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True), roster[1])
    assert "Chờ Hoàng Thị Thu Lan nhập" not in card and "Chờ Bùi Thị Ngọc nhập" in card
    assert "còn 1" in card
    set_retake(session, klass, roster[1], "anh", "5.5")
    card = card_html(client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True), roster[1])
    assert "Chờ" not in card
    assert "Học tập sau kiểm tra lại: <strong>Đạt</strong>" in card
    assert "Được lên lớp" in card


def test_summer_training_is_entered_on_the_year_end_page(login_as, session, klass, roster):
    student = roster[4]
    fill_subjects(session, klass, student)
    set_year(session, klass, student, conduct=("CD", "CD"))
    client = login_as("homeroom")
    card = card_html(client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True), student)
    assert "Rèn luyện trong kì nghỉ hè" in card
    assert f'id="hr-{student.id}-year-conduct_retrained"' in card
    response = save(client, klass, student, "year", "conduct_retrained", "D")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    # The field, and the student's decision refreshed out of band.
    assert f'<div id="hr-decision-{student.id}" class="hr-decision" hx-swap-oob="true">' in body
    assert "Rèn luyện sau kì nghỉ hè: <strong>Đạt</strong>" in body and "Được lên lớp" in body
    assert stored(session, student, "year", "conduct_retrained").value == "D"


def test_homeroom_comment_and_award_note_save(login_as, session, klass, roster):
    student = roster[0]
    client = login_as("homeroom")
    page = client.get(f"/chu-nhiem/{klass.id}/cuoi-nam").get_data(as_text=True)
    assert f'id="hr-{student.id}-year-homeroom_comment"' in page and f'id="hr-{student.id}-year-award_note"' in page
    response = save(client, klass, student, "year", "homeroom_comment", "  Chăm ngoan,\n học tốt.  ")
    assert response.status_code == 200
    assert ">Chăm ngoan, học tốt.</textarea>" in response.get_data(as_text=True)
    assert save(client, klass, student, "year", "award_note", "Đề nghị khen Học sinh Tiêu biểu").status_code == 200
    assert stored(session, student, "year", "homeroom_comment").value == "Chăm ngoan, học tốt."
    assert stored(session, student, "year", "award_note").value == "Đề nghị khen Học sinh Tiêu biểu"
    assert save(client, klass, student, "year", "award_note", "x" * 2001, version=1).status_code == 422


# --- Access -------------------------------------------------------------------------------------------------


PAGES = ["/chu-nhiem/{id}", "/chu-nhiem/{id}?ky=hk2", "/chu-nhiem/{id}/ren-luyen/hk1", "/chu-nhiem/{id}/ren-luyen",
         "/chu-nhiem/{id}/cuoi-nam"]


@pytest.mark.parametrize("username", ["lanhtt", "tuanlm", "vinhtd", "quantri", "vanthu", "phuhuynh1"])
def test_others_get_403_on_the_pages_and_writes(login_as, session, klass, roster, username):
    client = login_as(username=username)
    for page in PAGES:
        assert client.get(page.format(id=klass.id)).status_code == 403, page
    assert save(client, klass, roster[0], "hk1", "conduct", "T").status_code == 403
    assert save(client, klass, roster[0], "hk1", "conduct", "T", headers={}).status_code == 403
    assert stored(session, roster[0], "hk1", "conduct") is None


@pytest.mark.parametrize("role", ["principal", "vice_principal"])
def test_leaders_read_but_do_not_write(login_as, session, klass, roster, role):
    client = login_as(role)
    for page in PAGES:
        response = client.get(page.format(id=klass.id), follow_redirects=True)
        assert response.status_code == 200, page
    conduct = client.get(f"/chu-nhiem/{klass.id}/ren-luyen/hk1").get_data(as_text=True)
    assert "Bạn đang xem. Chỉ giáo viên chủ nhiệm lớp 6A1 được nhập" in conduct
    assert "hx-post" not in conduct and " disabled>" in conduct
    assert save(client, klass, roster[0], "hk1", "conduct", "T").status_code == 403
    assert stored(session, roster[0], "hk1", "conduct") is None


def test_homeroom_of_another_class_reads_and_writes_their_own(login_as, session, roster):
    from portal.gradebook.service import class_roster
    from tests.factories import current_class

    other = current_class(session, "6A2")
    student = class_roster(session, other.id)[0][1]
    client = login_as(username="lanhtt")
    assert client.get(f"/chu-nhiem/{other.id}").status_code == 200
    assert save(client, other, student, "hk1", "conduct", "K").status_code == 200
    assert stored(session, student, "hk1", "conduct").value == "K"


def test_home_tile_links_to_the_homeroom_pages(login_as, klass):
    body = login_as("homeroom").get("/").get_data(as_text=True)
    for url in (f"/chu-nhiem/{klass.id}", f"/chu-nhiem/{klass.id}/ren-luyen", f"/chu-nhiem/{klass.id}/cuoi-nam"):
        assert f'href="{url}"' in body
