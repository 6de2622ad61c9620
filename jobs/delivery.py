"""RQ entry points of delivery: send one submission, reconcile the outbox with the queue.

Arguments are ids only. The `submissions` row is the truth: `send` claims it before posting and records the
outcome on it (portal/delivery/service.py), so a job delivered twice sends once; `reconcile` backfills the
submissions of endpoints configured after a release, and re-enqueues from the database whatever Redis lost or
a dead worker left claimed. WarmWorker runs `reconcile` when it starts and every SEND_RECONCILE_SECONDS from
its loop (jobs/worker.py).
"""

from __future__ import annotations

from jobs import get_app


def send(submission_id: int) -> dict:
    """Claim and post one submission; record the receipt, or the reason and the next attempt."""
    from portal.delivery import service

    app = get_app()
    with app.app_context():
        return service.send_submission(app=app, submission_id=submission_id)


def reconcile() -> dict:
    """Add the submissions an endpoint missed (configured after the release), then enqueue every submission that
    is due, or claimed by a worker that died (its lease expired)."""
    from portal.delivery import service

    app = get_app()
    with app.app_context():
        return service.reconcile(app)
