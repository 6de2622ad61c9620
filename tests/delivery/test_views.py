"""The sending dashboard (page and self-polling fragment, resend) and the received list, over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from portal import tasks
from portal.db import new_session, write_session
from portal.delivery import service as delivery
from portal.models import AuditEvent, SchoolYear, Submission, utcnow
from tests.periods.helpers import HTMX, html, sign_in, text


def set_rows(app, **values) -> list[int]:
    with write_session(app) as s:
        ids = list(s.exec(select(Submission.id).order_by(Submission.endpoint)).all())
        for sub_id, changes in zip(ids, values.get("each", [values] * len(ids)), strict=False):
            s.execute(update(Submission).where(Submission.id == sub_id).values(**changes))
    return ids


def test_the_dashboard_shows_the_deadline_progress_and_polls_while_pending(app, session, released):
    year = session.get(SchoolYear, released.school_year_id)
    principal = sign_in(app, "principal")
    page = principal.get("/gui-hoc-ba")
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    shown = text(page)
    assert f"Năm học {year.name}" in shown and f"Hạn gửi 20/08/{year.end_date.year}" in shown
    assert "Đã gửi 0/2 lượt gửi (0 %)" in shown
    assert "Bộ GD&ĐT" in shown and "Sở GD&ĐT" in shown and "Lớp 6A1" in shown
    fragment = principal.get("/gui-hoc-ba", headers=HTMX)
    body = html(fragment)
    assert "<html" not in body and body.lstrip().startswith('<div id="gui-hoc-ba"')
    assert 'hx-trigger="every 3s"' in body  # something is pending: it refreshes itself
    # Once everything is sent the fragment stops polling.
    set_rows(app, status="sent", receipt_id="BN-X", sent_at=utcnow())
    done = html(principal.get("/gui-hoc-ba", headers=HTMX))
    assert 'hx-trigger' not in done and "Đã gửi 2/2 lượt gửi (100 %)" in text(principal.get("/gui-hoc-ba"))
    assert sign_in(app, "vice_principal").get("/gui-hoc-ba").status_code == 200


def test_failures_show_their_reason_and_can_be_resent_now(app, session, released, worker_env):
    later = utcnow() + timedelta(hours=1)
    ids = set_rows(app, each=[
        {"status": "failed", "attempts": 3, "next_attempt_at": later,
         "last_error": "Không kết nối được tới Bộ GD&ĐT: ConnectError: [Errno 111] Connection refused"},
        {"status": "sent", "receipt_id": "BN-1", "sent_at": utcnow()}])
    principal = sign_in(app, "principal")
    shown = text(principal.get("/gui-hoc-ba"))
    assert "Gửi lỗi 1" in shown and "Connection refused" in shown and "Đã thử 3 lần" in shown
    assert "Gửi lại ngay" in shown and "Gửi lại tất cả" in shown
    assert 'hx-trigger' not in html(principal.get("/gui-hoc-ba", headers=HTMX))  # the retry is an hour away

    response = principal.post(f"/gui-hoc-ba/{ids[0]}/gui-lai", headers=HTMX)
    assert response.status_code == 303 and response.headers["Location"].startswith("/gui-hoc-ba")
    with new_session(write=False, app=app) as s:
        row = s.get(Submission, ids[0])
        assert row.next_attempt_at.replace(tzinfo=later.tzinfo) < utcnow()
        assert s.exec(select(AuditEvent.action).where(AuditEvent.object_type == "submission",
                                                      AuditEvent.object_id == str(ids[0]))).all() == ["delivery.resend"]
    assert tasks.get_queue(app).count == 1  # kicked after the commit
    fragment = principal.get(response.headers["Location"], headers=HTMX)
    assert "Đã đưa học bạ vào hàng gửi ngay." in text(fragment)
    assert principal.post(f"/gui-hoc-ba/{ids[1]}/gui-lai").status_code == 409  # already sent

    set_rows(app, each=[{"next_attempt_at": later}])
    assert principal.post("/gui-hoc-ba/gui-lai", data={"nam": str(released.school_year_id)}).status_code == 303
    with app.app_context():
        assert delivery.enqueue_due(app).present == 1  # due again, and its job is already queued


def test_without_endpoints_the_dashboard_says_what_to_configure(app, session):
    app.config["SEND_ENDPOINTS"] = {}
    page = sign_in(app, "principal").get("/gui-hoc-ba")
    shown = text(page)
    assert "Chưa cấu hình nơi nhận học bạ (SEND_ENDPOINTS)" in shown
    # What happens to the transcripts released meanwhile: they are backfilled, not lost.
    assert "trước khi cấu hình vẫn được gửi" in shown and "tự bổ sung chúng vào hàng gửi" in shown
    assert "sẽ không tự gửi" not in shown and "/gui-hoc-ba/bo-sung" not in html(page)  # nothing to backfill to yet


def test_the_received_page_lists_accepted_and_refused_submissions(app, client, session, released):
    with new_session(write=False, app=app) as s:
        row = s.exec(select(Submission).where(Submission.endpoint == "bo")).one()
        body = delivery.build_payload(s, row)
    auth = {"Authorization": "Bearer token-self"}
    accepted = client.post("/api/nhan-hoc-ba", json=body, headers=auth)
    assert accepted.status_code == 201
    refused = client.post("/api/nhan-hoc-ba", json={**body, "phienban": 2, "idbanghi": "khac"}, headers=auth)
    assert refused.status_code == 422
    page = sign_in(app, "principal").get("/nhan-hoc-ba")
    shown = text(page)
    assert page.status_code == 200
    assert "Bản ghi học bạ1" in shown and "Lượt đã nhận1" in shown and "Lượt bị từ chối1" in shown
    assert "Hiện hành" in shown and "Từ chối" in shown and accepted.json["receipt_id"] in shown
    assert "Mã bản ghi (idbanghi “khac”) khác mã định danh học bạ" in shown
    assert "lớp 6A1" in shown and "NEW · phiên bản 1" in shown
