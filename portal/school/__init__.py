"""School records read by staff and parents: classes, rosters, student profiles."""

from flask import Blueprint

bp = Blueprint("school", __name__)

from portal.school import views  # noqa: E402,F401
