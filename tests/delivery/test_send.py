"""Sending over loopback to the receiving portals, with a real Redis and RQ worker: receipts, failures, retries,
the claim, the reconciler, and the receiver's answers (accept, replay, conflict, refusals)."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import httpx
from redis import Redis
from rq.job import Job as RQJob
from sqlalchemy import update
from sqlmodel import select

from portal import tasks
from portal.db import new_session, write_session
from portal.delivery import rules
from portal.delivery import service as delivery
from portal.models import ReceivedRecord, Submission, utcnow
from tests.delivery.conftest import SCHOOL_CODE, TOKENS, free_port
from tests.test_tasks import run_burst_worker


def rows(app) -> list[Submission]:
    with new_session(write=False, app=app) as s:
        return list(s.exec(select(Submission).order_by(Submission.endpoint, Submission.phienban)))


def payload(app, endpoint: str = "bo") -> dict:
    with new_session(write=False, app=app) as s:
        row = s.exec(select(Submission).where(Submission.endpoint == endpoint)).first()
        return delivery.build_payload(s, row)


def post(url: str, body: dict, token: str = TOKENS["bo"], key: str | None = None) -> httpx.Response:
    key = key or rules.idempotency_key(body["idbanghi"], body["phienban"])
    return httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                      timeout=30)


def test_a_release_is_sent_to_both_endpoints_and_the_receipts_are_stored(app, session, released, peers, worker_env):
    with app.app_context():
        result = delivery.kick(app)
    assert result.queued == 2
    assert tasks.get_queue(app).count == 2
    run_burst_worker(app)
    sent = rows(app)
    assert [(r.endpoint, r.status, r.attempts, r.last_error) for r in sent] == [("bo", "sent", 1, None),
                                                                              ("so", "sent", 1, None)]
    for row in sent:
        receipt = json.loads(row.receipt)
        assert receipt["receipt_id"] == row.receipt_id and row.receipt_id.startswith("BN-")
        assert (receipt["idbanghi"], receipt["phienban"], receipt["sukien"], receipt["matruong"]) == (
            released.record_id, 1, "NEW", SCHOOL_CODE)
        assert receipt["pdf_sha256"] == released.pdf_sha256 and row.sent_at is not None
        [(sender, idbanghi, phienban, sukien, accepted, receipt_id, reasons)] = peers[row.endpoint].rows()
        assert (sender, idbanghi, phienban, sukien, accepted, receipt_id) == (
            SCHOOL_CODE, released.record_id, 1, "NEW", True, row.receipt_id)
        assert peers[row.endpoint].answers() == {201: 1}
    # Delivered again (a duplicate RQ job, a reconciler): nothing is sent twice.
    with app.app_context():
        assert delivery.send_submission(app=app, submission_id=sent[0].id)["skipped"]
        assert delivery.kick(app).queued == 0
    assert peers["bo"].answers() == {201: 1}


def test_a_resend_of_an_accepted_version_gets_the_same_receipt_and_a_different_payload_409(app, released, peers):
    body = payload(app)
    first = post(peers["bo"].url, body)
    assert first.status_code == 201, first.text
    again = post(peers["bo"].url, body)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = {**body, "thoigiancapnhat": "2020-01-01 00:00:00"}
    conflict = post(peers["bo"].url, changed)
    assert conflict.status_code == 409
    assert f"Đã nhận phiên bản 1 của bản ghi {body['idbanghi']} với nội dung khác" in conflict.json()["lydo"][0]
    assert [r.accepted for r in peers["bo"].rows()] == [True]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_the_receiver_refuses_tampered_unsigned_or_mismatched_submissions(app, released, peers):
    body = payload(app)
    url = peers["bo"].url
    pdf = base64.b64decode(body["pdf"])
    xml = base64.b64decode(body["xml"])

    def refused(changes: dict, token: str = TOKENS["bo"]) -> list[str]:
        sent = {**body, **changes}
        for name in ("pdf", "xml"):
            if name in changes:
                sent[f"{name}_sha256"] = rules.sha256(base64.b64decode(changes[name]))
        response = post(url, sent, token=token)
        assert response.status_code == 422, response.text
        return response.json()["lydo"]

    # One byte changed inside every signature's first byte range (the header's binary comment).
    reasons = refused({"pdf": base64.b64encode(flip(pdf, 11)).decode()})
    assert any("chữ ký không hợp lệ hoặc không được tin cậy" in r for r in reasons), reasons
    # The XML beside the PDF changed (one character of the student's name): it is not the signed one.
    name = xml.index(b"<hovaten>") + len(b"<hovaten>")
    reasons = refused({"xml": base64.b64encode(flip(xml, name)).decode()})
    assert "Tệp XML gửi kèm khác dữ liệu XML đính kèm trong tệp PDF đã ký." in reasons
    assert any(r.startswith("Dấu số của tệp XML gửi kèm không hợp lệ") for r in reasons), reasons
    # A readable PDF without any signature (nor data).
    import weasyprint

    plain = weasyprint.HTML(string="<p>Học bạ</p>").write_pdf()
    reasons = refused({"pdf": base64.b64encode(plain).decode()})
    assert "Tệp không có chữ ký số nào." in reasons, reasons
    # The envelope names another record, or the token belongs to another school.
    reasons = refused({"idbanghi": "00000000-0000-4000-8000-000000000000"})
    assert any(r.startswith("Mã bản ghi (idbanghi") for r in reasons), reasons
    reasons = refused({"matruong": "99999999"})
    assert any(r.startswith("Mã trường trong phong bì") for r in reasons), reasons
    # A wrong SHA-256 (changed on the way), a bad event.
    reasons = refused({"pdf_sha256": "0" * 64, "sukien": "DELETE"})
    assert any("không khớp" in r for r in reasons) and any("DELETE" in r for r in reasons)
    stored = peers["bo"].rows()
    assert stored and not any(r.accepted for r in stored)
    assert all(json.loads(r.reasons) for r in stored if r.receipt_id == "")
    # Without the right token: 401, nothing stored.
    assert post(url, body, token="wrong").status_code == 401
    assert httpx.post(url, json=body, timeout=10).status_code == 401
    assert len(peers["bo"].rows()) == len(stored)
    # The untouched submission is still accepted afterwards.
    assert post(url, body).status_code == 201


def test_a_failed_attempt_keeps_the_reason_backs_off_and_schedules_the_retry(app, session, released, worker_env):
    dead = f"http://127.0.0.1:{free_port()}/api/nhan-hoc-ba"
    app.config["SEND_ENDPOINTS"] = {"bo": {"url": dead, "token": "x", "timeout": 2, "label": "Bộ GD&ĐT"}}
    [row] = [r for r in rows(app) if r.endpoint == "bo"]
    before = utcnow()
    with app.app_context():
        result = delivery.send_submission(app=app, submission_id=row.id)
    assert result["sent"] is False and result["retry_in"] == 10
    [row] = [r for r in rows(app) if r.endpoint == "bo"]
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("Không kết nối được tới Bộ GD&ĐT")
    wait = row.next_attempt_at.replace(tzinfo=before.tzinfo) - before
    assert timedelta(seconds=9) < wait < timedelta(seconds=12)
    job = RQJob.fetch(delivery.rq_job_id(row.id, 1), connection=tasks.get_queue(app).connection)
    assert job.get_status() == "scheduled"
    # Not due yet: the reconciler leaves it; made due (“Gửi lại ngay”), the scheduled job is replaced by a queued one.
    with app.app_context():
        assert delivery.enqueue_due(app, submission_ids=[row.id]).queued == 0
    with write_session(app) as s:
        s.execute(update(Submission).where(Submission.id == row.id).values(next_attempt_at=utcnow()))
    with app.app_context():
        assert delivery.enqueue_due(app, submission_ids=[row.id]).queued == 1
        assert job.get_status(refresh=True) == "queued"
        assert delivery.enqueue_due(app, submission_ids=[row.id]).present == 1  # collapses onto the same job
    # Backoff doubles, capped.
    assert [rules.backoff_seconds(n) for n in (1, 2, 3, 9, 10)] == [10, 20, 40, 2560, 3600]


def test_a_claim_expires_with_its_lease_and_the_reconciler_requeues_it(app, released, worker_env):
    [row] = [r for r in rows(app) if r.endpoint == "bo"]
    with app.app_context():
        claimed = delivery.claim(app, row.id, utcnow())
        assert claimed.attempts == 1 and delivery.claim(app, row.id, utcnow()) is None  # only one holder
        assert delivery.enqueue_due(app, submission_ids=[row.id]).expired_leases == 0
        later = utcnow() + timedelta(seconds=delivery.lease_seconds(app, app.config["SEND_ENDPOINTS"]["bo"]) + 1)
        result = delivery.enqueue_due(app, now=later, submission_ids=[row.id])
    assert (result.expired_leases, result.queued) == (1, 1)
    assert RQJob.fetch(delivery.rq_job_id(row.id, 1), connection=tasks.get_queue(app).connection)


def test_concurrent_claims_of_one_row_have_exactly_one_winner(app, released):
    # Workers racing for the same row (a job and its requeued twin, two reconcilers) in separate transactions:
    # the conditional UPDATE lets one through, on SQLite (BEGIN IMMEDIATE) and on PostgreSQL (row lock, re-check).
    [row] = [r for r in rows(app) if r.endpoint == "bo"]
    now = utcnow()
    start = threading.Barrier(8)
    won: list = []

    def race():
        start.wait()
        claimed = delivery.claim(app, row.id, now)
        if claimed is not None:
            won.append(claimed)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1 and won[0].attempts == 1
    [after] = [r for r in rows(app) if r.id == row.id]
    assert (after.status, after.attempts) == ("sending", 1)


def test_the_reconciler_refills_a_redis_that_lost_everything(app, released, peers, worker_env):
    with app.app_context():
        assert delivery.kick(app).queued == 2
        Redis.from_url(app.config["REDIS_URL"]).flushall()  # the test's private Redis, never the shared one
        assert tasks.get_queue(app).count == 0
        assert delivery.enqueue_due(app).queued == 2
    run_burst_worker(app)
    assert {r.status for r in rows(app)} == {"sent"}


def test_the_receiver_api_is_csrf_exempt_but_the_forms_are_not(app, client, released):
    app.config["WTF_CSRF_ENABLED"] = True
    body = payload(app)
    response = client.post("/api/nhan-hoc-ba", json=body, headers={"Authorization": "Bearer token-self"})
    assert response.status_code == 201, response.get_data(as_text=True)
    with new_session(write=False, app=app) as s:
        [record] = s.exec(select(ReceivedRecord)).all()
    assert record.accepted and record.student_name and record.class_name == "6A1"
    assert client.post("/gui-hoc-ba/gui-lai").status_code == 400  # the CSRF error page, before any login check
    app.config["RECEIVER_TOKENS"] = {}
    disabled = client.post("/api/nhan-hoc-ba", json=body, headers={"Authorization": "Bearer token-self"})
    assert disabled.status_code == 404 and disabled.json["lydo"] == ["Máy chủ này không nhận học bạ."]
