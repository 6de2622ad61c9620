"""The backfill: submissions an endpoint missed because it was configured after a release or revocation are added
once, in the record's order, by the worker's reconciler, the CLI and the dashboard's button."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from rq import SimpleWorker
from sqlmodel import select

import jobs.worker
from jobs.delivery import reconcile
from portal import tasks
from portal.db import new_session
from portal.delivery import outbox, rules
from portal.delivery import service as delivery
from portal.models import AuditEvent, Submission, Transcript, User
from portal.transcripts import service
from tests.delivery.conftest import LABELS
from tests.periods.helpers import HTMX, html, sign_in, text
from tests.public.conftest import principal_actor, sign_and_release


def rows(app, endpoint: str | None = None) -> list[Submission]:
    with new_session(write=False, app=app) as s:
        query = select(Submission).order_by(Submission.endpoint, Submission.idbanghi, Submission.phienban)
        if endpoint is not None:
            query = query.where(Submission.endpoint == endpoint)
        return list(s.exec(query))


def shape(found: list[Submission]) -> list[tuple]:
    return [(r.endpoint, r.transcript_id, r.sukien, r.phienban, r.thoigiancapnhat, r.status) for r in found]


def only(app, *names: str) -> dict:
    """Configure only these endpoints (of the test's two); return the full configuration to restore."""
    full = app.extensions.setdefault("test.all_endpoints", dict(app.config["SEND_ENDPOINTS"]))
    app.config["SEND_ENDPOINTS"] = {name: full[name] for name in names}
    return dict(full)


def backfill_events(app) -> list[AuditEvent]:
    with new_session(write=False, app=app) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == "delivery.backfill")))


def revoke(app, session, transcript_id: int):
    with app.app_context():
        prepared = service.revoke(session, actor=principal_actor(session), transcript_id=transcript_id,
                                  reason="Nhập nhầm điểm môn Toán học kì II.", minutes_number="07/QĐ",
                                  minutes_date=datetime.now(UTC).date(), approver="Nguyễn Văn Thành")
        session.commit()
    return prepared.transcript


def test_backfill_adds_each_missing_submission_once(app, session, release_student):
    full = only(app)
    first = release_student(0)  # before any endpoint was configured
    only(app, "bo")
    second = release_student(1)  # before "so" was added
    assert [(r.endpoint, r.transcript_id, r.sukien, r.phienban) for r in rows(app)] == [("bo", second.id, "NEW", 1)]
    bo_before = shape(rows(app, "bo"))
    app.config["SEND_ENDPOINTS"] = full
    with new_session(write=False, app=app) as s:
        assert outbox.count_missing(s, ["bo", "so"]) == 3

    done = delivery.backfill(app=app)

    assert done.created == 3 and done.by_endpoint == {"bo": 1, "so": 2}
    found = {(r.endpoint, r.transcript_id): r for r in rows(app)}
    assert set(found) == {("bo", first.id), ("bo", second.id), ("so", first.id), ("so", second.id)}
    for (_name, transcript_id), row in found.items():
        transcript = first if transcript_id == first.id else second
        with new_session(write=False, app=app) as s:
            released_at = s.get(Transcript, transcript_id).released_at
        # The envelope a release writes: NEW, phienban 1, thoigiancapnhat = the release (not the backfill).
        assert (row.sukien, row.phienban, row.idbanghi, row.status, row.attempts, row.thoigiancapnhat) == (
            "NEW", 1, transcript.record_id, "pending", 0, rules.vn_timestamp(released_at))
    assert [r for r in shape(rows(app, "bo")) if r[1] == second.id] == bo_before  # untouched
    [event] = backfill_events(app)
    assert event.actor_id is None and "Bổ sung 3 lượt gửi còn thiếu" in event.note and "so 2" in event.note

    # Twice: nothing more, not even an audit event.
    again = delivery.backfill(app=app)
    assert again.created == 0 and len(rows(app)) == 4 and len(backfill_events(app)) == 1
    with new_session(write=False, app=app) as s:
        assert outbox.count_missing(s, ["bo", "so"]) == 0


def test_backfill_replays_a_revocation_after_its_release_and_the_next_version_follows(app, session,
                                                                                    release_student):
    full = only(app, "bo")
    next_version = revoke(app, session, release_student(0).id)
    assert [(r.sukien, r.phienban) for r in rows(app)] == [("NEW", 1), ("CANCEL", 2)]
    app.config["SEND_ENDPOINTS"] = full

    assert delivery.backfill(app=app).by_endpoint == {"so": 2}

    bo, so = rows(app, "bo"), rows(app, "so")
    assert [(r.transcript_id, r.sukien, r.phienban, r.thoigiancapnhat) for r in so] == [
        (r.transcript_id, r.sukien, r.phienban, r.thoigiancapnhat) for r in bo]
    assert [(r.sukien, r.phienban) for r in so] == [("NEW", 1), ("CANCEL", 2)]
    payload = delivery.build_payload(session, so[1])
    assert payload["sukien"] == "CANCEL" and payload["thuhoi"]["soquyetdinh"] == "07/QĐ"
    # The live outbox carries on from the backfilled versions.
    second = sign_and_release(app, session, next_version.id)
    assert [(r.endpoint, r.sukien, r.phienban) for r in rows(app) if r.transcript_id == second.id] == [
        ("bo", "UPDATE", 3), ("so", "UPDATE", 3)]
    assert delivery.backfill(app=app).created == 0


def test_backfill_never_sends_an_older_event_after_a_newer_one(app, session, release_student):
    full = only(app, "bo")
    next_version = revoke(app, session, release_student(0).id)
    app.config["SEND_ENDPOINTS"] = full
    second = sign_and_release(app, session, next_version.id)  # "so" hears of the record with version 2
    assert [(r.transcript_id, r.sukien, r.phienban) for r in rows(app, "so")] == [(second.id, "NEW", 1)]
    # Version 1's release and revocation would arrive at "so" with higher phienban and undo version 2: not sent.
    with new_session(write=False, app=app) as s:
        assert outbox.count_missing(s, ["bo", "so"]) == 0
    assert delivery.backfill(app=app).created == 0
    assert len(rows(app, "so")) == 1


def test_concurrent_backfills_add_each_submission_once(app, session, release_student):
    full = only(app, "bo")
    for index in range(3):
        release_student(index)
    app.config["SEND_ENDPOINTS"] = full
    start = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(delivery.backfill(app=app).created)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sum(results) == 3
    so = rows(app, "so")
    assert len(so) == 3 and {(r.sukien, r.phienban) for r in so} == {("NEW", 1)}
    assert len({r.transcript_id for r in so}) == 3


def test_the_worker_backfills_when_it_starts_and_sends_everything(app, session, release_student, peers, worker_env,
                                                                  monkeypatch):
    # The school released with only the Ministry configured, then added the Department and restarted the worker
    # (whose environment, worker_env, holds both endpoints).
    only(app, "bo")
    released = release_student(0)
    assert [r.endpoint for r in rows(app)] == ["bo"]
    monkeypatch.setattr(jobs.worker, "warm_up", lambda: None)  # rendering is not what this test is about

    class BurstWarmWorker(jobs.worker.WarmWorker, SimpleWorker):
        """WarmWorker's start (warm-up, reconcile) with SimpleWorker's in-process jobs, for a burst in the test."""

    queue = tasks.get_queue(app)
    BurstWarmWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")

    sent = rows(app)
    assert [(r.endpoint, r.sukien, r.phienban, r.status) for r in sent] == [("bo", "NEW", 1, "sent"),
                                                                           ("so", "NEW", 1, "sent")]
    for name, receiver in peers.items():
        [(_sender, idbanghi, phienban, sukien, accepted, _receipt, _reasons)] = receiver.rows()
        assert (idbanghi, phienban, sukien, accepted) == (released.record_id, 1, "NEW", True), name
    # The reconcile entry point reports it; run again it finds nothing to add.
    assert reconcile()["backfilled"] == 0


def test_the_reconcile_job_backfills_then_enqueues(app, session, release_student, worker_env):
    only(app, "bo")
    release_student(0)
    result = reconcile()  # builds its own app from the environment: both endpoints
    assert result["backfilled"] == 1 and result["queued"] == 2
    assert [r.endpoint for r in rows(app)] == ["bo", "so"]
    assert tasks.get_queue(app).count == 2


def test_the_cli_backfills_and_enqueues(app, session, release_student):
    full = only(app, "bo")
    release_student(0)
    app.config["SEND_ENDPOINTS"] = full
    runner = app.test_cli_runner()
    result = runner.invoke(args=["delivery", "backfill"])
    assert result.exit_code == 0, result.output
    assert "Đã bổ sung 1 lượt gửi còn thiếu (so: 1)." in result.output
    [so] = rows(app, "so")
    assert (so.sukien, so.phienban, so.status) == ("NEW", 1, "pending")
    assert tasks.get_queue(app).count == 1  # the new row, enqueued
    again = runner.invoke(args=["delivery", "backfill"])
    assert again.exit_code == 0 and "Không thiếu lượt gửi nào." in again.output
    assert len(rows(app)) == 2
    app.config["SEND_ENDPOINTS"] = {}
    assert "Chưa cấu hình nơi nhận" in runner.invoke(args=["delivery", "backfill"]).output


def test_the_dashboard_button_backfills(app, session, release_student):
    full = only(app, "bo")
    release_student(0)
    app.config["SEND_ENDPOINTS"] = full
    principal = sign_in(app, "principal")
    shown = text(principal.get("/gui-hoc-ba"))
    assert "Còn thiếu trong hàng gửi 1" in shown and "Bổ sung vào hàng gửi" in shown
    assert LABELS["so"] in shown

    app.config["WTF_CSRF_ENABLED"] = True
    assert principal.post("/gui-hoc-ba/bo-sung").status_code == 400  # no CSRF token
    app.config["WTF_CSRF_ENABLED"] = False
    assert rows(app, "so") == []

    response = principal.post("/gui-hoc-ba/bo-sung", headers=HTMX)
    assert response.status_code == 303 and response.headers["Location"].startswith("/gui-hoc-ba")
    fragment = text(principal.get(response.headers["Location"], headers=HTMX))
    assert "Đã bổ sung 1 lượt gửi còn thiếu vào hàng gửi." in fragment and "Còn thiếu trong hàng gửi" not in fragment
    [so] = rows(app, "so")
    assert (so.sukien, so.phienban) == ("NEW", 1)
    assert tasks.get_queue(app).count == 1
    [event] = backfill_events(app)
    with new_session(write=False, app=app) as s:
        assert s.get(User, event.actor_id).username == "hieutruong"

    vice = sign_in(app, "vice_principal")
    assert vice.post("/gui-hoc-ba/bo-sung").status_code == 303
    assert "Không thiếu lượt gửi nào" in text(vice.get("/gui-hoc-ba"))
    assert len(rows(app)) == 2 and len(backfill_events(app)) == 1
    assert 'id="dl-backfill-title"' not in html(vice.get("/gui-hoc-ba", headers=HTMX))
