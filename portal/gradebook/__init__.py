"""The gradebook: subject teachers' score entry (grid, XLSX) over the single write path in service.py."""

from flask import Blueprint

bp = Blueprint("gradebook", __name__)

from portal.gradebook import views, views_xlsx  # noqa: E402,F401
