from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal import audit
from portal.auth import bp, service
from portal.authz import public, signed_in
from portal.db import get_session


def _safe_next(target: str | None) -> str:
    """Follow ?next= only to a path on this site (never to another host)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


@bp.route("/dang-nhap", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("home.index"))
    error = None
    status = 200
    if request.method == "POST":
        db = get_session()
        ip = request.remote_addr or "?"
        try:
            user = service.authenticate(
                db, username=request.form.get("username", ""), password=request.form.get("password", ""), ip=ip
            )
        except service.Throttled as exc:
            error, status = str(exc), 429
        except service.AuthError as exc:
            error, status = str(exc), 401
        else:
            token = service.start_session(db, user=user, ip=ip, user_agent=request.user_agent.string)
            db.commit()
            session.clear()  # a new session id: nothing of the anonymous session is carried over
            session.permanent = True
            login_user(service.LoginUser(user, token))
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.form.get("next")))
    return (
        render_template(
            "auth/login.html", error=error, next=request.values.get("next", ""),
            username=request.form.get("username", ""),
        ),
        status,
    )


@bp.post("/dang-xuat")
@signed_in
def logout():
    db = get_session()
    service.revoke_all_sessions(db, user_id=current_user.id)
    audit.record(db, "auth.logout", object_type="user", object_id=current_user.id)
    db.commit()
    logout_user()
    session.clear()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/doi-mat-khau", methods=["GET", "POST"])
@signed_in
def change_password():
    error = None
    if request.method == "POST":
        db = get_session()
        user = db.merge(current_user.user)
        try:
            service.change_password(
                db, user=user, current=request.form.get("current", ""), new=request.form.get("new", ""),
                confirm=request.form.get("confirm", ""),
            )
        except service.AuthError as exc:
            error = str(exc)
            db.rollback()
        else:
            # Every other session has ended; this device continues on a fresh one.
            token = service.start_session(db, user=user, ip=request.remote_addr, user_agent=request.user_agent.string)
            db.commit()
            session.clear()
            session.permanent = True
            login_user(service.LoginUser(user, token))
            flash("Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đăng xuất.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", error=error), (400 if error else 200)
