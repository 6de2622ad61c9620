"""Screens of the audit trail: the filtered list, one event with its diff, the CSV export, the chain check."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, request, url_for

from portal import audit
from portal.audit_trail import bp, rules, service
from portal.authz import ANY, policy
from portal.db import engine_for, get_session, new_session
from portal.errors import error_response
from portal.models import PERIODS, AuditEvent
from portal.web import render

LEADERS = {"principal": ANY, "vice_principal": ANY}
GRANT_ENDPOINT = "periods.decision"  # the unlock request (and its written approval) an edit was made under


def _cursor(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


@bp.get("")
@policy(**LEADERS)
def index():
    session = get_session()
    filters = service.parse_filters(request.args)
    result = service.find_events(session, filters=filters, before=_cursor("truoc"), after=_cursor("sau"))
    return render("audit_trail/index.html", "audit_trail/_results.html", filters=filters, result=result,
                  names=service.names_for(session, result.events), classes=service.class_options(session),
                  PERIODS=PERIODS, ACTIONS=audit.ACTIONS, local_time=rules.local_time)


@bp.get("/<int:event_id>")
@policy(**LEADERS)
def detail(event_id: int):
    session = get_session()
    event = session.get(AuditEvent, event_id)
    if event is None:
        abort(404)
    fields = {name: getattr(event, name) for name in audit.FIELDS}
    grant_url = None
    if event.grant_id and GRANT_ENDPOINT in current_app.view_functions:
        grant_url = url_for(GRANT_ENDPOINT, request_id=event.grant_id)
    return render("audit_trail/detail.html", event=event, diff=rules.compute_diff(event.before, event.after),
                  names=service.names_for(session, [event]), grant_url=grant_url, PERIODS=PERIODS,
                  ACTIONS=audit.ACTIONS, local_time=rules.local_time,
                  hash_ok=audit.event_hash(event.prev_hash, fields) == event.hash,
                  has_next=session.get(AuditEvent, event_id + 1) is not None)


@bp.get("/xuat.csv")
@policy(**LEADERS)
def export_csv():
    filters = service.parse_filters(request.args)
    if filters.errors:
        return error_response(400, " ".join(filters.errors))
    shown = ", ".join(f"{k}={v}" for k, v in filters.args().items()) or "toàn bộ"
    name = f"nhat-ky-{datetime.now(rules.VN):%Y%m%d-%H%M}.csv"
    audit.record_now("export", object_type="csv", object_id=name, note=f"Nhật ký hoạt động (CSV), lọc: {shown}")
    return Response(_csv_body(current_app._get_current_object(), filters), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _csv_body(app, filters):
    """Stream the CSV through a session of its own, closed when the last chunk is sent.

    The body is read after the request's teardown has closed the request session; reusing that one
    would check out a connection that nobody returns.
    """
    session = new_session(write=False, app=app)
    try:
        yield from service.csv_rows(session, filters=filters)
    finally:
        session.close()


@bp.post("/kiem-tra")
@policy(**LEADERS)
def verify():
    verdict = service.verify_chain(engine=engine_for())
    return render("audit_trail/verify.html", "audit_trail/_verdict.html", verdict=verdict,
                  checked_at=datetime.now(rules.VN))
