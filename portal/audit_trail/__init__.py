"""The principal's audit-trail screens over portal/audit.py: filter, detail with diff, CSV export, verify."""

from flask import Blueprint

bp = Blueprint("audit_trail", __name__)

from portal.audit_trail import views  # noqa: E402,F401
