"""Parents: their children's released transcripts and published results, on a phone; the claim codes the school
hands out to link a parent account to a child; the principal's publication of term results to parents."""

from flask import Blueprint

bp = Blueprint("parents", __name__)

from portal.parents import views  # noqa: E402,F401
