"""Sign-in, sessions and passwords.

A login creates a row in user_sessions with the SHA-256 of a random token; the (signed) Flask session
cookie carries only that token. Every request looks the row up, so logout, password change and account
disable end every session of the user at once: a copied cookie replayed afterwards is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import func, update
from sqlmodel import Session, select

from portal import audit
from portal.auth import passwords
from portal.models import LoginAttempt, User, UserSession, utcnow


class AuthError(Exception):
    """A sign-in or password change that cannot go ahead; the message is for the user."""


class Throttled(AuthError):
    pass


class LoginUser(UserMixin):
    """The Flask-Login user: the account plus the token of the session it came in with."""

    def __init__(self, user: User, token: str):
        self.user = user
        self.token = token

    def get_id(self) -> str:
        return self.token

    @property
    def is_active(self) -> bool:
        return self.user.active

    def __getattr__(self, name):
        # Templates read current_user.full_name, .username, .id ... straight from the account.
        return getattr(self.__dict__["user"], name)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_session_user(token: str) -> LoginUser | None:
    """Return the user of a live session token, or None when it is unknown, revoked or expired."""
    from portal.db import read_session

    session = read_session()
    row = session.exec(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == _token_hash(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
            User.active,
        )
    ).first()
    return LoginUser(row, token) if row is not None else None


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_throttle(session: Session, *, username: str, ip: str, now: datetime | None = None) -> None:
    """Raise Throttled when the account or the address has too many recent failures."""
    cfg = current_app.config
    since = (now or utcnow()) - cfg["LOGIN_WINDOW"]
    limit = cfg["LOGIN_MAX_FAILURES"]
    base = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at >= since, ~LoginAttempt.success)
    by_user = session.exec(base.where(LoginAttempt.username == username)).one()
    by_ip = session.exec(base.where(LoginAttempt.ip == ip)).one()
    if by_user >= limit or by_ip >= limit:
        minutes = int(cfg["LOGIN_WINDOW"].total_seconds() // 60)
        raise Throttled(
            f"Đăng nhập sai quá nhiều lần. Vì an toàn, vui lòng thử lại sau {minutes} phút "
            "hoặc liên hệ quản trị viên của trường."
        )


def authenticate(session: Session, *, username: str, password: str, ip: str) -> User:
    """Check the credentials, record the attempt, and return the account; raise AuthError otherwise."""
    username = normalize_username(username)
    try:
        check_throttle(session, username=username, ip=ip)
    except Throttled:
        audit.record(session, "auth.login_failed", object_type="user", note=f"{username}: bị chặn tạm thời"[:1000])
        session.commit()
        raise
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    session.add(LoginAttempt(username=username, ip=ip, success=ok and user.active))
    if not ok or not user.active:
        # The attempted account, not a signed-in actor: nobody is signed in yet.
        reason = "sai mật khẩu" if user is not None else "không có tài khoản này"
        audit.record(session, "auth.login_failed", object_type="user", object_id=user.id if user else None,
                     note=f"{username}: {reason if not ok else 'tài khoản đã bị khóa'}"[:1000])
    if not ok:
        session.commit()
        raise AuthError("Tên đăng nhập hoặc mật khẩu không đúng.")
    if not user.active:
        session.commit()
        raise AuthError("Tài khoản này đã bị khóa. Vui lòng liên hệ quản trị viên của trường.")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    audit.record(session, "auth.login", actor_id=user.id, actor_name=user.full_name, object_type="user",
                 object_id=user.id)
    return user


def start_session(session: Session, *, user: User, ip: str | None, user_agent: str | None) -> str:
    """Create a server-side session for the user and return its token (for the cookie)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + current_app.config["SESSION_LIFETIME"],
            ip=ip,
            user_agent=(user_agent or "")[:255],
        )
    )
    return token


def revoke_all_sessions(session: Session, *, user_id: int) -> None:
    """End every live session of the user (logout, password change, disable, reset)."""
    session.exec(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def change_password(session: Session, *, user: User, current: str, new: str, confirm: str) -> None:
    """Change the user's own password after checking the current one and the policy."""
    if not passwords.verify_password(user.password_hash, current):
        raise AuthError("Mật khẩu hiện tại không đúng.")
    if new != confirm:
        raise AuthError("Mật khẩu mới và mật khẩu nhập lại không khớp.")
    if new == current:
        raise AuthError("Mật khẩu mới phải khác mật khẩu hiện tại.")
    problems = passwords.password_problems(
        new, username=user.username, min_length=current_app.config["PASSWORD_MIN_LENGTH"]
    )
    if problems:
        raise AuthError(" ".join(problems))
    set_password(session, user=user, password=new, must_change=False)
    audit.record(session, "auth.password_changed", actor_id=user.id, actor_name=user.full_name,
                 object_type="user", object_id=user.id)


def set_password(session: Session, *, user: User, password: str, must_change: bool) -> None:
    """Store a new password hash and end every session of the user."""
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()
    session.add(user)
    revoke_all_sessions(session, user_id=user.id)
