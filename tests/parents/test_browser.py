"""The parents' pages in a real Chromium at phone and desktop widths (CSRF on, htmx live): the principal hands
out a claim code and publishes last year's results with the toggle; the parent types the code, sees the
child's year with a released transcript and the published results, and downloads the PDF. Nothing runs off
the screen; screenshots are kept in test-artifacts/screenshots/parents-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 - fixtures
    SIZES,
    app_config,
    assert_no_horizontal_overflow,
    assert_same_origin,
    live_server,
    login,
    page_at,
    record_requests,
    screenshot,
)
from tests.parents.conftest import children_of
from tests.public.conftest import principal_actor, release_student, released  # noqa: F401
from tests.transcripts.conftest import database_url, previous_class  # noqa: F401

pytestmark = pytest.mark.browser


def shot(page, name: str, width: int, height: int) -> None:
    screenshot(page, f"parents-{name}-{width}x{height}")
    assert_no_horizontal_overflow(page)


@SIZES
def test_code_slip_claim_publication_and_download(live_server, page_at, session, released, previous_class,  # noqa: F811
                                                  size):
    width, height = size
    student_id = released.student_id

    # The principal opens the student's codes from the profile, issues one and gets the printable slip.
    principal = page_at(width, height)
    login(principal, live_server, "principal")
    principal.goto(f"{live_server}/hoc-sinh/{student_id}")
    principal.click("text=Mã liên kết phụ huynh")
    expect(principal.locator("h1")).to_have_text("Mã liên kết phụ huynh")
    shot(principal, "codes", width, height)
    principal.select_option("select[name=relation]", "me")
    with principal.expect_navigation():
        principal.click("button:has-text('Cấp mã và in phiếu')")
    code = principal.locator("#ma-lien-ket").inner_text().strip()
    assert len(code) == 14
    shot(principal, "slip", width, height)
    principal.emulate_media(media="print")
    expect(principal.locator(".topbar")).to_be_hidden()
    screenshot(principal, f"parents-slip-print-{width}x{height}")
    principal.emulate_media(media="screen")

    # The whole year of last year's 6A1 is published with the htmx toggle.
    principal.goto(f"{live_server}/phu-huynh/cong-bo?nam={previous_class.school_year_id}")
    cell = principal.locator(f"#cong-bo-{previous_class.id}-year")
    cell.locator("button:has-text('Công bố cho phụ huynh')").click()
    expect(cell.locator(".badge")).to_have_text("Đã công bố")
    shot(principal, "publications", width, height)

    # The class summary of this year's 6A1 carries the toggle of the term shown.
    principal.goto(f"{live_server}/phu-huynh/cong-bo")
    principal.locator(".ph-pub-class").first.locator("a:has-text('Bảng tổng hợp')").click()
    expect(principal.locator("#cong-bo .ph-pub-cell")).to_be_visible()
    shot(principal, "class-summary", width, height)

    # Someone without an account finds the registration page from the login page.
    visitor = page_at(width, height)
    visitor.goto(f"{live_server}/dang-nhap")
    visitor.click("text=tạo tài khoản bằng mã")
    expect(visitor.locator("h1")).to_have_text("Tạo tài khoản phụ huynh bằng mã")
    shot(visitor, "register", width, height)

    # The parent types the code (lower case, with spaces) and lands on the child's page.
    parent = page_at(width, height)
    requests = record_requests(parent)
    login(parent, live_server, "parent")
    shot(parent, "home", width, height)
    parent.goto(f"{live_server}/phu-huynh/lien-ket")
    parent.fill("input[name=code]", "ABCD EFGH JK0M")
    with parent.expect_navigation():
        parent.click("button:has-text('Liên kết')")
    expect(parent.locator("[role=alert]")).to_contain_text("không dùng chữ O, chữ I")
    shot(parent, "claim-error", width, height)
    parent.fill("input[name=code]", code.lower().replace("-", " "))
    with parent.expect_navigation():
        parent.click("button:has-text('Liên kết')")
    assert parent.url.endswith(f"/phu-huynh/con/{student_id}")
    assert student_id in children_of(session, "phuhuynh1")
    expect(parent.locator(".ph-transcript")).to_contain_text("Đã phát hành")
    expect(parent.locator(".ph-results").first).to_contain_text("Quyết định cuối năm")
    shot(parent, "child", width, height)

    with parent.expect_download() as download:
        parent.click("a:has-text('Tải học bạ (PDF)')")
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read() == released.pdf
    parent.goto(f"{live_server}/phu-huynh")
    expect(parent.locator(".ph-child")).to_have_count(2)
    shot(parent, "index", width, height)
    assert_same_origin(requests, live_server)
