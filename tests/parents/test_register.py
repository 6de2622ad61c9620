"""A parent without an account creates one with the code on their slip: username = phone number, linked to the
child at once; the code is checked (and throttled) as in a claim, and a refused account field leaves it unused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from portal.models import AuditEvent, Guardian, ParentClaimCode, StudentGuardian, User, UserRole
from tests.conftest import base_config
from tests.parents.conftest import issue
from tests.periods.helpers import sign_in, text

PASSWORD = "Mua-thu-Ha-Noi-2026"


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    (tmp_path / "instance").mkdir(exist_ok=True)
    return {**base_config(tmp_path / "instance", database_url), "PARENT_CLAIM_MAX_FAILURES": 3,
            "PARENT_CLAIM_WINDOW": timedelta(minutes=15)}


def register(client, code: str, environ_base=None, **fields):
    data = {"code": code, "full_name": "Vũ Thị Hạnh", "phone": "0912 345 678", "password": PASSWORD,
            "confirm": PASSWORD, **fields}
    return client.post("/phu-huynh/tao-tai-khoan", data=data, environ_base=environ_base or {})


def test_register_creates_a_parent_account_linked_to_the_child(app, client, session, unclaimed):
    code = issue(app, unclaimed.id, relation="me")
    page = client.get("/phu-huynh/tao-tai-khoan")
    assert page.status_code == 200 and "Tạo tài khoản phụ huynh bằng mã" in text(page)
    response = register(client, code.lower())
    assert response.status_code == 303 and response.headers["Location"].endswith("/dang-nhap")
    user = session.exec(select(User).where(User.username == "0912345678")).one()
    assert (user.full_name, user.phone, user.must_change_password, user.active) == (
        "Vũ Thị Hạnh", "0912345678", False, True)
    assert session.exec(select(UserRole.role).where(UserRole.user_id == user.id)).all() == ["parent"]
    guardian = session.exec(select(Guardian).where(Guardian.user_id == user.id)).one()
    assert guardian.relation == "me" and session.get(StudentGuardian, (unclaimed.id, guardian.id)) is not None
    assert session.exec(select(ParentClaimCode)).one().used_by == user.id
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).all()
    assert "parent.registered" in actions and "parent.claimed" in actions

    parent = app.test_client()
    assert parent.post("/dang-nhap", data={"username": "0912345678", "password": PASSWORD}).status_code == 302
    assert unclaimed.full_name in text(parent.get("/phu-huynh"))
    assert parent.get(f"/phu-huynh/con/{unclaimed.id}").status_code == 200
    # The code is used up: a second registration with it is refused.
    again = register(app.test_client(), code, phone="0987654321")
    assert again.status_code == 422 and "đã được sử dụng" in text(again)


@pytest.mark.parametrize(("fields", "message"), [
    ({"confirm": "Khac-mat-khau-2026"}, "không khớp"),
    ({"password": "123", "confirm": "123"}, "ít nhất 8 ký tự"),
    ({"phone": "12ab"}, "Số điện thoại gồm 8–15 chữ số"),
    ({"phone": "hieutruong"}, "Số điện thoại gồm 8–15 chữ số"),
    ({"full_name": "   "}, "Nhập họ và tên"),
])
def test_refused_fields_leave_the_code_unused(app, client, session, unclaimed, fields, message):
    code = issue(app, unclaimed.id)
    response = register(client, code, **fields)
    assert response.status_code == 422 and message in text(response)
    assert session.exec(select(ParentClaimCode)).one().used_at is None
    assert session.exec(select(func.count()).select_from(User).where(User.username == "0912345678")).one() == 0
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "parent.claim_failed")).first() is None


def test_a_phone_that_already_has_an_account(app, client, session, unclaimed):
    code = issue(app, unclaimed.id)
    assert register(client, code).status_code == 303
    other = issue(app, unclaimed.id, relation="cha")
    response = register(app.test_client(), other)
    assert response.status_code == 422 and "đã có tài khoản" in text(response)


def test_wrong_codes_are_throttled_by_address(app, client, session, unclaimed):
    code = issue(app, unclaimed.id)
    for _ in range(3):
        response = register(client, "ABCD-EFGH-JKLM")
        assert response.status_code == 422 and "Mã liên kết không đúng" in text(response)
    blocked = register(client, code)
    assert blocked.status_code == 429 and "quá nhiều lần" in text(blocked)
    failures = session.exec(select(AuditEvent).where(AuditEvent.action == "parent.claim_failed")).all()
    assert len(failures) == 3
    assert {e.actor_id for e in failures} == {None} and {e.ip for e in failures} == {"127.0.0.1"}
    assert register(app.test_client(), code, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 303


def test_a_signed_in_user_is_sent_home(app):
    response = sign_in(app, "parent").get("/phu-huynh/tao-tai-khoan")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
