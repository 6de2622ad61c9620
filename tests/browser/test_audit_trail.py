"""The audit trail in a real browser: cards on a phone, a table on a desktop, the filters, the detail diff and
the “Kiểm tra chuỗi” button answering in place (htmx), with nothing running off the screen."""

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from portal.models import SchoolClass, SchoolYear
from tests.audit.conftest import add_events
from tests.browser.conftest import (
    SIZES,
    assert_no_horizontal_overflow,
    assert_same_origin,
    login,
    record_requests,
    screenshot,
)

LONG_AGENT = "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile"


@pytest.fixture
def trail(app, session):
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                   SchoolClass.name == "6A1")).one()
    return add_events(app, [
        ("assessment.saved", {"actor_name": "Lê Minh Tuấn", "ip": "192.168.10.25", "user_agent": LONG_AGENT,
                              "class_id": klass.id, "period": "ck1", "note": "hk1/tx1",
                              "before": {"value": "7.5", "version": 1}, "after": {"value": "8.0", "version": 2}}),
        ("authz.denied", {"actor_name": "Nguyễn Thị Hoa", "note": "GET /tong-hop?ky=hk1&" + "x" * 120}),
        *[("export", {"actor_name": "Trần Văn Hiệu", "note": f"Bảng tổng hợp: tong-hop-{i}.xlsx"})
          for i in range(60)],
    ])


@SIZES
def test_list_filter_detail_and_verify(live_server, page_at, trail, size):
    width, height = size
    page = page_at(width, height)
    requests = record_requests(page)
    login(page, live_server, "principal")
    page.click("text=Nhật ký hoạt động")
    expect(page.locator("h1")).to_have_text("Nhật ký hoạt động")
    rows = page.locator(".audit-table tbody tr")
    expect(rows).to_have_count(50)
    header = page.locator(".audit-table thead")
    if width <= 480:  # one card per event, the column names inside each card
        expect(header).to_be_hidden()
        box = rows.first.bounding_box()
        assert box["width"] <= width and box["height"] > 60
    else:
        expect(header).to_be_visible()
    assert_no_horizontal_overflow(page)
    screenshot(page, f"audit-list-{width}x{height}")

    # The chain check answers in place.
    page.click("text=Kiểm tra chuỗi")
    expect(page.locator("#audit-verdict")).to_contain_text("Chuỗi nhật ký nguyên vẹn")
    assert_no_horizontal_overflow(page)

    # A filter narrows the list without a full page load; the URL keeps it.
    page.locator("details.audit-filters summary").click()
    page.select_option("select[name=hd]", "assessment.saved")
    expect(rows).to_have_count(1)
    assert "hd=assessment.saved" in page.url
    screenshot(page, f"audit-filtered-{width}x{height}")

    page.locator(".audit-table tbody tr a").first.click()
    expect(page.locator("h1")).to_contain_text("Sửa điểm/mức đánh giá")
    expect(page.locator("tr.audit-changed")).to_have_count(2)
    expect(page.locator("tr.audit-changed ins").first).to_have_text("8,0")
    assert_no_horizontal_overflow(page)
    screenshot(page, f"audit-detail-{width}x{height}")
    assert_same_origin(requests, live_server)
