"""Periods and unlock requests in a real Chromium, on a phone and a desktop (CSRF on, htmx live): the principal
locks a period, a teacher asks from the locked grid's banner, the principal grants it on the decision screen
(a refused form first, then with a scanned PDF), the teacher's edit under the grant shows on the grant's page.
Nothing runs off the screen at any step; screenshots are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from portal.authz import Actor
from portal.models import GradePeriod, SchoolYear, Subject, User
from portal.periods import service as periods
from tests.browser.conftest import (
    SIZES,
    assert_no_horizontal_overflow,
    assert_same_origin,
    login,
    record_requests,
    screenshot,
)
from tests.conftest import ROLE_USERS
from tests.factories import current_class

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def period(session, code: str) -> GradePeriod:
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    return session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id,
                                                  GradePeriod.code == code)).one()


@pytest.fixture
def locked(session):
    """End of term I locked for the whole school; a homeroom request already waiting; Tin học 6A1."""
    principal = Actor(session, session.exec(select(User).where(User.username == ROLE_USERS["principal"])).one())
    homeroom = Actor(session, session.exec(select(User).where(User.username == ROLE_USERS["homeroom"])).one())
    ck1 = period(session, "ck1")
    klass = current_class(session, "6A1")
    periods.lock(session, actor=principal, period_id=ck1.id, scope="school")
    periods.request_unlock(session, actor=homeroom, period_id=ck1.id, class_id=klass.id, subject_id=None,
                           student_id=None, reason="Sửa số buổi nghỉ có phép của em Nguyễn Hữu An (giấy phép nộp "
                                                   "muộn), kèm đơn của phụ huynh.")
    session.commit()
    subject = session.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == "tinhoc")).one()
    return klass, subject


@SIZES
def test_lock_request_grant_and_edit(live_server, page_at, session, locked, size):
    width, height = size
    klass, subject = locked
    grid = f"{live_server}/giang-day/{klass.id}/{subject.id}/hk1"

    # The teacher finds the period locked on the grid and asks from its banner.
    teacher = page_at(width, height)
    login(teacher, live_server, "teacher")
    teacher.goto(grid)
    banner = teacher.locator("#khoa-ck1")
    expect(banner).to_contain_text("Kì Cuối học kì I đã khóa (Hiệu trưởng đã khóa kì này)")
    screenshot(teacher, f"periods-grid-locked-{width}x{height}")
    assert_no_horizontal_overflow(teacher)
    banner.get_by_role("link", name="Đề nghị mở khóa").click()
    expect(teacher.locator("#period")).to_have_value("ck1")
    expect(teacher.locator("#scope")).to_have_value(f"{klass.id}-{subject.id}")
    first_6a1 = teacher.locator("#student_id option").nth(1).text_content()
    teacher.select_option("#scope", label="Tin học · lớp 7A1")  # htmx brings that class's students
    # (a generous timeout: on a loaded CI machine the htmx swap has taken more than the default 5 s)
    expect(teacher.locator("#student_id option").nth(1)).not_to_have_text(first_6a1, timeout=20_000)
    teacher.select_option("#scope", label="Tin học · lớp 6A1")
    expect(teacher.locator("#student_id option").nth(1)).to_have_text(first_6a1, timeout=20_000)
    teacher.fill("#reason", "Điểm TX1 của em đầu danh sách bị bỏ sót khi nhập, đã có sổ điểm giấy đối chiếu.")
    with teacher.expect_navigation():
        teacher.get_by_role("button", name="Gửi đề nghị").click()
    expect(teacher.locator(".flash-success")).to_contain_text("Đã gửi đề nghị mở khóa")
    expect(teacher.locator("#de-nghi-cua-toi")).to_contain_text("Chờ quyết định")
    screenshot(teacher, f"periods-request-{width}x{height}")
    assert_no_horizontal_overflow(teacher)

    # The principal's periods screen: lock mid-term I for one class (htmx swaps the card).
    principal = page_at(width, height)
    requests = record_requests(principal)
    login(principal, live_server, "principal")
    principal.get_by_role("link", name="Kì đánh giá và khóa sổ").click()
    expect(principal.locator("#ky-ck1 .pd-state")).to_have_text("Hiệu trưởng đã khóa toàn trường")
    gk1 = period(session, "gk1")
    principal.select_option(f"#lock-{gk1.id}", label="Lớp 7A1")
    principal.locator("#ky-gk1").get_by_role("button", name="Khóa").click()
    expect(principal.locator("#ky-gk1 .pd-state")).to_have_text("Đang mở · khóa riêng: Lớp 7A1")
    expect(principal.locator("#ky-gk1 .pd-saved")).to_contain_text("Đã khóa kì Giữa học kì I: Lớp 7A1.")
    principal.evaluate("window.scrollTo(0, 0)")
    screenshot(principal, f"periods-index-{width}x{height}")
    assert_no_horizontal_overflow(principal)

    # The inbox, then the decision screen.
    principal.locator(".subnav").get_by_role("link", name="Đề nghị mở khóa (2 chờ)").click()
    expect(principal.locator("#cho-quyet-dinh li")).to_have_count(2)
    screenshot(principal, f"periods-inbox-{width}x{height}")
    assert_no_horizontal_overflow(principal)
    principal.locator("#cho-quyet-dinh li").nth(1).get_by_role("link", name="Xem và quyết định").click()
    expect(principal.locator("h1")).to_contain_text("Đề nghị mở khóa số")
    expect(principal.locator("input[name=approver]")).to_have_value("Nguyễn Văn Thành")
    screenshot(principal, f"periods-decision-{width}x{height}")
    assert_no_horizontal_overflow(principal)

    # Without the minutes' number: refused next to the field, the rest kept.
    principal.fill("input[name=approver]", "Nguyễn Văn Thành, Hiệu trưởng")
    with principal.expect_navigation():
        principal.get_by_role("button", name="Cho mở khóa").click()
    expect(principal.locator("#e-minutes_number")).to_contain_text("Hãy nhập số biên bản")
    expect(principal.locator("input[name=approver]")).to_have_value("Nguyễn Văn Thành, Hiệu trưởng")
    principal.locator("#cho-mo").scroll_into_view_if_needed()
    screenshot(principal, f"periods-decision-errors-{width}x{height}")
    assert_no_horizontal_overflow(principal)

    principal.fill("input[name=minutes_number]", "12/BB-THCS")
    principal.set_input_files("input[name=scan]", files=[
        {"name": "bien-ban-12.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    with principal.expect_navigation():
        principal.get_by_role("button", name="Cho mở khóa").click()
    expect(principal.locator(".flash-success")).to_contain_text("Đã cho mở khóa theo biên bản số 12/BB-THCS")
    expect(principal.locator("#quyet-dinh")).to_contain_text("bien-ban-12.pdf")

    # The teacher's edit under the grant, then the grant's page lists it.
    teacher.goto(grid)
    expect(teacher.locator("#khoa-ck1")).to_contain_text("Hiệu trưởng đã cho mở khóa cả lớp đến")
    cell = teacher.locator("#gradebook tbody tr").first.locator("form[id$='-tx1']")
    cell.locator("input[name=value]").fill("8,5")
    cell.locator("input[name=value]").press("Tab")
    expect(cell).to_have_attribute("data-version", "1")
    teacher.goto(f"{live_server}/")
    expect(teacher.locator("#mo-khoa-teacher")).to_contain_text("Đã cho mở đến")
    teacher.locator("#mo-khoa-teacher").scroll_into_view_if_needed()
    screenshot(teacher, f"periods-home-teacher-{width}x{height}")
    assert_no_horizontal_overflow(teacher)
    principal.reload()
    expect(principal.locator("#thay-doi li")).to_have_count(1)
    expect(principal.locator("#thay-doi li")).to_contain_text("(trống) → 8,5")
    expect(principal.locator("#thay-doi li")).to_contain_text("Lê Minh Tuấn")
    screenshot(principal, f"periods-grant-{width}x{height}")
    assert_no_horizontal_overflow(principal)
    assert_same_origin(requests, live_server)
