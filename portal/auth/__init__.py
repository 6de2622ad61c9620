"""Accounts: sign in and out, password change, server-side sessions."""

from flask import Blueprint, redirect, request, url_for
from flask_login import LoginManager, current_user

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
login_manager.login_message_category = "info"
# Our own server-side sessions replace Flask-Login's IP/agent heuristics and remember-me cookie.
login_manager.session_protection = None

ALWAYS_ALLOWED = {"static", "auth.logout", "auth.change_password"}


def init_login(app):
    """Wire Flask-Login to the user_sessions table and force pending password changes."""
    from portal.auth import service

    login_manager.init_app(app)
    login_manager.user_loader(service.load_session_user)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", 0)

    @app.before_request
    def _force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in ALWAYS_ALLOWED
        ):
            return redirect(url_for("auth.change_password"))
        return None


from portal.auth import views  # noqa: E402,F401
