"""The dashboard's transcript stages in a real browser, with a class partly signed, released and sent (real
transcripts signed on the SoftHSM2 token): the numbers show in the class row and the subject table, and
nothing runs off the screen on a phone or a desktop."""

import os

import pytest
from playwright.sync_api import expect

from portal.pki import tokens
from tests.browser.conftest import SIZES, assert_no_horizontal_overflow, login, screenshot
from tests.dashboard.helpers import ENDPOINTS, database_url, load_arranged  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SEND_ENDPOINTS": ENDPOINTS}


@SIZES
def test_class_partly_signed_released_and_sent(app, session, arranged_template, live_server, page_at, size):
    arranged = load_arranged(session, arranged_template)
    width, height = size
    page = page_at(width, height)
    login(page, live_server, "principal")
    page.goto(f"{live_server}/tien-do?ky=cn")
    row = page.locator(f"#lop-{arranged.klass.id}")
    expect(row.locator("summary .db-stage-signed")).to_contain_text("10 % (3/30)")
    expect(row.locator("summary .db-stage-released")).to_contain_text("6 % (2/30)")
    expect(row.locator("summary .db-stage-sent")).to_contain_text("3 % (1/30)")
    screenshot(page, f"dashboard-stages-{width}x{height}")
    assert_no_horizontal_overflow(page)

    row.locator("summary").click()
    expect(row.locator("tbody tr")).to_have_count(14)
    expect(row.locator("tbody tr .db-cell-stage").first).to_contain_text("/30)")
    row.scroll_into_view_if_needed()
    screenshot(page, f"dashboard-stages-open-{width}x{height}")
    assert_no_horizontal_overflow(page)

    app.config["SEND_ENDPOINTS"] = {}
    page.reload()
    expect(row.locator("summary .db-stage-sent")).to_contain_text("chưa cấu hình nơi nhận")
    screenshot(page, f"dashboard-stages-unsent-{width}x{height}")
    assert_no_horizontal_overflow(page)
