"""One audit event per login (success and failure), logout, password change, denial, export and import."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from sqlmodel import select

from portal import audit
from portal.authz import public
from portal.db import engine_for, get_session
from portal.errors import Forbidden
from portal.models import SchoolClass, SchoolYear, User
from tests.audit.conftest import events
from tests.conftest import DEMO_PASSWORD, ROLE_USERS

LOGIN = "/dang-nhap"


def _user(session, role: str) -> User:
    return session.exec(select(User).where(User.username == ROLE_USERS[role])).one()


def _new(session, seen: int, action: str | None = None):
    """The events appended since `seen` events existed (of one action, if given)."""
    return [e for e in events(session)[seen:] if action is None or e.action == action]


# --- Sign-in, sign-out, password ------------------------------------------------------------------------


def test_login_success_is_one_event_naming_the_user(client, session):
    seen = len(events(session))
    assert client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD}).status_code == 302
    new = _new(session, seen)
    assert [e.action for e in new] == ["auth.login"]
    principal = _user(session, "principal")
    assert (new[0].actor_id, new[0].actor_name, new[0].object_id) == (principal.id, principal.full_name,
                                                                      str(principal.id))
    assert new[0].ip == "127.0.0.1"


@pytest.mark.parametrize(("username", "reason"), [("hieutruong", "sai mật khẩu"),
                                                  ("khong-co-ai", "không có tài khoản này")])
def test_login_failure_is_one_event_kept_with_the_attempt(client, session, username, reason):
    seen = len(events(session))
    assert client.post(LOGIN, data={"username": username, "password": "sai-mat-khau"}).status_code == 401
    new = _new(session, seen)
    assert [e.action for e in new] == ["auth.login_failed"]
    assert new[0].actor_id is None and new[0].note == f"{username}: {reason}"
    assert audit.verify(engine_for(client.application)).ok


def test_throttled_login_is_recorded_as_a_failure(app, client, session):
    app.config["LOGIN_MAX_FAILURES"] = 2
    for _ in range(2):
        client.post(LOGIN, data={"username": "hieutruong", "password": "sai"})
    seen = len(events(session))
    assert client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD}).status_code == 429
    new = _new(session, seen)
    assert [(e.action, e.note) for e in new] == [("auth.login_failed", "hieutruong: bị chặn tạm thời")]


def test_logout_and_password_change_are_recorded(login_as, session):
    client = login_as("teacher")
    teacher = _user(session, "teacher")
    seen = len(events(session))
    changed = client.post("/doi-mat-khau", data={"current": DEMO_PASSWORD, "new": "Bang-diem-lop-6A1-xanh",
                                                 "confirm": "Bang-diem-lop-6A1-xanh"})
    assert changed.status_code == 302
    assert client.post("/dang-xuat").status_code == 302
    new = _new(session, seen)
    assert [(e.action, e.actor_id) for e in new] == [("auth.password_changed", teacher.id),
                                                     ("auth.logout", teacher.id)]
    assert "Bang-diem" not in json.dumps([e.model_dump() for e in new], ensure_ascii=False)


def test_a_refused_password_change_records_nothing(login_as, session):
    client = login_as("teacher")
    seen = len(events(session))
    client.post("/doi-mat-khau", data={"current": "sai", "new": "Bang-diem-lop-6A1-xanh",
                                       "confirm": "Bang-diem-lop-6A1-xanh"})
    assert _new(session, seen) == []


# --- Denials --------------------------------------------------------------------------------------------------


def test_a_denied_route_is_one_event_with_method_and_path(login_as, session):
    client = login_as("teacher")
    seen = len(events(session))
    assert client.get("/tong-hop?ky=hk1").status_code == 403
    new = _new(session, seen)
    assert [e.action for e in new] == ["authz.denied"]
    teacher = _user(session, "teacher")
    assert (new[0].actor_id, new[0].actor_name) == (teacher.id, teacher.full_name)
    assert new[0].note == "GET /tong-hop?ky=hk1" and new[0].object_id == "review.summary"


def test_a_denied_post_is_recorded_too(login_as, session):
    client = login_as("teacher")
    seen = len(events(session))
    assert client.post("/nhat-ky/kiem-tra").status_code == 403
    assert [e.note for e in _new(session, seen, "authz.denied")] == ["POST /nhat-ky/kiem-tra"]


def test_anonymous_visitors_are_sent_to_login_without_an_event(client, session):
    seen = len(events(session))
    assert client.get("/tong-hop").status_code == 302
    assert _new(session, seen) == []


@pytest.fixture
def refusing_app(app):
    """Two extra routes whose service refuses with Forbidden, one of them after writing in the request."""

    @app.get("/_test/forbidden")
    @public
    def _forbidden():
        raise Forbidden("Bạn không dạy môn này.")

    @app.post("/_test/forbidden-after-write")
    @public
    def _forbidden_after_write():
        audit.record(get_session(), "admin.changed", note="phải bị huỷ")  # holds SQLite's write lock
        raise Forbidden("Chỉ hiệu trưởng.")

    return app


def test_a_forbidden_domain_error_is_one_event(refusing_app, session):
    client = refusing_app.test_client()
    seen = len(events(session))
    response = client.get("/_test/forbidden")
    assert response.status_code == 403 and "Bạn không dạy môn này." in response.get_data(as_text=True)
    new = _new(session, seen)
    assert [(e.action, e.note) for e in new] == [("authz.denied", "GET /_test/forbidden — Bạn không dạy môn này.")]


def test_a_forbidden_after_a_write_rolls_the_write_back_and_does_not_wait_for_its_lock(refusing_app, session):
    client = refusing_app.test_client()
    seen = len(events(session))
    started = time.monotonic()
    assert client.post("/_test/forbidden-after-write").status_code == 403
    assert time.monotonic() - started < 5  # (the busy timeout is 30 s: a self-deadlock would show)
    assert [e.action for e in _new(session, seen)] == ["authz.denied"]
    assert audit.verify(engine_for(refusing_app)).ok


# --- Exports and imports --------------------------------------------------------------------------------------


def test_each_xlsx_export_is_one_event(login_as, session):
    from tests.gradebook.test_xlsx import pair_ids

    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    own = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                 SchoolClass.name == "6A1")).one()
    class_id, tin = pair_ids(session, "6A1", "tinhoc")
    teacher = login_as("teacher")
    seen = len(events(session))
    assert teacher.get(f"/giang-day/{class_id}/{tin}/hk1/mau.xlsx").status_code == 200
    new = _new(session, seen)
    assert [(e.action, e.class_id, e.subject_id) for e in new] == [("export", class_id, tin)]
    assert new[0].object_id.endswith(".xlsx") and new[0].actor_id == _user(session, "teacher").id

    homeroom = login_as("homeroom")
    seen = len(events(session))
    assert homeroom.get(f"/tong-hop/lop/{own.id}/hk1.xlsx").status_code == 200
    assert [(e.action, e.class_id) for e in _new(session, seen)] == [("export", own.id)]

    principal = login_as("principal")
    seen = len(events(session))
    assert principal.get("/tong-hop/hk1.xlsx").status_code == 200
    new = _new(session, seen)
    assert [(e.action, e.school_year_id) for e in new] == [("export", year.id)]
    assert "tong-hop-toan-truong" in new[0].note


def test_an_import_commit_is_one_event_in_its_transaction(app, login_as, session):
    from tests.imports.files import STUDENT_HEADER, csv_bytes, student
    from tests.imports.test_views import BASE, commit_form, upload

    admin = login_as("admin")
    data = csv_bytes(STUDENT_HEADER, [student("3710123497001", "001213199001", "Đỗ Thị Nhật Ký", klass="7A1"),
                                      student("3710123497002", "001213199002", "Vũ Đức Chuỗi", klass="7A1")])
    page = upload(admin, "students", data, "hoc-sinh-moi.csv")
    seen = len(events(session))
    assert admin.post(f"{BASE}/ghi", data=commit_form(page.get_data(as_text=True))).status_code == 200
    new = _new(session, seen)
    assert [e.action for e in new] == ["import"]
    after = json.loads(new[0].after)
    assert after == {"kind": "students", "filename": "hoc-sinh-moi.csv", "sha256": hashlib.sha256(data).hexdigest(),
                     "size": len(data), "counts": {"create": 2}}
    assert new[0].actor_id == _user(session, "admin").id and "hoc-sinh-moi.csv" in new[0].note
    assert audit.verify(engine_for(app)).ok


def test_a_refused_import_records_nothing(app, login_as, session):
    from tests.imports.files import STUDENT_HEADER, csv_bytes, student
    from tests.imports.test_views import BASE, commit_form, upload

    admin = login_as("admin")
    data = csv_bytes(STUDENT_HEADER, [student("3710123497003", "001213199003", "Lê Văn Trùng", klass="7A1")])
    form = commit_form(upload(admin, "students", data).get_data(as_text=True))
    seen = len(events(session))
    assert admin.post(f"{BASE}/ghi", data=dict(form, sha256="0" * 64)).status_code == 400
    assert _new(session, seen) == []


def test_a_gradebook_xlsx_commit_is_one_import_event_besides_the_cell_events(login_as, session):
    from tests.gradebook.test_xlsx import FIRST, download, fill, form_value, pair_ids, upload, url

    class_id, toan = pair_ids(session, "6A1", "toan")
    client = login_as("homeroom")
    data = fill(download(client, class_id, toan), {(FIRST, "TX1"): 8, (FIRST + 1, "TX1"): 9})
    page = upload(client, url("upload", class_id, toan), data, "Diem-toan.xlsx").get_data(as_text=True)
    seen = len(events(session))
    response = client.post(url("commit", class_id, toan), data={"token": form_value(page, "token"),
                                                               "sha256": form_value(page, "sha256")})
    assert response.status_code == 200, response.status_code
    new = _new(session, seen)
    assert sorted(e.action for e in new) == ["assessment.saved", "assessment.saved", "import"]
    event = next(e for e in new if e.action == "import")
    assert json.loads(event.after)["filename"] == "Diem-toan.xlsx" and json.loads(event.after)["cells"] == 2
