"""Imports of students, teachers and assignments from CSV and XLSX: preview, then all-or-nothing commit."""

from flask import Blueprint

bp = Blueprint("imports", __name__)

from portal.imports import views  # noqa: E402,F401
