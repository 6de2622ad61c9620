"""The principal's audit-trail screens: filters, pages, detail diff, CSV export, the chain check, access."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from portal import audit
from portal.audit_trail import rules
from portal.db import engine_for
from portal.models import SchoolClass, SchoolYear, Student, User
from tests.audit.conftest import add_events, drop_guard, events
from tests.conftest import ROLE_USERS

BASE = "/nhat-ky"
TODAY_VN = rules.local_time(audit.now_text()).date()


def _rows(page: str) -> list[str]:
    """The event ids listed on a page (from the detail links)."""
    return re.findall(r'aria-label="Chi tiết sự kiện (\d+)"', page)


def _ids(page: str) -> list[int]:
    return [int(i) for i in _rows(page)]


@pytest.fixture
def school(session):
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    classes = {c.name: c for c in session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id))}
    student = session.exec(select(Student).order_by(Student.id)).first()
    return {"year": year, "6A1": classes["6A1"], "9A2": classes["9A2"], "student": student}


@pytest.fixture
def trail(app, school):
    """A few events of several kinds, people, classes and periods; returns their ids by name."""
    a1, a2, student = school["6A1"], school["9A2"], school["student"]
    names = ["grade_6a1", "grade_9a2", "comment_student", "export", "denied"]
    ids = add_events(app, [
        ("assessment.saved", {"actor_name": "Lê Minh Tuấn", "class_id": a1.id, "period": "ck1", "note": "hk1/ck",
                              "before": {"value": "7.5", "version": 1}, "after": {"value": "8.0", "version": 2}}),
        ("assessment.saved", {"actor_name": "Nguyễn Thị Hoa", "class_id": a2.id, "period": "gk2",
                              "before": None, "after": {"value": "6.0", "version": 1}}),
        ("comment.saved", {"actor_name": "Lê Minh Tuấn", "class_id": a1.id, "student_id": student.id,
                           "period": "ck1", "grant_id": 77, "before": {"text": "Chăm chỉ", "version": 1},
                           "after": {"text": "Chăm chỉ, tiến bộ", "version": 2}}),
        ("export", {"actor_name": "Trần Văn Hiệu", "note": "=HYPERLINK(\"http://x\")"}),
        ("authz.denied", {"note": "GET /tong-hop"}),
    ])
    return dict(zip(names, ids, strict=True))


# --- Access ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "teacher", "homeroom", "department_head", "office", "parent"])
def test_only_the_principal_and_vice_principal_may_open_the_trail(app, login_as, role, trail):
    client = login_as(role)
    for method, url in [("GET", BASE), ("GET", f"{BASE}/{trail['export']}"), ("GET", f"{BASE}/xuat.csv"),
                        ("POST", f"{BASE}/kiem-tra")]:
        assert client.open(url, method=method).status_code == 403, (role, url)


def test_vice_principal_opens_the_trail(login_as, trail):
    assert login_as("vice_principal").get(BASE).status_code == 200


def test_home_of_the_principal_links_the_trail(leader):
    assert f'href="{BASE}"' in leader.get("/").get_data(as_text=True)


# --- List and filters ---------------------------------------------------------------------------------------


def test_list_is_newest_first_with_names(leader, trail, school):
    page = leader.get(BASE).get_data(as_text=True)
    ids = _ids(page)
    assert ids == sorted(ids, reverse=True) and trail["denied"] in ids and trail["grade_6a1"] in ids
    assert "Sửa điểm/mức đánh giá" in page and "Cuối học kì I" in page
    assert f"6A1 ({school['year'].name})" in page and school["student"].full_name in page
    assert 'class="audit-table"' in page and 'data-label="Thời gian"' in page  # cards on phones, a table on desktops


@pytest.mark.parametrize(("args", "expected"), [
    ({"hd": "assessment.saved"}, ["grade_9a2", "grade_6a1"]),
    ({"ky": "ck1"}, ["comment_student", "grade_6a1"]),
    ({"ky": "ck1", "hd": "comment.saved"}, ["comment_student"]),
])
def test_filters_by_action_and_period(leader, trail, args, expected):
    page = leader.get(BASE, query_string=args).get_data(as_text=True)
    assert _ids(page) == [trail[name] for name in expected]


def test_filter_by_class(leader, trail, school):
    page = leader.get(BASE, query_string={"lop": school["9A2"].id}).get_data(as_text=True)
    assert _ids(page) == [trail["grade_9a2"]]


def test_filter_by_student_name_or_code(leader, trail, school):
    student = school["student"]
    for query in (student.student_code, student.full_name.split()[-1]):
        page = leader.get(BASE, query_string={"hs": query}).get_data(as_text=True)
        assert trail["comment_student"] in _ids(page), query
        assert trail["grade_9a2"] not in _ids(page)


def test_filter_by_person(app, login_as, session):
    client = login_as("teacher")  # tuanlm's own login event
    client.get("/tong-hop")  # and his denial
    leader = login_as("principal")
    teacher = session.exec(select(User).where(User.username == ROLE_USERS["teacher"])).one()
    mine = [e.id for e in reversed(events(session)) if e.actor_id == teacher.id]
    assert len(mine) >= 2
    for query in (teacher.username, teacher.full_name.split()[-1]):
        page = leader.get(BASE, query_string={"nguoi": query}).get_data(as_text=True)
        assert set(mine) <= set(_ids(page)), query
    assert _ids(leader.get(BASE, query_string={"nguoi": teacher.username}).get_data(as_text=True)) == mine


def test_filter_by_vietnam_dates(app, leader, trail):
    assert _ids(leader.get(BASE, query_string={"tu": TODAY_VN.isoformat()}).get_data(as_text=True))
    tomorrow = (TODAY_VN + timedelta(days=1)).isoformat()
    assert _ids(leader.get(BASE, query_string={"tu": tomorrow}).get_data(as_text=True)) == []
    yesterday = (TODAY_VN - timedelta(days=1)).strftime("%d/%m/%Y")
    assert _ids(leader.get(BASE, query_string={"den": yesterday}).get_data(as_text=True)) == []


def test_day_bounds_are_vietnam_days_in_utc():
    assert rules.day_bounds_utc(date(2026, 1, 2), date(2026, 1, 2)) == ("2026-01-01T17:00:00.000000Z",
                                                                        "2026-01-02T17:00:00.000000Z")
    assert rules.day_bounds_utc(None, None) == (None, None)


def test_bad_filters_are_named_not_applied(leader, trail):
    response = leader.get(BASE, query_string={"hd": "drop.table", "ky": "x", "tu": "32/13/2026", "lop": "abc"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in ("Loại hoạt động không hợp lệ", "Kì đánh giá không hợp lệ", "Từ ngày không hợp lệ",
                    "Lớp không hợp lệ"):
        assert message in page
    assert trail["denied"] in _ids(page)


def test_filters_answer_htmx_with_the_fragment(leader, trail):
    response = leader.get(BASE, query_string={"hd": "export"}, headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<div id="audit-results">') and "<html" not in page
    assert _ids(page) == [trail["export"]]
    assert "HX-Request" in response.headers["Vary"]


def test_pages_of_fifty_newest_first(app, leader, session):
    add_events(app, [("export", {"note": f"lô {i}"}) for i in range(120)])
    total = len(events(session))
    first = leader.get(BASE).get_data(as_text=True)
    ids = _ids(first)
    assert len(ids) == 50 and ids[0] == total
    older = re.search(r'href="(/nhat-ky\?truoc=\d+)"', first).group(1)
    second = _ids(leader.get(older).get_data(as_text=True))
    assert second == list(range(ids[-1] - 1, ids[-1] - 51, -1))
    newer = re.search(r'href="(/nhat-ky\?sau=\d+)"', leader.get(older).get_data(as_text=True)).group(1)
    assert _ids(leader.get(newer).get_data(as_text=True)) == ids
    last = _ids(leader.get(f"{BASE}?truoc=21").get_data(as_text=True))
    assert last == list(range(20, 0, -1))
    assert "truoc=" not in leader.get(f"{BASE}?truoc=21").get_data(as_text=True)


# --- Detail ------------------------------------------------------------------------------------------------------


def test_detail_shows_the_before_after_diff_field_by_field(leader, trail):
    page = leader.get(f"{BASE}/{trail['grade_6a1']}").get_data(as_text=True)
    changed = re.findall(r'<tr class="audit-changed">(.*?)</tr>', page, re.S)
    same = re.findall(r'<tr class="audit-same">(.*?)</tr>', page, re.S)
    assert len(changed) == 2 and not same  # value and version both changed
    assert "Giá trị" in changed[0] and "<del class=\"audit-before\">7,5</del>" in changed[0]
    assert "<ins class=\"audit-after\">8,0</ins>" in changed[0]
    assert "Hash khớp nội dung" in page


def test_detail_of_a_creation_shows_empty_before(leader, trail):
    page = leader.get(f"{BASE}/{trail['grade_9a2']}").get_data(as_text=True)
    assert "(trống)" in page and "6,0" in page


def test_detail_names_the_grant(app, leader, trail):
    page = leader.get(f"{BASE}/{trail['comment_student']}").get_data(as_text=True)
    assert "Đề nghị mở khóa #77" in page
    if "periods.decision" in app.view_functions:
        assert 'href="/ky-danh-gia/de-nghi/77"' in page


def test_detail_of_an_event_without_change(leader, trail):
    page = leader.get(f"{BASE}/{trail['denied']}").get_data(as_text=True)
    assert "không thay đổi dữ liệu" in page and "GET /tong-hop" in page


def test_detail_of_a_missing_event_is_404(leader):
    assert leader.get(f"{BASE}/999999").status_code == 404


def test_diff_rules():
    rows = rules.compute_diff('{"text":"a","version":1}', '{"text":"b","version":1}')
    assert [(r.label, r.before, r.after, r.changed) for r in rows] == [("Nội dung", "a", "b", True),
                                                                     ("Phiên bản", "1", "1", False)]
    assert rules.compute_diff("", "") == []
    assert [(r.before, r.after) for r in rules.compute_diff("", '{"value":"9"}')] == [("(trống)", "9")]
    assert [(r.before, r.after, r.changed) for r in rules.compute_diff('"x"', '"y"')] == [("x", "y", True)]


# --- CSV ---------------------------------------------------------------------------------------------------------


def test_csv_export_has_a_bom_every_column_and_the_filtered_rows(app, leader, session, trail):
    seen = len(events(session))
    response = leader.get(f"{BASE}/xuat.csv", query_string={"hd": "assessment.saved"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="nhat-ky-')
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    assert header[:len(audit.FIELDS) + 2] == [*audit.FIELDS, "prev_hash", "hash"]
    assert [int(r[0]) for r in rows] == [trail["grade_6a1"], trail["grade_9a2"]]  # chain order
    stored = {e.id: e for e in events(session)}
    for row in rows:
        event = stored[int(row[0])]
        record = dict(zip(header, row, strict=True))
        assert record["hash"] == event.hash and record["prev_hash"] == event.prev_hash
        assert record["actor_name"] == event.actor_name and record["after"] == event.after
    assert "Lê Minh Tuấn" in body.decode("utf-8-sig")
    new = events(session)[seen:]
    assert [(e.action, e.object_type) for e in new] == [("export", "csv")]
    assert "hd=assessment.saved" in new[0].note


def test_csv_neutralises_formulas(leader, trail):
    body = leader.get(f"{BASE}/xuat.csv", query_string={"hd": "export"}).data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    note = next(r["note"] for r in rows if r["id"] == str(trail["export"]))
    assert note == "'=HYPERLINK(\"http://x\")"


def test_csv_stream_returns_its_database_connection(app, leader, trail):
    # The body is read after the request's teardown; a connection checked out then and never returned
    # was finalised later by the garbage collector, against a database that might be gone by then.
    response = leader.get(f"{BASE}/xuat.csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert engine_for(app).pool.checkedout() == 0


def test_csv_with_bad_filters_is_refused(leader):
    assert leader.get(f"{BASE}/xuat.csv", query_string={"tu": "hôm qua"}).status_code == 400


def test_csv_link_carries_the_filters(leader, trail):
    page = leader.get(BASE, query_string={"hd": "export", "ky": ""}).get_data(as_text=True)
    assert 'href="/nhat-ky/xuat.csv?hd=export"' in page


# --- The chain check -------------------------------------------------------------------------------------------


def test_verify_button_answers_with_the_verdict_fragment_and_is_recorded(app, leader, session, trail):
    before = audit.verify(engine_for(app))
    response = leader.post(f"{BASE}/kiem-tra", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="audit-verdict"') and "<html" not in page
    count = f"{before.count:,}".replace(",", ".")
    assert "Chuỗi nhật ký nguyên vẹn" in page and f"{count} sự kiện" in page and before.head in page
    last = events(session)[-1]
    assert last.action == "audit.verified" and last.note.endswith(before.head)
    # Without htmx the same form gives a whole page.
    full = leader.post(f"{BASE}/kiem-tra").get_data(as_text=True)
    assert "<html" in full and "Chuỗi nhật ký nguyên vẹn" in full


def test_verify_button_names_the_first_bad_event(app, leader, session, trail):
    drop_guard(app)
    with engine_for(app, write=True).begin() as conn:
        conn.execute(text("UPDATE audit_events SET note = 'sửa lén' WHERE id = :id"), {"id": trail["grade_9a2"]})
    page = leader.post(f"{BASE}/kiem-tra", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "CHUỖI NHẬT KÝ BỊ HỎNG" in page
    assert f'href="/nhat-ky/{trail["grade_9a2"]}">sự kiện {trail["grade_9a2"]}</a>' in page
    assert f"Sự kiện {trail['grade_9a2']} đã bị sửa sau khi ghi" in page
    last = events(session)[-1]
    assert last.action == "audit.verified" and f"sự kiện {trail['grade_9a2']}" in last.note
    detail = leader.get(f"{BASE}/{trail['grade_9a2']}").get_data(as_text=True)
    assert "Hash KHÔNG khớp nội dung" in detail
