"""The sending dashboard (/gui-hoc-ba) in a real browser with a released transcript: one submission refused by the
Ministry with its long reasons, one failing at the Department with a connection error; the resend buttons, the
deadline and the per-class progress fit a phone and a desktop."""

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from sqlmodel import select

from portal.db import write_session
from portal.models import Submission, utcnow
from portal.pki import tokens
from tests.browser.conftest import SIZES, assert_no_horizontal_overflow, login, screenshot
from tests.dashboard.helpers import ENDPOINTS
from tests.public.conftest import previous_class, release_student, released  # noqa: F401
from tests.transcripts.conftest import database_url  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")

REFUSAL = ("Bộ GD&ĐT không chấp nhận học bạ (HTTP 422): Mã bản ghi (idbanghi “00000000-0000-4000-8000-000000000000”) "
           "không khớp với dữ liệu đã ký trong tệp PDF; Chữ kí XAdES của tệp XML không hợp lệ: "
           "http://www.w3.org/2000/09/xmldsig#rsa-sha1")
FAILURE = "Không kết nối được tới Sở GD&ĐT: ConnectError: [Errno 111] Connection refused"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SEND_ENDPOINTS": ENDPOINTS}


@SIZES
def test_refused_and_failing_submissions_fit_the_screen(app, released, live_server, page_at, size):  # noqa: F811
    with write_session(app) as s:
        rows = {r.endpoint: r.id for r in s.exec(select(Submission))}
        s.execute(update(Submission).where(Submission.id == rows["bo"]).values(
            status="rejected", attempts=1, last_error=REFUSAL))
        s.execute(update(Submission).where(Submission.id == rows["so"]).values(
            status="failed", attempts=3, last_error=FAILURE, next_attempt_at=utcnow() + timedelta(hours=1)))
    width, height = size
    page = page_at(width, height)
    login(page, live_server, "principal")
    page.goto(f"{live_server}/gui-hoc-ba")
    expect(page.locator("h1")).to_contain_text("Gửi học bạ")
    refused = page.locator(f"#luot-{rows['bo']}")
    expect(refused).to_contain_text("Bị từ chối — cần xử lí")
    expect(refused).to_contain_text("HTTP 422")
    expect(refused).to_contain_text("không tự gửi lại")
    expect(refused.get_by_role("button", name="Gửi lại ngay")).to_be_visible()
    failing = page.locator(f"#luot-{rows['so']}")
    expect(failing).to_contain_text("Connection refused")
    expect(failing).to_contain_text("Đã thử 3 lần")
    expect(page.get_by_role("button", name="Gửi lại tất cả")).to_be_visible()
    screenshot(page, f"sending-{width}x{height}")
    assert_no_horizontal_overflow(page)
    refused.scroll_into_view_if_needed()
    screenshot(page, f"sending-refused-{width}x{height}")
