"""Homeroom teacher's screens: class overview, conduct, absences, comments, year-end decisions."""

from flask import Blueprint

bp = Blueprint("homeroom", __name__)

from portal.homeroom import views  # noqa: E402,F401
