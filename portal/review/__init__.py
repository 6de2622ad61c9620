"""Review: department heads read and flag gradebooks; principals read class and school summaries."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from portal.review import views  # noqa: E402,F401
