"""Administration screens (admin role only): school, years, classes, subjects, accounts, students."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from portal.admin import views  # noqa: E402,F401
