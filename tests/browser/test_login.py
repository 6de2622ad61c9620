"""Login, logout and CSRF in a real browser: the phone layout, the Vietnamese error, the ☰ menu, htmx."""

import json

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

HTMX_PATH = "/static/vendor/htmx/htmx.min.js"


def test_login_page_fits_a_phone(live_server, page_at):
    page = page_at(*PHONE)
    requests = record_requests(page)
    response = page.goto(f"{live_server}/dang-nhap")

    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Đăng nhập")
    expect(page.locator("input[name=username]")).to_be_focused()
    for selector in ("input[name=username]", "input[name=password]", "form button[type=submit]"):
        box = page.locator(selector).bounding_box()
        assert box["height"] >= 40, f"{selector} is {box['height']} px high: too small to tap"
    screenshot(page, "login-390x844")
    assert_no_horizontal_overflow(page)
    assert_same_origin(requests, live_server)


def test_wrong_password_shows_the_error_in_vietnamese(live_server, page_at):
    page = page_at(*PHONE)
    page.goto(f"{live_server}/dang-nhap")
    page.fill("input[name=username]", "hieutruong")
    page.fill("input[name=password]", "sai-mat-khau")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dang-nhap")) as posted:
        page.click("form button[type=submit]")

    assert posted.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("Tên đăng nhập hoặc mật khẩu không đúng.")
    expect(page.locator("input[name=username]")).to_have_value("hieutruong")
    expect(page.locator("input[name=password]")).to_have_value("")
    assert page.url == f"{live_server}/dang-nhap"
    screenshot(page, "login-error-390x844")
    assert_no_horizontal_overflow(page)


def test_logout_from_the_phone_menu(live_server, page_at):
    page = page_at(*PHONE)
    login(page, live_server, "teacher")
    expect(page.locator("#home-teacher")).to_be_visible()

    logout = page.get_by_role("button", name="Đăng xuất")
    expect(logout).to_be_hidden()
    page.locator("details.menu > summary").tap()
    expect(page.locator("details.menu")).to_have_attribute("open", "")
    expect(logout).to_be_visible()
    screenshot(page, "menu-open-teacher-390x844")
    assert_no_horizontal_overflow(page)
    with page.expect_navigation():
        logout.tap()

    assert page.url == f"{live_server}/dang-nhap"
    expect(page.locator("h1")).to_have_text("Đăng nhập")
    expect(page.locator(".flash-info")).to_have_text("Bạn đã đăng xuất.")
    # The server-side session is gone: the home page sends the browser back to the login form.
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/dang-nhap")


def test_csrf_is_on_and_htmx_sends_the_token(live_server, page_at):
    page = page_at(*DESKTOP)
    requests = record_requests(page)
    login(page, live_server, "principal")
    with page.expect_response(lambda r: r.url == live_server + HTMX_PATH) as htmx_file:
        page.goto(f"{live_server}/hoc-sinh")
    assert htmx_file.value.status in (200, 304)  # 304: revalidated from the cache of the login page

    # htmx is the vendored copy, loaded and active.
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.evaluate("document.querySelector('script[src*=htmx]').src") == live_server + HTMX_PATH
    # Every htmx request carries the page's CSRF token, the same one the forms post.
    token = json.loads(page.evaluate("document.body.getAttribute('hx-headers')"))["X-CSRFToken"]
    assert token
    assert page.locator("details.menu form input[name=csrf_token]").get_attribute("value") == token

    # An htmx-driven search: a fragment request with the token header, swapped into the page.
    first = page.locator("#student-results tbody tr").nth(1)
    name = first.locator("td").nth(1).inner_text()
    rows_before = page.locator("#student-results tbody tr").count()
    with page.expect_request(lambda r: "/hoc-sinh?" in r.url and r.headers.get("hx-request") == "true") as searched:
        page.fill("input[type=search]", name)
    assert searched.value.headers.get("x-csrftoken") == token
    expect(page.locator("#student-results tbody tr").first).to_contain_text(name)
    expect(page.locator("#student-results tbody tr")).not_to_have_count(rows_before)
    page.wait_for_url("**/hoc-sinh?q=*")

    # CSRF is enforced: a POST without the token is refused with the Vietnamese message ...
    refused = page.evaluate(
        """async () => { const r = await fetch('/dang-xuat', {method: 'POST'});
                         return {status: r.status, text: await r.text()}; }"""
    )
    assert refused["status"] == 400
    assert "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ" in refused["text"]
    page.goto(f"{live_server}/")
    expect(page.locator("#home-principal")).to_be_visible()
    # (Each render signs the session's token afresh, so read this page's copy.)
    token = json.loads(page.evaluate("document.body.getAttribute('hx-headers')"))["X-CSRFToken"]

    # ... and accepted from htmx, whose header carries it: this htmx POST signs the principal out.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dang-xuat")) as posted:
        page.evaluate("htmx.ajax('POST', '/dang-xuat', {source: document.body, swap: 'none'})")
    assert posted.value.request.headers.get("x-csrftoken") == token
    assert posted.value.status == 302
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/dang-nhap")
    assert_same_origin(requests, live_server)
