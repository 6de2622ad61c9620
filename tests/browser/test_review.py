"""Review screens in a real browser: the principal's summaries and the department head's read-only sheet
on a phone and a desktop: they render with data, nothing runs off the screen, a flag can be sent."""

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
from tests.review.helpers import current_class, fill_student, roster, subject


@pytest.fixture
def filled(session):
    """A few students of 6A1 with a whole year entered through the gradebook's write path."""
    klass = current_class(session, "6A1")
    s = roster(session, klass)
    fill_student(session, klass, s[0], score="9", conduct=("T", "T"))
    fill_student(session, klass, s[1], score="7", conduct=("K", "K"), absences=(2, 1, 0, 3))
    fill_student(session, klass, s[2], score="4", conduct=("T", "D"))
    fill_student(session, klass, s[3], score={"toan": "6.5", "van": "8.5"}, conduct=("K", "T"))
    return klass


@SIZES
def test_principal_school_summary(live_server, page_at, filled, size):
    width, height = size
    page = page_at(width, height)
    requests = record_requests(page)
    login(page, live_server, "principal")
    page.click("text=Tổng hợp kết quả toàn trường")
    page.click(".subnav >> text=Cả năm")

    expect(page.locator("h1")).to_have_text("Tổng hợp kết quả toàn trường")
    row = page.locator("#hoc-tap tbody tr").first
    expect(row.locator("th")).to_have_text("6A1")
    expect(page.locator("#cuoi-nam")).to_be_visible()
    screenshot(page, f"review-summary-{width}x{height}")
    assert_no_horizontal_overflow(page)
    assert_same_origin(requests, live_server)


@SIZES
def test_class_summary(live_server, page_at, filled, size):
    width, height = size
    page = page_at(width, height)
    login(page, live_server, "principal")
    page.goto(f"{live_server}/tong-hop/lop/{filled.id}?ky=year")

    expect(page.locator("#bang-tong-hop tbody tr")).to_have_count(30)
    sticky = page.locator("#bang-tong-hop tbody th.rv-sticky").first
    left = sticky.bounding_box()["x"]
    page.locator("#bang-tong-hop").evaluate("el => el.scrollLeft = 400")
    assert abs(sticky.bounding_box()["x"] - left) < 1, "the student column must stay in view"
    page.locator("#bang-tong-hop").evaluate("el => el.scrollLeft = 0")
    screenshot(page, f"review-class-summary-{width}x{height}")
    assert_no_horizontal_overflow(page)


@SIZES
def test_department_head_flags_a_cell(live_server, page_at, session, filled, size):
    width, height = size
    page = page_at(width, height)
    requests = record_requests(page)
    login(page, live_server, "department_head")
    page.click("text=Xem bảng điểm của tổ")
    expect(page.locator("h2").first).to_have_text("Tổ Toán – Tin")
    screenshot(page, f"review-department-{width}x{height}")
    assert_no_horizontal_overflow(page)

    toan = subject(session, filled, "toan")
    page.goto(f"{live_server}/to-chuyen-mon/{filled.id}/{toan.id}/hk1")
    expect(page.locator("#rv-grid input")).to_have_count(0)
    page.locator("#rv-grid tbody tr").nth(3).locator("td").nth(4).locator("a").click()  # GK of student 4
    expect(page.locator("select[name=slot]")).to_have_value("gk")
    page.fill("textarea[name=note]", "Điểm giữa kì thấp hơn hẳn các lần khác, đề nghị kiểm tra lại.")
    with page.expect_navigation():
        page.click("text=Gửi ghi chú")
    expect(page.locator(".flash-success")).to_contain_text("Đã gửi ghi chú")
    expect(page.locator("#rv-grid td.rv-flagged")).to_have_count(1)
    expect(page.locator("#ghi-chu .rv-flag-open")).to_have_count(1)
    page.locator("#rv-grid").scroll_into_view_if_needed()
    screenshot(page, f"review-sheet-{width}x{height}")
    assert_no_horizontal_overflow(page)
    assert_same_origin(requests, live_server)
