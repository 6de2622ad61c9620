"""Refusals of the content (422, 409) stop the automatic retries and wait for someone; transient failures (5xx,
timeouts, no connection, a wrong token) keep backing off."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from sqlalchemy import update
from sqlmodel import select

from portal import tasks
from portal.db import new_session, write_session
from portal.delivery import rules
from portal.delivery import service as delivery
from portal.models import AuditEvent, Submission, utcnow
from tests.periods.helpers import HTMX, html, sign_in, text
from tests.test_tasks import run_burst_worker

LATER = timedelta(days=30)  # long after any backoff


def row_of(app, endpoint: str = "bo") -> Submission:
    with new_session(write=False, app=app) as s:
        return s.exec(select(Submission).where(Submission.endpoint == endpoint)).one()


def set_row(app, submission_id: int, **values) -> None:
    with write_session(app) as s:
        s.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def scheduled(app, submission_id: int, attempts: int) -> bool:
    try:
        RQJob.fetch(delivery.rq_job_id(submission_id, attempts), connection=tasks.get_queue(app).connection)
    except NoSuchJobError:
        return False
    return True


def never_again(app, row: Submission) -> None:
    """Neither the reconciler nor a stray job takes the row again, however late."""
    later = utcnow() + LATER
    with app.app_context():
        assert delivery.enqueue_due(app, now=later, submission_ids=[row.id]).queued == 0
        assert delivery.claim(app, row.id, later) is None
        assert delivery.send_submission(app=app, submission_id=row.id)["skipped"]
    assert not scheduled(app, row.id, row.attempts)


@pytest.mark.parametrize(("status", "permanent"), [
    (422, True), (409, True), (400, False), (401, False), (403, False), (404, False), (429, False), (500, False),
    (502, False), (503, False), (None, False)])
def test_only_a_refusal_of_the_content_is_permanent(status, permanent):
    assert rules.permanent_refusal(status) is permanent


def test_a_422_is_not_retried_automatically_but_is_resent_by_hand(app, session, released, peers, worker_env):
    row = row_of(app)
    set_row(app, row_of(app, "so").id, status="sent", receipt_id="BN-X", sent_at=utcnow())
    # The envelope no longer matches the signed data (as a tampered one would not): the receiver refuses it.
    set_row(app, row.id, idbanghi="00000000-0000-4000-8000-000000000000")
    with app.app_context():
        result = delivery.send_submission(app=app, submission_id=row.id)
    assert result["sent"] is False and result["rejected"] is True
    row = row_of(app)
    assert (row.status, row.attempts) == ("rejected", 1)
    assert row.last_error.startswith("Bộ GD&ĐT không chấp nhận học bạ (HTTP 422): ")
    assert "Mã bản ghi (idbanghi “00000000-0000-4000-8000-000000000000”)" in row.last_error  # the receiver's reasons
    never_again(app, row)
    assert peers["bo"].answers() == {422: 1}

    principal = sign_in(app, "principal")
    shown = text(principal.get("/gui-hoc-ba"))
    assert "Bị từ chối — cần xử lí" in shown and "không tự gửi lại" in shown and "HTTP 422" in shown
    assert "Bị từ chối1" in shown and "1 bị từ chối" in shown
    assert 'hx-trigger' not in html(principal.get("/gui-hoc-ba", headers=HTMX))  # nothing will move by itself

    # Fixed, then "Gửi lại ngay": claimable again, queued after the commit, and accepted.
    set_row(app, row.id, idbanghi=released.record_id)
    response = principal.post(f"/gui-hoc-ba/{row.id}/gui-lai", headers=HTMX)
    assert response.status_code == 303
    resent = row_of(app)
    assert resent.status == "failed" and resent.next_attempt_at.replace(tzinfo=None) <= utcnow().replace(tzinfo=None)
    assert tasks.get_queue(app).count == 1
    run_burst_worker(app)
    done = row_of(app)
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, None) and done.receipt_id.startswith("BN-")
    assert peers["bo"].answers() == {422: 1, 201: 1}
    with new_session(write=False, app=app) as s:
        assert s.exec(select(AuditEvent.action).where(AuditEvent.object_type == "submission",
                                                      AuditEvent.object_id == str(row.id))).all() == ["delivery.resend"]


def test_a_409_is_not_retried_automatically_and_resend_all_includes_it(app, session, released, peers, worker_env):
    row = row_of(app)
    with app.app_context():
        assert delivery.send_submission(app=app, submission_id=row.id)["sent"]
    # The same idbanghi + phienban again with another content (thoigiancapnhat): the receiver keeps the first.
    set_row(app, row.id, status="pending", thoigiancapnhat="2020-01-01 00:00:00", next_attempt_at=utcnow())
    with app.app_context():
        result = delivery.send_submission(app=app, submission_id=row.id)
    assert result.get("rejected") is True
    row = row_of(app)
    assert row.status == "rejected" and "(HTTP 409)" in row.last_error and "với nội dung khác" in row.last_error
    never_again(app, row)
    assert peers["bo"].answers() == {201: 1, 409: 1}
    # "Gửi lại tất cả" takes the refused ones too.
    principal = sign_in(app, "principal")
    assert principal.post("/gui-hoc-ba/gui-lai", data={"nam": str(released.school_year_id)}).status_code == 303
    assert row_of(app).status == "failed"
    with app.app_context():
        assert delivery.enqueue_due(app, submission_ids=[row.id]).present == 1  # kicked by the view already


class Answering(BaseHTTPRequestHandler):
    """A receiver that answers every POST with the status the test sets (or too late)."""

    status = 503
    delay = 0.0

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.delay)
        body = json.dumps({"trangthai": "tu_choi", "lydo": [f"Trả lời {self.status}."]}).encode()
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the sender gave up (timeout)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_transient_failures_keep_retrying_and_refusals_stop(app, session, released, worker_env, answering):
    url = f"http://127.0.0.1:{answering.server_address[1]}/api/nhan-hoc-ba"
    app.config["SEND_ENDPOINTS"] = {"bo": {"url": url, "token": "x", "timeout": 1, "label": "Bộ GD&ĐT"}}
    row = row_of(app)
    for status, delay, expected in [(500, 0, "failed"), (503, 0, "failed"), (401, 0, "failed"), (200, 2, "failed"),
                                    (422, 0, "rejected"), (409, 0, "rejected")]:
        set_row(app, row.id, status="pending", next_attempt_at=utcnow(), last_error=None)
        Answering.status, Answering.delay = status, delay
        with app.app_context():
            result = delivery.send_submission(app=app, submission_id=row.id)
        row = row_of(app)
        assert (row.status, result["sent"]) == (expected, False), (status, delay, result)
        if expected == "failed":
            assert result["retry_in"] > 0 and scheduled(app, row.id, row.attempts), status
            assert row.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
            with app.app_context():  # once due, the reconciler takes it
                assert delivery.enqueue_due(app, now=utcnow() + LATER, submission_ids=[row.id]).queued == 1
        else:
            assert result["rejected"] and f"Trả lời {status}." in row.last_error
            never_again(app, row)
    assert row.attempts == 6
