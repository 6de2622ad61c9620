"""Public verification of transcripts (no sign-in): a PDF someone was given, or the code printed on paper."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from portal.public import views  # noqa: E402,F401
