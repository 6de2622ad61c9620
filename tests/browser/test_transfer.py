"""Receiving a transfer in a real browser: the receiving school's office uploads the package another instance
exported (htmx form with a file), reads the verification report, picks a class and takes the student in, on a
phone and on a desktop."""

import os

import pytest
from playwright.sync_api import expect

from portal.pki import tokens
from tests.browser.conftest import SIZES, assert_no_horizontal_overflow, screenshot
from tests.conftest import DEMO_PASSWORD
from tests.transfer.conftest import RECEIVER_CLASS, make_receiver  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")


@pytest.fixture
def app(make_receiver):  # noqa: F811 - the receiving school is the app this test serves
    receiver = make_receiver(trust=True)
    receiver.app.config["WTF_CSRF_ENABLED"] = True  # as in production
    return receiver.app


@SIZES
def test_office_checks_a_package_and_takes_the_student_in(app, sent_package, live_server, page_at, size):
    width, height = size
    page = page_at(width, height)
    page.goto(f"{live_server}/dang-nhap")
    page.fill("input[name=username]", "vanthu2")
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    page.goto(f"{live_server}/chuyen-truong/nhan")
    expect(page.locator("h1")).to_have_text("Tiếp nhận học sinh chuyển đến")
    page.set_input_files("input[name=package]", files=[
        {"name": sent_package["name"], "mimeType": "application/zip", "buffer": sent_package["data"]}])
    page.get_by_role("button", name="Kiểm tra gói hồ sơ").click()
    report = page.locator("#transfer-report")
    expect(report).to_contain_text("Gói hồ sơ hợp lệ: có thể tiếp nhận học sinh", timeout=60_000)
    expect(report).to_contain_text(sent_package["full_name"])
    expect(report).to_contain_text(sent_package["school_name"])
    expect(report).not_to_contain_text("✗")
    screenshot(page, f"transfer-report-{width}x{height}")
    assert_no_horizontal_overflow(page)

    report.locator("select[name=class_id]").select_option(label=RECEIVER_CLASS)
    with page.expect_navigation():
        report.get_by_role("button", name="Tiếp nhận học sinh").click()
    assert "/hoc-sinh/" in page.url
    expect(page.locator("main")).to_contain_text(sent_package["full_name"])
    history = page.locator("table").filter(has_text="Trường").locator("tbody tr")
    expect(history).to_have_count(2)  # the year at the first school (two versions of one transcript), then here
    expect(history.first).to_contain_text(sent_package["year_name"])
    expect(history.first).to_contain_text(sent_package["school_name"])
    expect(history.nth(1)).to_contain_text(RECEIVER_CLASS)
    screenshot(page, f"transfer-received-{width}x{height}")
    assert_no_horizontal_overflow(page)
