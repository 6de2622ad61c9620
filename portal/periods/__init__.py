"""Grade periods: the principal's locks and deadlines, unlock requests and their written approvals."""

from flask import Blueprint

bp = Blueprint("periods", __name__)

from portal.periods import views  # noqa: E402,F401
