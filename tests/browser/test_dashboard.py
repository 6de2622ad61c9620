"""The progress dashboard in a real browser, on a phone and a desktop: it renders with late and finished
items, a period is chosen with htmx, a class opens on its subjects, and nothing runs off the screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    SIZES,
    assert_no_horizontal_overflow,
    assert_same_origin,
    login,
    record_requests,
    screenshot,
)
from tests.dashboard.helpers import save, save_homeroom, set_deadlines
from tests.review.helpers import current_class


@pytest.fixture
def progress(session):
    """Some cells of 6A1 and 6A2 entered while open; then mid-term I is overdue and end of term I due in 5 days."""
    set_deadlines(session, {"gk1": 10, "ck1": 40, "gk2": 100, "ck2": 150, "cn": 150})
    save(session, "6A1", "toan", "hk1", "gk", range(12))
    save(session, "6A1", "tinhoc", "hk1", "gk", range(30))
    save(session, "6A2", "van", "hk1", "gk", range(30))
    save(session, "6A1", "toan", "hk1", "tx1", range(20))
    save_homeroom(session, "6A1", "hk1", "conduct", range(10), "T")
    set_deadlines(session, {"gk1": -2, "ck1": 5})
    return current_class(session, "6A1")


@SIZES
def test_principal_dashboard(live_server, page_at, progress, size):
    width, height = size
    page = page_at(width, height)
    requests = record_requests(page)
    login(page, live_server, "principal")
    page.click("text=Xem tiến độ toàn trường")

    expect(page.locator("h1")).to_have_text("Tiến độ hoàn thành học bạ")
    expect(page.locator(".db-period[aria-current=page]")).to_contain_text("Cuối HK I")  # next deadline
    expect(page.locator("#han-nam-hoc li")).to_have_count(4)
    expect(page.locator("details.db-class")).to_have_count(8)
    screenshot(page, f"dashboard-{width}x{height}")
    assert_no_horizontal_overflow(page)

    page.click(".db-period >> text=Giữa HK I")  # htmx swaps the board and pushes the URL
    expect(page.locator("#ky-title")).to_have_text("Giữa học kì I")
    expect(page).to_have_url(f"{live_server}/tien-do?ky=gk1")
    row = page.locator(f"#lop-{progress.id}")
    expect(row).to_have_class("db-class db-late")
    row.locator("summary").click()
    expect(row.locator("tbody tr")).to_have_count(13)
    expect(row.locator("tr.db-row-done")).to_have_count(1)
    expect(row.locator("tr.db-row-late").first).to_contain_text("Trễ hạn")
    row.scroll_into_view_if_needed()
    screenshot(page, f"dashboard-gk1-open-{width}x{height}")
    assert_no_horizontal_overflow(page)
    assert_same_origin(requests, live_server)


@SIZES
def test_teacher_home_progress(live_server, page_at, progress, size):
    width, height = size
    page = page_at(width, height)
    login(page, live_server, "homeroom")
    expect(page.locator("#tien-do-teacher .db-next")).to_contain_text("Cuối học kì I")
    expect(page.locator("#tien-do-homeroom .db-pending li")).to_have_count(1)
    screenshot(page, f"dashboard-home-homeroom-{width}x{height}")
    assert_no_horizontal_overflow(page)
