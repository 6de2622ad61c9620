"""The homeroom teacher on a phone: conduct and absences save themselves; the class overview fits the screen."""

import re

from playwright.sync_api import expect
from sqlmodel import select

from portal.db import new_session
from portal.gradebook.service import class_roster
from portal.models import StudentRecord
from tests.browser.conftest import DESKTOP, PHONE, assert_no_horizontal_overflow, login, screenshot
from tests.factories import current_class
from tests.homeroom.data import demo_year


def _stored(app, student_id: int, term: str) -> dict[str, str]:
    with new_session(write=False, app=app) as s:
        rows = s.exec(select(StudentRecord).where(StudentRecord.student_id == student_id, StudentRecord.term == term))
        return {r.key: r.value for r in rows}


def test_homeroom_sets_conduct_and_absences_on_a_phone(app, live_server, page_at):
    with new_session(write=False, app=app) as s:
        klass = current_class(s, "6A1")
        first, second = [student for _, student in class_roster(s, klass.id)][:2]
    page = page_at(*PHONE)
    login(page, live_server, "homeroom")

    page.goto(f"{live_server}/chu-nhiem/{klass.id}/ren-luyen/hk1")
    expect(page.locator("h1")).to_contain_text("Rèn luyện Học kì I")
    conduct = page.locator(f"#hr-{first.id}-hk1-conduct")
    conduct.locator("[name=value]").select_option("T")
    expect(conduct).to_contain_text("Đã lưu")
    expect(page.locator("#hr-complete")).to_contain_text("mức rèn luyện: 1/30")
    excused = page.locator(f"#hr-{first.id}-hk1-absences_excused")
    excused.locator("[name=value]").fill("2")
    excused.locator("[name=value]").press("Tab")
    expect(excused).to_contain_text("Đã lưu")
    unexcused = page.locator(f"#hr-{first.id}-hk1-absences_unexcused")
    unexcused.locator("[name=value]").fill("1")
    unexcused.locator("[name=value]").press("Tab")
    expect(unexcused).to_contain_text("Đã lưu")
    # A wrong count is refused in the cell, in Vietnamese, and nothing is stored; a right one then saves.
    bad = page.locator(f"#hr-{second.id}-hk1-absences_excused")
    bad.locator("[name=value]").fill("hai")
    bad.locator("[name=value]").press("Tab")
    expect(bad).to_contain_text("“hai” không hợp lệ")
    expect(bad.locator("[name=value]")).to_have_attribute("aria-invalid", "true")
    assert _stored(app, second.id, "hk1") == {}
    bad.locator("[name=value]").fill("0")
    bad.locator("[name=value]").press("Tab")
    expect(bad).to_contain_text("Đã lưu")
    expect(bad.locator("[name=value]")).not_to_have_attribute("aria-invalid", "true")

    assert _stored(app, first.id, "hk1") == {"conduct": "T", "absences_excused": "2", "absences_unexcused": "1"}
    assert _stored(app, second.id, "hk1") == {"absences_excused": "0"}
    assert_no_horizontal_overflow(page)
    screenshot(page, "homeroom-conduct-390x844")

    # The value survives a reload (it was saved, not just shown).
    page.reload()
    expect(page.locator(f"#hr-{first.id}-hk1-conduct [name=value]")).to_have_value("T")
    expect(page.locator(f"#hr-{first.id}-hk1-absences_excused [name=value]")).to_have_value("2")


def test_overview_and_year_end_fit_the_phone(app, live_server, page_at):
    with new_session(write=True, app=app) as s:
        klass = current_class(s, "6A1")
        roster = [student for _, student in class_roster(s, klass.id)]
        demo_year(s, klass, roster)
    for width, height in (PHONE, DESKTOP):
        page = page_at(width, height)
        login(page, live_server, "homeroom")
        page.goto(f"{live_server}/chu-nhiem/{klass.id}")
        expect(page.locator("table.hr-overview tbody tr")).to_have_count(30)
        expect(page.locator(f"#hr-row-{roster[0].id}")).to_contain_text("Được lên lớp")
        expect(page.locator(f"#hr-row-{roster[1].id}")).to_contain_text("Kiểm tra lại")
        expect(page.locator(f"#hr-row-{roster[2].id}")).to_contain_text("Không được lên lớp")
        expect(page.locator(f"#hr-row-{roster[3].id} td.hr-missing").first).to_be_visible()
        assert_no_horizontal_overflow(page)
        screenshot(page, f"homeroom-overview-{width}x{height}")
        page.goto(f"{live_server}/chu-nhiem/{klass.id}/cuoi-nam")
        expect(page.locator("article.hr-student")).to_have_count(30)
        card = page.locator(f"#hr-student-{roster[0].id}")
        card.locator("summary").click()
        expect(card.locator(".hr-explain li").first).to_be_visible()
        expect(page.locator(f"#hr-student-{roster[1].id}")).to_contain_text("Chờ Hoàng Thị Thu Lan nhập")
        assert_no_horizontal_overflow(page)
        screenshot(page, f"homeroom-year-end-{width}x{height}")


def test_home_tile_links_to_the_homeroom_pages(app, live_server, page_at):
    page = page_at(*PHONE)
    login(page, live_server, "homeroom")
    tile = page.locator("#home-homeroom .hr-tile").first
    expect(tile).to_contain_text("Lớp 6A1")
    tile.get_by_role("link", name="Rèn luyện, chuyên cần").click()
    expect(page).to_have_url(re.compile(r"/chu-nhiem/\d+/ren-luyen/hk[12]$"))
    assert_no_horizontal_overflow(page)


def test_a_stale_field_shows_the_other_value_instead_of_overwriting_it(app, live_server, page_at):
    from tests.homeroom.data import set_record

    with new_session(write=False, app=app) as s:
        klass = current_class(s, "6A1")
        student = class_roster(s, klass.id)[0][1]
    page = page_at(*PHONE)
    login(page, live_server, "homeroom")
    page.goto(f"{live_server}/chu-nhiem/{klass.id}/ren-luyen/hk2")
    with new_session(write=True, app=app) as s:  # saved elsewhere after this page was loaded
        set_record(s, current_class(s, "6A1"), student, "hk2", "conduct", "K")
    field = page.locator(f"#hr-{student.id}-hk2-conduct")
    field.locator("[name=value]").select_option("T")
    expect(field).to_contain_text("vừa sửa ô này thành “K”")
    expect(field.locator("[name=value]")).to_have_value("K")
    assert _stored(app, student.id, "hk2") == {"conduct": "K"}
    # Having seen it, the teacher may now change it: the field carries the new version.
    field.locator("[name=value]").select_option("T")
    expect(field).to_contain_text("Đã lưu")
    assert _stored(app, student.id, "hk2") == {"conduct": "T"}
