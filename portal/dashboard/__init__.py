"""The principal's progress dashboard: completeness per class and subject against the deadlines."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from portal.dashboard import views  # noqa: E402,F401
