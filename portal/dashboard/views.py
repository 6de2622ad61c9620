"""Screens of the progress dashboard: the principal's (and vice principal's) view of the year's deadlines."""

from __future__ import annotations

from flask import request

from portal.authz import ANY, policy
from portal.dashboard import bp, service
from portal.db import get_session
from portal.web import render


@bp.get("")
@policy(principal=ANY, vice_principal=ANY)
def index():
    board = service.build_dashboard(get_session(), period=request.args.get("ky") or None)
    return render("dashboard/index.html", "dashboard/_board.html", board=board, STATUS_LABELS=service.STATUS_LABELS)
