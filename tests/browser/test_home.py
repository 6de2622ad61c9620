"""Each role's home screen on a phone and on a desktop: it renders, and nothing runs off the screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    assert_no_horizontal_overflow,
    assert_same_origin,
    login,
    record_requests,
    screenshot,
)
from tests.conftest import ROLE_USERS


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_home_fits_the_screen(live_server, page_at, role, size):
    width, height = size
    page = page_at(width, height)
    requests = record_requests(page)
    login(page, live_server, role)

    assert page.url == f"{live_server}/"
    section = page.locator(f"#home-{role}")
    expect(section).to_be_visible()
    expect(section).to_contain_text("Việc cần làm")
    screenshot(page, f"home-{role}-{width}x{height}")
    assert_no_horizontal_overflow(page)
    assert_same_origin(requests, live_server)
