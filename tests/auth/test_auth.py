"""Sign-in, sessions, throttling, cookies, CSRF and passwords."""

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from sqlmodel import select

from portal.auth import passwords, service
from portal.models import LoginAttempt, User, UserSession
from tests.conftest import DEMO_PASSWORD, ROLE_USERS

LOGIN = "/dang-nhap"


def _session_cookie(response) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie(header)
        if "hocba_session" in cookie:
            return cookie["hocba_session"].value
    raise AssertionError("no session cookie set")


def _replay(app, cookie_value):
    """A second browser that presents a copied session cookie."""
    other = app.test_client()
    other.set_cookie("hocba_session", cookie_value)
    return other


def _user(session, username) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def test_login_then_home(client):
    response = client.post(LOGIN, data={"username": "HieuTruong ", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_message(client):
    wrong = client.post(LOGIN, data={"username": "hieutruong", "password": "sai-mat-khau"})
    unknown = client.post(LOGIN, data={"username": "khongtontai", "password": "sai-mat-khau"})
    assert wrong.status_code == unknown.status_code == 401
    message = "Tên đăng nhập hoặc mật khẩu không đúng."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_replayed_cookie_after_logout_is_refused(app, client):
    response = client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    stolen = _session_cookie(response)
    thief = _replay(app, stolen)
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    client.post("/dang-xuat")
    assert client.get("/").status_code == 302
    replay = thief.get("/")
    assert replay.status_code == 302 and LOGIN in replay.headers["Location"]


def test_logout_ends_every_session_of_the_user(app, client, session):
    client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    phone = app.test_client()
    phone.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    assert phone.get("/").status_code == 200
    client.post("/dang-xuat")
    assert phone.get("/").status_code == 302
    user = _user(session, "hoant")
    live = session.exec(select(UserSession).where(UserSession.user_id == user.id,
                                                  UserSession.revoked_at.is_(None))).all()
    assert live == []


def test_session_identifier_is_rotated_at_login(app, client, session):
    first = _session_cookie(client.get(LOGIN))  # anonymous session (CSRF token etc.)
    logged_in = _session_cookie(client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD}))
    assert first != logged_in
    other = app.test_client()
    other.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    hashes = session.exec(select(UserSession.token_hash).where(
        UserSession.user_id == _user(session, "hoant").id)).all()
    assert len(hashes) == len(set(hashes)) == 2


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client):
    response = client.post(LOGIN, data={"username": "tuanlm", "password": DEMO_PASSWORD})
    copy = _replay(app, _session_cookie(response))
    changed = client.post("/doi-mat-khau", data={
        "current": DEMO_PASSWORD, "new": "Bang-diem-lop-6A1-xanh", "confirm": "Bang-diem-lop-6A1-xanh"})
    assert changed.status_code == 302
    assert client.get("/").status_code == 200
    assert copy.get("/").status_code == 302
    relogin = app.test_client().post(LOGIN, data={"username": "tuanlm", "password": "Bang-diem-lop-6A1-xanh"})
    assert relogin.status_code == 302


def test_disabled_account_loses_its_sessions_and_cannot_sign_in(app, client, session):
    client.post(LOGIN, data={"username": "vanthu", "password": DEMO_PASSWORD})
    user = _user(session, "vanthu")
    user.active = False
    session.add(user)
    service.revoke_all_sessions(session, user_id=user.id)
    session.commit()
    assert client.get("/").status_code == 302
    again = app.test_client().post(LOGIN, data={"username": "vanthu", "password": DEMO_PASSWORD})
    assert again.status_code == 401
    assert "đã bị khóa" in again.get_data(as_text=True)


def test_disabled_flag_alone_blocks_a_live_session(app, client, session):
    client.post(LOGIN, data={"username": "vanthu", "password": DEMO_PASSWORD})
    user = _user(session, "vanthu")
    user.active = False
    session.add(user)
    session.commit()
    assert client.get("/").status_code == 302


def test_ten_failures_per_account_give_429_even_with_the_right_password(client, session):
    for _ in range(10):
        assert client.post(LOGIN, data={"username": "hieutruong", "password": "x"}).status_code == 401
    blocked = client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD})
    assert blocked.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in blocked.get_data(as_text=True)
    # Another account from another address is not affected.
    other = client.post(LOGIN, data={"username": "vanthu", "password": DEMO_PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.1.1.9"})
    assert other.status_code == 302


def test_ten_failures_per_address_give_429_for_any_account(client):
    for n in range(10):
        response = client.post(LOGIN, data={"username": f"doan{n}", "password": "x"},
                               environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert response.status_code == 401
    blocked = client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert blocked.status_code == 429


def test_throttle_window_passes(client, session):
    for _ in range(10):
        client.post(LOGIN, data={"username": "hieutruong", "password": "x"})
    for attempt in session.exec(select(LoginAttempt)).all():
        attempt.at = attempt.at - timedelta(minutes=6)
        session.add(attempt)
    session.commit()
    assert client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD}).status_code == 302


def test_cookie_flags(client):
    response = client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("hocba_session="))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # plain http in tests; PORTAL_HTTPS=1 turns it on


@pytest.fixture
def https_app(app_config, monkeypatch):
    from portal import create_app

    monkeypatch.setenv("PORTAL_HTTPS", "1")
    return create_app(app_config)


def test_cookie_is_secure_over_https(https_app):
    client = https_app.test_client()
    response = client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD},
                           base_url="https://localhost")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("hocba_session="))
    assert "Secure" in header


@pytest.fixture
def csrf_app(app_config):
    from portal import create_app

    return create_app({**app_config, "WTF_CSRF_ENABLED": True})


def test_csrf_required_on_every_post(csrf_app):
    client = csrf_app.test_client()
    refused = client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD})
    assert refused.status_code == 400
    assert "Phiên làm việc đã hết hạn" in refused.get_data(as_text=True)


def test_csrf_token_from_header_as_htmx_sends_it(csrf_app):
    import re

    client = csrf_app.test_client()
    page = client.get(LOGIN).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert header_token == token
    ok = client.post(LOGIN, data={"username": "hoant", "password": DEMO_PASSWORD},
                     headers={"X-CSRFToken": header_token})
    assert ok.status_code == 302
    # Logout without a token is refused, with the token it works.
    assert client.post("/dang-xuat").status_code == 400
    home = client.get("/").get_data(as_text=True)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', home).group(1)
    assert client.post("/dang-xuat", headers={"X-CSRFToken": header_token}).status_code == 302


def test_argon2id_parameters(app):
    from portal import config

    # The production default (tests/conftest.py lowers the memory cost for speed): set it back here.
    app.config["ARGON2_MEMORY_KIB"] = config.ARGON2_MEMORY_KIB
    with app.app_context():
        digest = passwords.hash_password("Mot-mat-khau-dai-2026")
    assert digest.startswith("$argon2id$v=19$")
    params = dict(p.split("=") for p in digest.split("$")[3].split(","))
    assert int(params["m"]) >= 46 * 1024
    assert int(params["t"]) >= 1


def test_seeded_hashes_are_argon2id(session):
    for user in session.exec(select(User)).all():
        assert user.password_hash.startswith("$argon2id$")


def test_admin_reset_forces_a_change_at_next_login(app, client, session):
    user = _user(session, "tuanlm")
    with app.test_request_context():
        service.set_password(session, user=user, password="Tam-thoi-2026-abc", must_change=True)
    session.commit()
    response = client.post(LOGIN, data={"username": "tuanlm", "password": "Tam-thoi-2026-abc"})
    assert response.headers["Location"] == "/doi-mat-khau"
    assert client.get("/").headers["Location"] == "/doi-mat-khau"
    assert client.get("/lop/1").headers["Location"] == "/doi-mat-khau"
    client.post("/doi-mat-khau", data={"current": "Tam-thoi-2026-abc", "new": "Mua-thu-Ha-Noi-2026",
                                       "confirm": "Mua-thu-Ha-Noi-2026"})
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("new", "message"), [
    ("123456789", "quá phổ biến"),
    ("matkhau123", "quá phổ biến"),
    ("Password1", "quá phổ biến"),
    ("ngắn", "ít nhất 8 ký tự"),
    ("tuanlm-2026-xyz", "không được chứa tên đăng nhập"),
])
def test_weak_new_passwords_are_refused(login_as, new, message):
    client = login_as("teacher")
    response = client.post("/doi-mat-khau", data={"current": DEMO_PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert login_as("teacher").get("/").status_code == 200  # old password still works


def test_password_change_needs_the_current_password(login_as):
    client = login_as("teacher")
    response = client.post("/doi-mat-khau", data={"current": "sai", "new": "Mua-thu-Ha-Noi-2026",
                                                  "confirm": "Mua-thu-Ha-Noi-2026"})
    assert response.status_code == 400
    assert "Mật khẩu hiện tại không đúng." in response.get_data(as_text=True)


def test_next_parameter_stays_on_this_site(client):
    inside = client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD, "next": "/lop"})
    assert inside.headers["Location"] == "/lop"
    client.post("/dang-xuat")
    outside = client.post(LOGIN, data={"username": "hieutruong", "password": DEMO_PASSWORD,
                                       "next": "//evil.example/x"})
    assert outside.headers["Location"] == "/"


def test_login_page_is_vietnamese(client):
    html = client.get(LOGIN).get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đăng nhập" in html and "Tên đăng nhập" in html and "Mật khẩu" in html


def test_every_demo_role_signs_in(client):
    for username in ROLE_USERS.values():
        response = client.post(LOGIN, data={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        client.post("/dang-xuat")
