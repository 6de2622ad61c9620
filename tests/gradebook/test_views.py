"""The subject teacher's screens through HTTP: the list of pairs, the grid, and the cell-saving contract.

save_cell's contract (also used by bench/grade_load.py): 200 with the cell fragment whose root carries
data-version="<new version>"; 422 with the message in the fragment; 409 with the current value and its
version; 403 out of scope; 404 for a student or slot that is not on the sheet.
"""

from __future__ import annotations

import re

import lxml.html
import pytest
from sqlmodel import func, select

from portal.db import new_session
from portal.gradebook import service
from portal.models import Assessment, Flag, Subject, SubjectComment, TeachingAssignment, User
from tests.conftest import DEMO_PASSWORD
from tests.factories import current_class

HTMX = {"HX-Request": "true"}
ROW_HK1 = {"tx1": "8", "tx2": "7,5", "tx3": "9", "tx4": "8", "gk": "7,5", "ck": "8"}  # → 7,9 (ASSESSMENT.md)
ROW_HK2 = {"tx1": "6", "tx2": "6", "tx3": "6", "tx4": "6", "gk": "6", "ck": "6"}  # → 6,0; year (7,9 + 2·6,0)/3 → 6,6


def html(response) -> str:
    return response.get_data(as_text=True)


_SIMPLE = re.compile(r"([\w*-]*)((?:[.#][\w-]+|\[[^\]]+\])*)")


def _xpath(selector: str) -> str:
    """Translate the few CSS selectors these tests use (tag, .class, #id, [a=v], [a$=v], ' ', '>') to XPath."""
    path, axis = ".", "//"
    for token in selector.replace(">", " > ").split():
        if token == ">":
            axis = "/"
            continue
        tag, rest = _SIMPLE.fullmatch(token).groups()
        conditions = []
        for part in re.findall(r"[.#][\w-]+|\[[^\]]+\]", rest):
            if part[0] == ".":
                conditions.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {part[1:]} ')")
            elif part[0] == "#":
                conditions.append(f"@id='{part[1:]}'")
            else:
                name, op, value = re.fullmatch(r"\[([\w-]+)(\$?=)?(.*)\]", part).groups()
                value = value.strip("'\"")
                conditions.append(f"@{name}" if not op else f"@{name}='{value}'" if op == "=" else
                                  f"substring(@{name}, string-length(@{name}) - {len(value) - 1})='{value}'")
        path += axis + (tag or "*") + "".join(f"[{c}]" for c in conditions)
        axis = "//"
    return path


def q(element, selector: str) -> list:
    """The elements under element that match a (small) CSS selector."""
    return element.xpath(_xpath(selector))


def page(response):
    return lxml.html.document_fromstring(html(response))


def fragments(response) -> list:
    return lxml.html.fragments_fromstring(html(response).strip())


def pair(session, class_name: str = "6A1", code: str = "toan") -> dict:
    klass = current_class(session, class_name)
    subject = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == code)).one()
    return {"class_id": klass.id, "subject_id": subject.id}


def students(session, class_id: int) -> list[int]:
    return [s.id for _, s in service.class_roster(session, class_id)]


def grid_url(ids: dict, term: str = "hk1") -> str:
    return f"/giang-day/{ids['class_id']}/{ids['subject_id']}/{term}"


def post_cell(client, ids, student_id, slot, value, version, term="hk1", headers=HTMX):
    return client.post(grid_url(ids, term) + "/o", headers=headers,
                       data={"student_id": str(student_id), "slot": slot, "value": value, "version": str(version)})


def cell_count(app) -> int:
    with new_session(write=False, app=app) as s:
        return s.exec(select(func.count()).select_from(Assessment)).one()


def stored(app, student_id, ids, slot, term="hk1") -> Assessment | None:
    with new_session(write=False, app=app) as s:
        return s.exec(select(Assessment).where(Assessment.student_id == student_id,
                                               Assessment.subject_id == ids["subject_id"], Assessment.term == term,
                                               Assessment.slot == slot)).first()


def sign_in(app, username: str):
    """A second, independent browser (its own cookies) signed in as username."""
    client = app.test_client()
    assert client.post("/dang-nhap", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return client


def root(response):
    """The fragment's root element (the cell's form) and the out-of-band elements that follow it."""
    elements = fragments(response)
    return elements[0], {e.get("id"): e for e in elements[1:] if e.get("hx-swap-oob") == "true"}


# --- The list of pairs -----------------------------------------------------------------------------------


def test_index_lists_the_teachers_pairs_with_completeness_and_flags(app, session, login_as):
    client = login_as("homeroom")  # hoant: Toán 6A1, 6A2, 7A1, 7A2 and HĐTN 6A1
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    for slot, value in list(ROW_HK1.items())[:3]:
        assert post_cell(client, ids, first, slot, value, 0).status_code == 200
    hoa = session.exec(select(User).where(User.username == "vinhtd")).one()
    session.add(Flag(**ids, term="hk1", student_id=first, slot="tx1", note="Xem lại", created_by=hoa.id))
    session.add(Flag(**ids, term="hk1", note="Đã xong", status="resolved", created_by=hoa.id))

    response = client.get("/giang-day")
    assert response.status_code == 200
    doc = page(response)
    tiles = q(doc, ".gb-pair")
    assert [q(t, "h2")[0].text_content() for t in tiles] == [
        "6A1 · Toán", "6A1 · Hoạt động trải nghiệm, hướng nghiệp", "6A2 · Toán", "7A1 · Toán", "7A2 · Toán"]
    toan = doc.get_element_by_id(f"pair-{ids['class_id']}-{ids['subject_id']}")
    links = [a.get("href") for a in q(toan, "a.gb-term-link")]
    assert links == [grid_url(ids, "hk1"), grid_url(ids, "hk2")]
    counts = [c.text_content().split(" ô")[0] for c in q(toan, ".gb-term-count")]
    assert counts == ["3/180", "0/180"]
    bars = q(toan, ".progress > span")
    assert [b.get("style") for b in bars] == ["width: 1%", "width: 0%"]
    assert "1 ghi chú" in toan.text_content()  # the open flag only
    other = doc.get_element_by_id(f"pair-{ids['class_id']}-{pair(session, '6A1', 'hdtn')['subject_id']}")
    assert "ghi chú" not in other.text_content()


def test_index_of_a_teacher_of_eight_classes(login_as):
    doc = page(login_as("teacher").get("/giang-day"))  # tuanlm: Tin học in all 8 classes, 2 TX → 4 cells
    assert len(q(doc, ".gb-pair")) == 8
    assert {c.text_content().strip() for c in q(doc, ".gb-term-count")} == {"0/120 ô"}


@pytest.mark.parametrize("role", ["office", "parent", "admin"])
def test_index_is_for_teachers(login_as, role):
    assert login_as(role).get("/giang-day").status_code == 403


def test_home_links_each_assignment_to_its_grids(session, login_as):
    doc = page(login_as("homeroom").get("/"))
    hrefs = {a.get("href") for a in q(doc.get_element_by_id("home-teacher"), "a")}
    for class_name, code in (("6A1", "toan"), ("6A1", "hdtn"), ("7A2", "toan")):
        ids = pair(session, class_name, code)
        assert {grid_url(ids, "hk1"), grid_url(ids, "hk2")} <= hrefs
    assert "/giang-day" in hrefs


# --- The grid --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "class_name", "code", "slots", "result"), [
    ("homeroom", "6A1", "toan", ["TX1", "TX2", "TX3", "TX4", "GK", "CK"], "TB HK"),  # 140 periods → 4 TX
    ("teacher", "6A1", "tinhoc", ["TX1", "TX2", "GK", "CK"], "TB HK"),  # 35 periods → 2 TX
    ("teacher", "9A2", "tinhoc", ["TX1", "TX2", "GK", "CK"], "TB HK"),
    ("homeroom", "6A1", "hdtn", ["TX1", "TX2", "TX3", "TX4", "GK", "CK"], "KQ HK"),  # Đ/CĐ subject
    ("department_head", "8A1", "toan", ["TX1", "TX2", "TX3", "TX4", "GK", "CK"], "TB HK"),
])
@pytest.mark.parametrize("term", ["hk1", "hk2"])
def test_grid_has_the_subjects_columns(session, login_as, role, class_name, code, slots, result, term):
    ids = pair(session, class_name, code)
    response = login_as(role).get(grid_url(ids, term))
    assert response.status_code == 200
    doc = page(response)
    headers = [th.text_content().strip() for th in q(doc, "#gradebook thead th")]
    year = ["Cả năm"] if term == "hk2" else []
    assert headers == ["STT · Họ và tên", *slots, result, *year, "Nhận xét"]
    assert [th.get("title") for th in q(doc, "#gradebook thead th.gb-slot")][-2:] == [
        "Đánh giá giữa kì", "Đánh giá cuối kì"]
    rows = q(doc, "#gradebook tbody tr")
    assert len(rows) == 30
    inputs = q(rows[0], "input[name=value]")
    assert len(inputs) == len(slots)
    kinds = {i.get("inputmode") for i in inputs}
    assert kinds == ({"decimal"} if code != "hdtn" else {None})
    assert len(q(rows[0], "textarea[name=text]")) == 1
    assert q(doc, 'script[src$="/static/js/grid.js"]')
    form = q(rows[0], "form.cell")[0]
    assert form.get("hx-post") == grid_url(ids, term) + "/o" and form.get("hx-trigger") == "change"
    assert form.get("hx-swap") == "outerHTML" and form.get("hx-target") == "this"
    assert form.get("id").startswith("cell-") and form.get("data-version") == "0"


def test_grid_shows_saved_values_as_teachers_write_them(session, login_as):
    client = login_as("homeroom")
    toan, hdtn = pair(session), pair(session, "6A1", "hdtn")
    first = students(session, toan["class_id"])[0]
    post_cell(client, toan, first, "tx1", "8.5", 0)
    post_cell(client, hdtn, first, "tx1", "cd", 0)
    doc = page(client.get(grid_url(toan)))
    field = doc.get_element_by_id(f"cell-{first}-tx1")
    assert field.get("data-version") == "1"
    assert q(field, "input[name=value]")[0].get("value") == "8,5"
    assert q(field, "input[name=version]")[0].get("value") == "1"
    doc = page(client.get(grid_url(hdtn)))
    assert q(doc.get_element_by_id(f"cell-{first}-tx1"), "input[name=value]")[0].get("value") == "CĐ"


def test_grid_shows_open_flags_of_this_sheet(app, session, login_as):
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    head = session.exec(select(User).where(User.username == "vinhtd")).one()
    session.add(Flag(**ids, term="hk1", student_id=first, slot="tx2", note="Điểm TX2 thấp bất thường",
                     created_by=head.id))
    session.add(Flag(**ids, term="hk1", note="Đã sửa", status="resolved", created_by=head.id))
    session.add(Flag(**ids, term="hk2", note="Học kì khác", created_by=head.id))
    client = login_as("homeroom")
    doc = page(client.get(grid_url(ids)))
    flags = q(doc, ".gb-flag-list li")
    assert len(flags) == 1
    text = flags[0].text_content()
    name = q(doc, "#gradebook tbody tr .gb-name")[0].text_content()
    assert "Điểm TX2 thấp bất thường" in text and name in text and "TX2" in text and "Trịnh Đức Vinh" in text
    assert doc.get_element_by_id(f"cell-{first}-tx2").getparent().get("class") == "gb-slot gb-flagged"
    buttons = q(flags[0], "form button")
    if "review.resolve_flag" in app.view_functions:
        assert buttons and buttons[0].text_content() == "Đã xử lý"
    else:  # the review area has not built its route yet: the page still renders, without the button
        assert not buttons
    other_term = [li.text_content() for li in q(page(client.get(grid_url(ids, "hk2"))), ".gb-flag-list li")]
    assert len(other_term) == 1 and "Học kì khác" in other_term[0]


def test_teacher_resolves_a_flag_from_the_grid(app, session, login_as):
    if "review.resolve_flag" not in app.view_functions:
        pytest.skip("review.resolve_flag is not built yet")
    ids = pair(session)
    head = session.exec(select(User).where(User.username == "vinhtd")).one()
    flag = Flag(**ids, term="hk1", note="Thiếu điểm GK", created_by=head.id)
    session.add(flag)
    session.commit()
    client = login_as("homeroom")
    form = q(page(client.get(grid_url(ids))).get_element_by_id(f"flag-{flag.id}"), "form")[0]
    data = {i.get("name"): i.get("value") or "" for i in q(form, "input")}
    data["resolution"] = "Đã nhập GK"
    response = client.post(form.get("action"), data=data)
    assert response.status_code == 302 and response.headers["Location"] == grid_url(ids)
    doc = page(client.get(grid_url(ids)))
    assert not q(doc, ".gb-flag-list li")
    session.refresh(flag)
    assert (flag.status, flag.resolution) == ("resolved", "Đã nhập GK")


# --- save_cell: the contract --------------------------------------------------------------------------------


def test_saving_a_cell_stores_it_and_returns_the_new_version(app, session, login_as):
    client = login_as("homeroom")
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    response = post_cell(client, ids, first, "tx1", "8,5", 0)
    assert response.status_code == 200
    form, oob = root(response)
    assert (form.tag, form.get("id"), form.get("data-version")) == ("form", f"cell-{first}-tx1", "1")
    assert q(form, "input[name=value]")[0].get("value") == "8,5"
    assert q(form, "input[name=version]")[0].get("value") == "1"
    assert "cell-saved" in form.get("class") and not q(form, "[role=alert]")
    assert f"avg-{first}" in oob
    cell = stored(app, first, ids, "tx1")
    assert (cell.value, cell.version, cell.class_id) == ("8.5", 1, ids["class_id"])
    # The next save sends the version it got back.
    response = post_cell(client, ids, first, "tx1", "9", 1)
    assert response.status_code == 200 and root(response)[0].get("data-version") == "2"
    assert stored(app, first, ids, "tx1").value == "9"


@pytest.mark.parametrize(("value", "message"), [
    ("11", "ngoài khoảng 0–10"),
    ("8.25", "quá một chữ số thập phân"),
    ("8,25", "quá một chữ số thập phân"),
    ("abc", "không phải là điểm hợp lệ"),
])
def test_invalid_value_is_refused_in_the_cell_and_the_saved_value_stays(app, session, login_as, value, message):
    client = login_as("homeroom")
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    assert post_cell(client, ids, first, "gk", "8,5", 0).status_code == 200
    before = cell_count(app)
    response = post_cell(client, ids, first, "gk", value, 1)
    assert response.status_code == 422
    form, _ = root(response)
    assert form.get("id") == f"cell-{first}-gk" and form.get("data-version") == "1"
    field = q(form, "input[name=value]")[0]
    assert field.get("value") == value and field.get("aria-invalid") == "true"
    alert = q(form, "[role=alert]")[0]
    assert message in alert.text_content() and "Đã lưu: 8,5" in alert.text_content()
    assert field.get("aria-describedby") == alert.get("id")
    cell = stored(app, first, ids, "gk")
    assert (cell.value, cell.version) == ("8.5", 1) and cell_count(app) == before


def test_stale_version_is_refused_with_the_other_teachers_value(app, session, login_as):
    """The class changes hands: the new teacher's page still shows the cell empty (version 0)."""
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    assert post_cell(login_as("homeroom"), ids, first, "ck", "7", 0).status_code == 200
    dung = session.exec(select(User).where(User.username == "dungpv")).one()
    assignment = session.exec(select(TeachingAssignment).where(
        TeachingAssignment.class_id == ids["class_id"], TeachingAssignment.subject_id == ids["subject_id"])).one()
    assignment.teacher_id = dung.id
    session.add(assignment)
    session.commit()
    response = post_cell(sign_in(app, "dungpv"), ids, first, "ck", "9", 0)
    assert response.status_code == 409
    form, oob = root(response)
    assert form.get("data-version") == "1"
    assert q(form, "input[name=value]")[0].get("value") == "7"
    assert q(form, "input[name=version]")[0].get("value") == "1"
    alert = q(form, "[role=alert]")[0].text_content()
    assert "Nguyễn Thị Hoa vừa sửa ô này thành “7”" in alert and "Bạn đã nhập: 9" in alert
    assert f"avg-{first}" in oob
    cell = stored(app, first, ids, "ck")
    assert (cell.value, cell.version, cell.updated_by) != ("9", 2, dung.id)
    assert (cell.value, cell.version) == ("7", 1)


def test_two_devices_editing_one_cell_never_overwrite_silently(app, session, login_as):
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    phone, laptop = login_as("homeroom"), sign_in(app, "hoant")
    for client in (phone, laptop):  # both open the sheet and see the empty cell at version 0
        assert page(client.get(grid_url(ids))).get_element_by_id(f"cell-{first}-tx3").get("data-version") == "0"
    assert post_cell(phone, ids, first, "tx3", "8", 0).status_code == 200
    response = post_cell(laptop, ids, first, "tx3", "6", 0)
    assert response.status_code == 409
    form, _ = root(response)
    assert form.get("data-version") == "1" and q(form, "input[name=value]")[0].get("value") == "8"
    assert stored(app, first, ids, "tx3").value == "8"
    # Having seen the other value, the laptop retries with the version it was given.
    response = post_cell(laptop, ids, first, "tx3", "6", form.get("data-version"))
    assert response.status_code == 200 and root(response)[0].get("data-version") == "2"
    assert stored(app, first, ids, "tx3").value == "6"


def test_averages_follow_the_saves(app, session, login_as):
    client = login_as("homeroom")
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    shown = []
    for slot, value in ROW_HK1.items():
        response = post_cell(client, ids, first, slot, value, 0)
        assert response.status_code == 200
        shown.append(root(response)[1][f"avg-{first}"].text_content())
        assert f"year-{first}" not in root(response)[1]  # no year column on HK I
    assert shown == ["—"] * 5 + ["7,9"]
    avg = page(client.get(grid_url(ids))).get_element_by_id(f"avg-{first}")
    assert avg.text_content() == "7,9"
    for slot, value in ROW_HK2.items():
        response = post_cell(client, ids, first, slot, value, 0, term="hk2")
        assert response.status_code == 200
    oob = root(response)[1]
    assert (oob[f"avg-{first}"].text_content(), oob[f"year-{first}"].text_content()) == ("6,0", "6,6")
    doc = page(client.get(grid_url(ids, "hk2")))
    assert doc.get_element_by_id(f"year-{first}").text_content() == "6,6"
    # A changed score changes the results it was part of.
    response = post_cell(client, ids, first, "ck", "9", 1, term="hk2")
    oob = root(response)[1]  # HK II (24 + 12 + 27) / 9 = 7,0; year (7,9 + 2·7,0) / 3 = 7,3
    assert (oob[f"avg-{first}"].text_content(), oob[f"year-{first}"].text_content()) == ("7,0", "7,3")


def test_comment_subject_result_is_dat(session, login_as):
    client = login_as("homeroom")
    ids = pair(session, "6A1", "hdtn")
    first = students(session, ids["class_id"])[0]
    for slot in ("tx1", "tx2", "tx3", "tx4", "gk", "ck"):
        response = post_cell(client, ids, first, slot, "d", 0)
        assert response.status_code == 200
    assert q(root(response)[0], "input[name=value]")[0].get("value") == "Đ"
    assert root(response)[1][f"avg-{first}"].text_content() == "Đ"
    response = post_cell(client, ids, first, "gk", "9", 1)
    assert response.status_code == 422 and "Đ (Đạt) hoặc CĐ (Chưa đạt)" in html(response)


# --- Scope: nothing is written outside it ------------------------------------------------------------------


def test_teacher_cannot_open_or_write_a_pair_not_assigned(app, session, login_as):
    client = login_as("teacher")  # tuanlm teaches Tin học, not Toán
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    before = cell_count(app)
    assert client.get(grid_url(ids)).status_code == 403
    assert post_cell(client, ids, first, "tx1", "5", 0).status_code == 403
    assert post_cell(client, ids, first, "tx1", "5", 0, headers={"Accept": "text/html"}).status_code == 403
    response = client.post(grid_url(ids) + "/nhan-xet", headers=HTMX,
                           data={"student_id": first, "text": "x", "version": 0})
    assert response.status_code == 403
    # His own subject in a class, but another subject id in the URL of that class.
    own = pair(session, "6A1", "tinhoc")
    assert post_cell(client, {**own, "subject_id": ids["subject_id"]}, first, "tx1", "5", 0).status_code == 403
    assert cell_count(app) == before
    with new_session(write=False, app=app) as s:
        assert s.exec(select(func.count()).select_from(SubjectComment)).one() == 0


@pytest.mark.parametrize("role", ["department_head", "principal", "office", "parent"])
def test_others_cannot_open_a_teachers_grid(session, login_as, role):
    assert login_as(role).get(grid_url(pair(session))).status_code == 403


def test_crafted_student_or_slot_is_not_found(app, session, login_as):
    client = login_as("homeroom")
    ids = pair(session)
    outsider = students(session, current_class(session, "9A2").id)[0]
    mine = students(session, ids["class_id"])[0]
    before = cell_count(app)
    assert post_cell(client, ids, outsider, "tx1", "5", 0).status_code == 404
    assert post_cell(client, ids, 999_999, "tx1", "5", 0).status_code == 404
    assert post_cell(client, ids, mine, "tx5", "5", 0).status_code == 404
    assert post_cell(client, ids, mine, "tx1", "5", 0, term="hk3").status_code == 404
    assert post_cell(client, ids, mine, "tx1", "5", 0, term="year").status_code == 404
    assert client.get(grid_url(ids, "hk3")).status_code == 404
    response = client.post(grid_url(ids) + "/nhan-xet", headers=HTMX,
                           data={"student_id": outsider, "text": "x", "version": 0})
    assert response.status_code == 404
    assert client.post(grid_url(ids) + "/o", headers=HTMX, data={"slot": "tx1", "value": "5"}).status_code == 400
    assert cell_count(app) == before


# --- Without JavaScript: post, redirect, get ------------------------------------------------------------


def test_plain_form_post_redirects_back_to_the_grid_with_a_message(app, session, login_as):
    client = login_as("homeroom")
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    response = post_cell(client, ids, first, "tx1", "8,5", 0, headers=browser)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{grid_url(ids)}#cell-{first}-tx1"
    assert stored(app, first, ids, "tx1").value == "8.5"
    doc = page(client.get(grid_url(ids)))
    assert "Đã lưu TX1" in q(doc, ".flash-success")[0].text_content()
    response = post_cell(client, ids, first, "tx1", "11", 1, headers=browser)
    assert response.status_code == 302
    doc = page(client.get(grid_url(ids)))
    assert "ngoài khoảng 0–10" in q(doc, ".flash-error")[0].text_content()
    assert stored(app, first, ids, "tx1").value == "8.5"


# --- save_comment --------------------------------------------------------------------------------------------


def test_comment_saves_like_a_cell(app, session, login_as):
    client = login_as("homeroom")
    ids = pair(session)
    first = students(session, ids["class_id"])[0]
    url = grid_url(ids) + "/nhan-xet"
    response = client.post(url, headers=HTMX, data={"student_id": first, "text": "Chăm chỉ,  tiến bộ", "version": 0})
    assert response.status_code == 200
    form, _ = root(response)
    assert (form.get("id"), form.get("data-version")) == (f"comment-{first}", "1")
    assert q(form, "textarea")[0].text_content() == "Chăm chỉ, tiến bộ"
    response = client.post(url, headers=HTMX, data={"student_id": first, "text": "Khác", "version": 0})
    assert response.status_code == 409
    form, _ = root(response)
    assert form.get("data-version") == "1" and "Chăm chỉ, tiến bộ" in q(form, "textarea")[0].text_content()
    response = client.post(url, headers=HTMX, data={"student_id": first, "text": "x" * 1001, "version": 1})
    assert response.status_code == 422 and "1000" in q(root(response)[0], "[role=alert]")[0].text_content()
    with new_session(write=False, app=app) as s:
        comment = s.exec(select(SubjectComment).where(SubjectComment.student_id == first)).one()
    assert (comment.text, comment.version) == ("Chăm chỉ, tiến bộ", 1)
    shown = page(client.get(grid_url(ids))).get_element_by_id(f"comment-{first}")
    assert q(shown, "textarea")[0].text_content() == "Chăm chỉ, tiến bộ"
