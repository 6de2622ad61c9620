"""A subject teacher enters scores in the grid with a real Chromium: on a phone and on a desktop.

Checks what only a browser shows: each cell saves itself through htmx (CSRF on), the average appears as
the row fills, a refused value is explained inside its cell, Enter / Tab / arrow keys move between cells,
a stale write from a second device is shown (not swallowed), and the page never scrolls sideways.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from portal.db import new_session
from portal.models import Assessment, Enrollment, Flag, Subject, User
from tests.browser.conftest import DESKTOP, PHONE, assert_no_horizontal_overflow, login, screenshot
from tests.factories import current_class

ROW = [("tx1", "8"), ("tx2", "7,5"), ("tx3", "9"), ("tx4", "8"), ("gk", "7,5"), ("ck", "8")]  # → 7,9


def toan_6a1(app) -> tuple[int, int]:
    with new_session(write=False, app=app) as s:
        klass = current_class(s, "6A1")
        subject = s.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == "toan")).one()
        return klass.id, subject.id


def stored(app, subject_id: int, student_id: int) -> dict[str, str]:
    with new_session(write=False, app=app) as s:
        rows = s.exec(select(Assessment).where(Assessment.subject_id == subject_id,
                                               Assessment.student_id == student_id, Assessment.term == "hk1"))
        return {a.slot: a.value for a in rows}


def row_students(page: Page) -> list[int]:
    ids = page.eval_on_selector_all("#gradebook tbody tr form[id$='-tx1']", "fs => fs.map(f => f.id)")
    return [int(i.split("-")[1]) for i in ids]


def field(page: Page, student: int, slot: str):
    return page.locator(f"#cell-{student}-{slot} input[name=value]")


def focused_cell(page: Page) -> str:
    return page.evaluate("document.activeElement.closest('form') && document.activeElement.closest('form').id")


def show_from(page: Page, cell_id: str) -> None:
    """Scroll the grid's box sideways so that the cell's column is the first one after the name column."""
    page.locator(".gb-wrap").evaluate(
        "(w, id) => { w.scrollLeft = document.getElementById(id).closest('td').offsetLeft"
        " - w.querySelector('tbody .gb-student').offsetWidth; }", cell_id)
    page.evaluate("window.scrollTo(0, 0)")


def test_teacher_fills_a_row_on_a_phone(app, live_server, page_at):
    page = page_at(*PHONE)
    login(page, live_server, "homeroom")  # hoant teaches Toán 6A1
    class_id, subject_id = toan_6a1(app)
    page.get_by_role("link", name="Nhập điểm Toán lớp 6A1 học kì I", exact=True).click()
    expect(page).to_have_url(f"{live_server}/giang-day/{class_id}/{subject_id}/hk1")
    expect(page.locator("h1")).to_have_text("Toán · Lớp 6A1")
    first, second = row_students(page)[:2]

    # Phone-sized cells: tall enough to tap, text large enough that iOS does not zoom in.
    box = field(page, first, "tx1").bounding_box()
    assert box["height"] >= 40
    font = field(page, first, "tx1").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 16
    assert field(page, first, "tx1").get_attribute("inputmode") == "decimal"

    # Type the row: Tab to the next cell, Enter on the last one (it moves to the next row).
    field(page, first, "tx1").click()
    for slot, value in ROW:
        page.keyboard.type(value)
        page.keyboard.press("Enter" if slot == "ck" else "Tab")
        expect(page.locator(f"#cell-{first}-{slot}")).to_have_attribute("data-version", "1")
    expect(page.locator(f"#avg-{first}")).to_have_text("7,9")
    assert focused_cell(page) == f"cell-{second}-ck"  # Enter: same column, next row
    assert stored(app, subject_id, first) == {"tx1": "8", "tx2": "7.5", "tx3": "9", "tx4": "8", "gk": "7.5", "ck": "8"}
    for slot, value in ROW:
        expect(field(page, first, slot)).to_have_value(value)
    show_from(page, f"cell-{first}-tx4")  # the end of the row: TX4, GK, CK and the average
    screenshot(page, "gradebook-row-390x844")
    assert_no_horizontal_overflow(page)

    # A refused value: the message in the cell, the typed text kept and marked, the saved value unchanged.
    page.keyboard.type("11")
    page.keyboard.press("Tab")
    cell = page.locator(f"#cell-{second}-ck")
    expect(cell.get_by_role("alert")).to_contain_text("ngoài khoảng 0–10")
    expect(cell.get_by_role("alert")).to_contain_text("Đã lưu: (trống)")
    expect(field(page, second, "ck")).to_have_value("11")
    expect(field(page, second, "ck")).to_have_attribute("aria-invalid", "true")
    assert "ck" not in stored(app, subject_id, second)
    expect(page.locator("#sheet-filled")).to_have_text("6/180")

    # The name column stays put while the grid scrolls sideways inside its own box.
    wrap = page.locator(".gb-wrap")
    name = page.locator("#gradebook tbody tr").first.locator(".gb-student")
    left = name.bounding_box()["x"]
    wrap.evaluate("w => { w.scrollLeft = 0; }")
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    assert wrap.evaluate("w => w.scrollLeft") > 0
    assert abs(name.bounding_box()["x"] - left) < 1
    show_from(page, f"cell-{first}-ck")
    screenshot(page, "gradebook-invalid-390x844")
    assert_no_horizontal_overflow(page)

    # Corrected, it saves and the message goes away.
    field(page, second, "ck").fill("6,5")
    field(page, second, "ck").press("Tab")
    expect(cell).to_have_attribute("data-version", "1")
    expect(cell.get_by_role("alert")).to_have_count(0)
    assert stored(app, subject_id, second) == {"ck": "6.5"}
    expect(page.locator("#sheet-filled")).to_have_text("7/180")
    assert_no_horizontal_overflow(page)


def test_keyboard_moves_and_a_second_device_is_told_on_a_desktop(app, live_server, page_at):
    class_id, subject_id = toan_6a1(app)
    url = f"{live_server}/giang-day/{class_id}/{subject_id}/hk1"
    page = page_at(*DESKTOP)
    login(page, live_server, "homeroom")
    page.goto(url)
    first, second, third = row_students(page)[:3]

    # Arrow keys: right/left at the edge of the text, down/up by row; Enter goes down.
    field(page, first, "tx1").click()
    page.keyboard.type("9")
    page.keyboard.press("ArrowRight")  # caret at the end: next cell
    assert focused_cell(page) == f"cell-{first}-tx2"
    expect(page.locator(f"#cell-{first}-tx1")).to_have_attribute("data-version", "1")
    page.keyboard.press("ArrowDown")
    assert focused_cell(page) == f"cell-{second}-tx2"
    page.keyboard.type("8")
    page.keyboard.press("ArrowLeft")  # caret after "8": stays in the cell
    assert focused_cell(page) == f"cell-{second}-tx2"
    page.keyboard.press("ArrowLeft")  # caret at the start: previous cell
    assert focused_cell(page) == f"cell-{second}-tx1"
    page.keyboard.press("ArrowUp")
    assert focused_cell(page) == f"cell-{first}-tx1"
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert focused_cell(page) == f"cell-{third}-tx1"
    expect(page.locator(f"#cell-{second}-tx2")).to_have_attribute("data-version", "1")
    assert stored(app, subject_id, first) == {"tx1": "9"} and stored(app, subject_id, second) == {"tx2": "8"}

    # Fill the first row; then a second device that still shows the old value edits the same cell.
    for slot, value in ROW:
        field(page, first, slot).fill(value)
        field(page, first, slot).press("Tab")
        expect(page.locator(f"#cell-{first}-{slot}")).to_have_attribute("data-version", "2" if slot == "tx1" else "1")
    expect(page.locator(f"#avg-{first}")).to_have_text("7,9")
    other = page_at(*DESKTOP)
    login(other, live_server, "homeroom")
    other.goto(url)
    field(page, first, "ck").fill("10")
    field(page, first, "ck").press("Tab")
    expect(page.locator(f"#avg-{first}")).to_have_text("8,6")  # (32,5 + 2·7,5 + 3·10) / 9 = 8,61
    field(other, first, "ck").fill("6")
    field(other, first, "ck").press("Tab")
    cell = other.locator(f"#cell-{first}-ck")
    expect(cell.get_by_role("alert")).to_contain_text("vừa sửa ô này thành “10”")
    expect(field(other, first, "ck")).to_have_value("10")
    expect(cell).to_have_attribute("data-version", "2")
    expect(other.locator(f"#avg-{first}")).to_have_text("8,6")  # the 409 brought the current results too
    assert stored(app, subject_id, first)["ck"] == "10"
    # Having seen it, the second device retries on purpose and wins with the new version.
    field(other, first, "ck").fill("6")
    field(other, first, "ck").press("Tab")
    expect(cell).to_have_attribute("data-version", "3")
    expect(cell.get_by_role("alert")).to_have_count(0)
    assert stored(app, subject_id, first)["ck"] == "6"
    expect(other.locator(f"#avg-{first}")).to_have_text("7,3")  # (32,5 + 15 + 18) / 9 = 7,28

    # Enter on the last row saves the cell and keeps it focused (the swap gives the focus back).
    last = row_students(page)[-1]
    field(page, last, "gk").click()
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    expect(page.locator(f"#cell-{last}-gk")).to_have_attribute("data-version", "1")
    assert focused_cell(page) == f"cell-{last}-gk"
    assert page.evaluate("document.activeElement.value") == "5"

    page.reload()
    field(page, second, "tx1").fill("8.25")
    field(page, second, "tx1").press("Tab")
    expect(page.locator(f"#cell-{second}-tx1").get_by_role("alert")).to_contain_text("quá một chữ số thập phân")
    screenshot(page, "gradebook-row-1280x800")
    assert_no_horizontal_overflow(page)
    assert re.search(r"\d+/180", page.locator("#sheet-filled").inner_text())


def test_list_of_pairs_fits_a_phone(app, live_server, page_at):
    page = page_at(*PHONE)
    login(page, live_server, "teacher")  # tuanlm: Tin học in all 8 classes
    page.goto(f"{live_server}/giang-day")
    tiles = page.locator(".gb-pair")
    expect(tiles).to_have_count(8)
    expect(tiles.first.locator(".gb-term-count").first).to_have_text("0/120 ô")
    link = tiles.first.get_by_role("link", name=re.compile("Học kì II"))
    assert link.bounding_box()["height"] >= 40
    screenshot(page, "gradebook-index-390x844")
    assert_no_horizontal_overflow(page)
    link.click()
    expect(page.locator("#gradebook thead th")).to_have_text(
        ["STT · Họ và tên", "TX1", "TX2", "GK", "CK", "TB HK", "Cả năm", "Nhận xét"])
    assert_no_horizontal_overflow(page)


def test_department_heads_note_is_shown_and_resolved_on_a_phone(app, live_server, page_at):
    if "review.resolve_flag" not in app.view_functions:
        pytest.skip("review.resolve_flag is not built yet")
    with new_session(write=True, app=app) as s:
        klass = current_class(s, "6A1")
        tin = s.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == "tinhoc")).one()
        head = s.exec(select(User).where(User.username == "vinhtd")).one()
        student = s.exec(select(Enrollment.student_id).where(Enrollment.class_id == klass.id)
                         .order_by(Enrollment.number)).first()
        s.add(Flag(class_id=klass.id, subject_id=tin.id, term="hk1", student_id=student, slot="tx2",
                   note="Điểm TX2 của em này thấp bất thường so với cả lớp, thầy xem lại giúp.", created_by=head.id))
        s.add(Flag(class_id=klass.id, subject_id=tin.id, term="hk1", note="Cả lớp chưa có điểm GK.",
                   created_by=head.id))
        s.commit()
        ids = (klass.id, tin.id)
    page = page_at(*PHONE)
    login(page, live_server, "teacher")
    page.goto(f"{live_server}/giang-day/{ids[0]}/{ids[1]}/hk1")
    notes = page.locator(".gb-flag-list li")
    expect(notes).to_have_count(2)
    expect(notes.first).to_contain_text("thấp bất thường")
    expect(notes.first).to_contain_text("TX2")
    expect(page.locator(f"#cell-{student}-tx2").locator("xpath=..")).to_have_class(re.compile("gb-flagged"))
    screenshot(page, "gradebook-flags-390x844")
    assert_no_horizontal_overflow(page)
    notes.first.get_by_role("textbox").fill("Đã kiểm tra, điểm đúng.")
    notes.first.get_by_role("button", name="Đã xử lý").click()
    expect(page).to_have_url(f"{live_server}/giang-day/{ids[0]}/{ids[1]}/hk1")
    expect(page.locator(".gb-flag-list li")).to_have_count(1)
    expect(page.locator(".flash-success")).to_be_visible()


def test_typing_again_while_a_cell_saves_is_not_lost(app, live_server, page_at, monkeypatch):
    """The teacher goes back into a cell and types over it before its save has answered."""
    from portal.gradebook import service

    original = service.save_cell

    def slow_save_cell(**kwargs):
        time.sleep(0.8 if kwargs["raw"] == "8" else 0)
        return original(**kwargs)

    monkeypatch.setattr(service, "save_cell", slow_save_cell)
    class_id, subject_id = toan_6a1(app)
    page = page_at(*DESKTOP)
    login(page, live_server, "homeroom")
    page.goto(f"{live_server}/giang-day/{class_id}/{subject_id}/hk1")
    first = row_students(page)[0]
    field(page, first, "tx1").click()
    page.keyboard.type("8")
    page.keyboard.press("Tab")  # the save of "8" is on its way
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("9")  # typed over it before the answer
    cell = page.locator(f"#cell-{first}-tx1")
    expect(cell).to_have_attribute("data-version", "2")
    expect(field(page, first, "tx1")).to_have_value("9")
    expect(cell.get_by_role("alert")).to_have_count(0)
    assert stored(app, subject_id, first) == {"tx1": "9"}
