"""Browser fixtures: the test app served live (CSRF on) and driven by Debian's Chromium through Playwright.

One Chromium per test session (per xdist worker), a fresh browser context per test, a fresh seeded
database per test (the `app` fixture of tests/conftest.py). Screenshots are kept as test artefacts in
test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page
from werkzeug.serving import make_server

from tests.conftest import DEMO_PASSWORD, ROLE_USERS, base_config

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parents[1] / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
PHONE = (390, 844)
DESKTOP = (1280, 800)
# Parametrize a test over the phone and desktop viewports (ids "390x844", "1280x800").
SIZES = pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=lambda s: f"{s[0]}x{s[1]}")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium against a live server (tests/browser)")


def pytest_collection_modifyitems(config, items):
    # This hook sees every collected item of the session, not only this directory's.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    """As in tests/conftest.py, but with CSRF protection on, as in production."""
    (tmp_path / "instance").mkdir(exist_ok=True)
    return {**base_config(tmp_path / "instance", database_url), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_server(app):
    """Serve the test app on a free local port in a daemon thread; yield its base URL (the origin)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def page_at(browser):
    """Return page_at(width, height): a page in a new context of that size, closed after the test.

    Phone widths (≤ 480 px) are emulated as a touch phone: the meta viewport is honoured, scrollbars
    overlay the page and a device pixel ratio of 2 renders diacritics as a cheap phone's screen does.
    """
    contexts = []

    def _page_at(width: int, height: int) -> Page:
        phone = width <= 480
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
            is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _page_at
    for context in contexts:
        context.close()


def login(page: Page, base: str, role: str, *, password: str = DEMO_PASSWORD) -> None:
    """Fill and submit the login form as the demo user of the role; return once the next page has loaded."""
    page.goto(f"{base}/dang-nhap")
    page.fill("input[name=username]", ROLE_USERS[role])
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def record_requests(page: Page) -> list[str]:
    """Collect the URL of every request the page makes from now on."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def assert_same_origin(urls: list[str], base: str) -> None:
    assert urls, "no request was recorded"
    foreign = [u for u in urls if not u.startswith(base + "/")]
    assert not foreign, f"requests left the live server {base}: {foreign}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Every rendered element whose box crosses the left or right edge of the viewport, unless an ancestor
# below <body> scrolls horizontally (.table-wrap, .subnav). <body> has overflow-x: hidden, which hides
# page-level overflow from scrollWidth but would cut content off: it deliberately exempts nothing.
_OVERFLOW_JS = """
() => {
  const vw = window.innerWidth, root = document.documentElement;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const inScroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body && a !== root; a = a.parentElement) {
      if (scrolls(a)) return true;
    }
    return false;
  };
  const describe = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) { parts.unshift(s + '#' + e.id); break; }
      if (e.classList.length) s += '.' + [...e.classList].join('.');
      parts.unshift(s);
    }
    return parts.join(' > ');
  };
  const offenders = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if ((r.right > vw + 0.5 || r.left < -0.5) && !inScroller(el)) {
      offenders.push(`${describe(el)} [left ${Math.round(r.left)}, right ${Math.round(r.right)}]`
        + ` "${(el.innerText || '').trim().slice(0, 40)}"`);
    }
  }
  return {innerWidth: vw, scrollWidth: root.scrollWidth, offenders};
}
"""


def assert_no_horizontal_overflow(page: Page) -> None:
    """The page fits the viewport's width: no sideways scrolling, nothing cut off at the edges."""
    width = page.viewport_size["width"]
    # Measure the page as laid out with its stylesheets: a DOM assertion can pass before they have loaded,
    # and an unstyled table makes a phone zoom out (seen on a loaded CI machine).
    page.wait_for_load_state("load")
    result = page.evaluate(_OVERFLOW_JS)
    detail = f"innerWidth {result['innerWidth']}, scrollWidth {result['scrollWidth']}; crossing the edge:\n" + (
        "\n".join(result["offenders"]) or "(no element box: overflowing text?)"
    )
    # A phone zooms out to fit content wider than the screen: innerWidth then grows past the viewport.
    assert result["innerWidth"] == width, f"page zoomed out to fit its content at {width} px: {detail}"
    assert result["scrollWidth"] <= width, f"page scrolls sideways at {width} px: {detail}"
    assert not result["offenders"], f"elements cross the viewport edge at {width} px: {detail}"
