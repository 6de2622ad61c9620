"""The dashboard page and fragment, its access, and the progress shown on the home screens."""

from __future__ import annotations

from datetime import timedelta

import lxml.html
import pytest

from tests.conftest import ROLE_USERS
from tests.dashboard.helpers import OPEN_PLAN, save, save_homeroom, set_deadlines
from tests.review.helpers import current_class, subject


@pytest.fixture
def entered(session):
    set_deadlines(session, OPEN_PLAN)
    save(session, "6A1", "toan", "hk1", "gk", range(2))
    save(session, "6A1", "tinhoc", "hk1", "gk", range(30))
    save_homeroom(session, "6A1", "hk1", "conduct", range(2), "T")
    return session


def _doc(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def _text(element) -> str:
    return " ".join(element.text_content().split())


def _subject_row(doc, class_id, label):
    [row] = doc.xpath(f"//details[@id='lop-{class_id}']//tbody/tr[th/a[normalize-space()='{label}']]")
    return row


def test_dashboard_shows_each_class_with_its_subjects(login_as, entered):
    response = login_as("principal").get("/tien-do")
    assert response.status_code == 200
    doc = _doc(response)
    assert doc.xpath("//h1")[0].text_content() == "Tiến độ hoàn thành học bạ"
    [active] = doc.xpath("//nav[contains(@class, 'db-periods')]/a[@aria-current='page']")
    assert "Giữa HK I" in _text(active) and "kì tới hạn" in _text(active)
    classes = doc.xpath("//details[contains(@class, 'db-class')]")
    assert [_text(c.xpath(".//strong")[0]) for c in classes] == [
        "Lớp 6A1", "Lớp 6A2", "Lớp 7A1", "Lớp 7A2", "Lớp 8A1", "Lớp 8A2", "Lớp 9A1", "Lớp 9A2"]
    klass = current_class(entered, "6A1")
    summary = _text(doc.xpath(f"//details[@id='lop-{klass.id}']/summary")[0])
    assert "8 %" in summary and "32/390 ô" in summary  # 2 Toán + 30 Tin học of 13 · 30 mid-term cells
    # No transcript yet; no sending endpoint configured in the tests' app (tests/dashboard/test_transcripts.py
    # has transcripts signed, released and sent).
    assert "Đã ký 0 % (0/30)" in summary and "Đã phát hành 0 % (0/30)" in summary
    assert "Đã gửi chưa cấu hình nơi nhận" in summary
    toan = _subject_row(doc, klass.id, "Toán")
    assert "6 %" in _text(toan) and "2/30" in _text(toan) and "Đang nhập" in _text(toan)
    assert toan.xpath(".//a/@href") == [f"/to-chuyen-mon/{klass.id}/{subject(entered, klass, 'toan').id}/hk1"]
    assert "Hoàn thành" in _text(_subject_row(doc, klass.id, "Tin học"))
    assert len(doc.xpath(f"//details[@id='lop-{klass.id}']//tbody/tr")) == 13
    deadlines = [_text(li) for li in doc.xpath("//section[@id='han-nam-hoc']//li")]
    assert len(deadlines) == 4 and deadlines[0].startswith("Hoàn thành nhập dữ liệu cả năm")
    assert "còn 150 ngày" in deadlines[0]
    assert any(d.startswith("Hoàn thành gửi học bạ về CSDL của Bộ 20/08/") for d in deadlines)


def test_period_selector_page_and_fragment(login_as, entered):
    client = login_as("vice_principal")
    doc = _doc(client.get("/tien-do?ky=ck1"))
    [active] = doc.xpath("//nav[contains(@class, 'db-periods')]/a[@aria-current='page']")
    assert "Cuối HK I" in _text(active)
    assert [a.get("href") for a in doc.xpath("//nav[contains(@class, 'db-periods')]/a")] == [
        f"/tien-do?ky={code}" for code in ("gk1", "ck1", "gk2", "ck2", "cn")]
    assert _text(doc.xpath("//h2[@id='ky-title']")[0]) == "Cuối học kì I"
    klass = current_class(entered, "6A1")
    homeroom = _subject_row(doc, klass.id, "Mục chủ nhiệm")
    assert "2/90" in _text(homeroom)
    assert homeroom.xpath(".//a/@href") == [f"/chu-nhiem/{klass.id}/ren-luyen/hk1"]

    fragment = client.get("/tien-do?ky=cn", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "han-nam-hoc" not in body
    root = lxml.html.fragment_fromstring(body)
    assert root.get("id") == "tien-do" and _text(root.xpath("//h2[@id='ky-title']")[0]) == "Cả năm"
    assert client.get("/tien-do?ky=hk1").status_code == 404


def test_late_and_soon_items_are_highlighted(login_as, entered):
    klass = current_class(entered, "6A1")
    set_deadlines(entered, {"gk1": -2})
    client = login_as("principal")
    doc = _doc(client.get("/tien-do?ky=gk1"))
    assert "db-late" in doc.xpath(f"//details[@id='lop-{klass.id}']/@class")[0]
    toan = _subject_row(doc, klass.id, "Toán")
    assert toan.get("class") == "db-row-late" and "Trễ hạn" in _text(toan)
    assert _subject_row(doc, klass.id, "Tin học").get("class") == "db-row-done"
    tile = doc.xpath("//div[contains(@class, 'db-tile-late')]")[0]
    assert "103" in _text(tile)  # 8 classes × 13 subjects, less Tin học of 6A1
    assert "quá hạn 2 ngày" in _text(doc.xpath("//section[contains(@class, 'db-period-card')]")[0])

    set_deadlines(entered, {"gk1": 5})
    doc = _doc(client.get("/tien-do?ky=gk1"))
    assert _subject_row(doc, klass.id, "Toán").get("class") == "db-row-soon"
    assert "Sắp đến hạn" in _text(_subject_row(doc, klass.id, "Toán"))
    set_deadlines(entered, {"gk1": 20})
    doc = _doc(client.get("/tien-do?ky=gk1"))
    assert _subject_row(doc, klass.id, "Toán").get("class") == "db-row-open"


@pytest.mark.parametrize("role", [r for r in ROLE_USERS if r not in ("principal", "vice_principal")])
def test_only_leaders_see_the_dashboard(login_as, role):
    assert login_as(role).get("/tien-do").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/tien-do")
    assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"]


# --- Home screens -----------------------------------------------------------------------------------------


def test_teacher_home_shows_pending_pairs_and_the_next_deadline(login_as, entered):
    today = set_deadlines(entered, OPEN_PLAN)
    doc = _doc(login_as("teacher").get("/"))
    [block] = doc.xpath("//div[@id='tien-do-teacher']")
    text = _text(block)
    due = (today + timedelta(days=10)).strftime("%d/%m/%Y")
    assert f"Hạn tới: Giữa học kì I · {due}" in text and "còn 10 ngày" in text
    links = block.xpath(".//ul[contains(@class, 'db-pending')]/li/a")
    others = ("6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2")
    assert [_text(a) for a in links] == [f"Lớp {n} · Tin học" for n in others]
    klass = current_class(entered, "6A2")
    assert links[0].get("href") == f"/giang-day/{klass.id}/{subject(entered, klass, 'tinhoc').id}/hk1"
    assert "0 % · còn 30 ô" in _text(links[0].getparent())
    todos = [_text(li) for li in doc.xpath("//section[@id='home-teacher']//ul[@class='todo']/li")]
    assert any("Còn 7 lớp–môn chưa nhập đủ điểm Giữa học kì I" in t for t in todos)


def test_teacher_home_lists_overdue_pairs(login_as, entered):
    set_deadlines(entered, {"gk1": -1})
    doc = _doc(login_as("teacher").get("/"))
    [block] = doc.xpath("//div[@id='tien-do-teacher']")
    assert "Hạn tới: Cuối học kì I" in _text(block)
    overdue = block.xpath(".//ul[contains(@class, 'db-overdue')]/li")
    assert len(overdue) == 5 and "Giữa học kì I · lớp 6A2 · Tin học" in _text(overdue[0])
    assert "và 2 mục khác" in _text(block)


def test_homeroom_home_shows_the_class_entries(login_as, entered):
    doc = _doc(login_as("homeroom").get("/"))
    [block] = doc.xpath("//div[@id='tien-do-homeroom']")
    assert "Tiến độ mục chủ nhiệm" in _text(block) and "Hạn tới: Cuối học kì I" in _text(block)
    [link] = block.xpath(".//ul[contains(@class, 'db-pending')]/li/a")
    klass = current_class(entered, "6A1")
    assert _text(link) == "Lớp 6A1" and link.get("href") == f"/chu-nhiem/{klass.id}/ren-luyen/hk1"
    assert "2 % · còn 88 mục" in _text(link.getparent())


def test_principal_home_links_to_the_dashboard_with_the_most_urgent_items(login_as, entered):
    client = login_as("principal")
    doc = _doc(client.get("/"))
    [block] = doc.xpath("//div[@id='tien-do-truong']")
    assert "Không có lớp – môn nào trễ hạn" in _text(block)
    assert block.xpath(".//a[contains(@class, 'btn')]/@href") == ["/tien-do"]

    set_deadlines(entered, {"gk1": -3})
    doc = _doc(client.get("/"))
    [block] = doc.xpath("//div[@id='tien-do-truong']")
    items = block.xpath(".//ul[contains(@class, 'db-pending')]/li")
    assert len(items) == 5 and "5 mục gấp nhất trong 103" in _text(block)
    klass = current_class(entered, "6A1")
    first = items[0].xpath("./a")[0]
    assert _text(first) == "Lớp 6A1 · Ngữ văn · Giữa HK I" and first.get("href") == f"/tien-do?ky=gk1#lop-{klass.id}"
    assert "0 % · quá hạn 3 ngày" in _text(items[0])
