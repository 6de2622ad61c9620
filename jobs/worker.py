"""The RQ worker class of the portal: a forking worker whose parent is warm.

RQ's default worker forks a work horse per job; a horse that imports the app, WeasyPrint and pyHanko and
loads the fonts itself spends ~2 s before its first signature. `WarmWorker` does that once in the parent,
before the first fork, so every horse starts warm. What must not cross a fork is handled where it lives:
the database pool is dropped in the child (jobs/__init__.py), and the PKCS#11 library is loaded lazily and
re-initialised per process (portal/pki/tokens.py); the parent never opens a token.

    rq worker --worker-class jobs.worker.WarmWorker …   (portal/serve.py starts it so)
"""

from __future__ import annotations

import logging
import os
import time

from rq.worker import Worker

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Build the app and load what rendering and signing need (fonts, templates, pyHanko)."""
    from jobs import get_app

    app = get_app()
    with app.app_context():
        import pyhanko.sign.signers  # noqa: F401 - imported for its cost, before forking

        from portal.pki import tokens
        from portal.transcripts import render

        render.warm_up()
        if os.path.exists(os.path.join(tokens.softhsm_dir(app.instance_path), "softhsm2.conf")):
            tokens.configure(app.instance_path)  # SOFTHSM2_CONF for the horses; the library loads in each


class WarmWorker(Worker):
    """Warm before the first fork; reconcile the sending outbox (backfill, then enqueue what is due) at start and
    every SEND_RECONCILE_SECONDS: configuring an endpoint and restarting the worker is enough to send everything.

    The periodic reconcile runs in the worker's own loop (it asks `should_run_maintenance_tasks` after every
    job and every idle dequeue timeout, worker TTL − 15 s), not through RQ's scheduler: a worker killed with
    -9 keeps the scheduler lock for a minute, and a Redis restarted empty has lost every scheduled job.
    """

    _reconciled_at: float | None = None

    def bootstrap(self, *args, **kwargs):
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - a cold horse still works: never stop the worker for this
            log.exception("warming the worker failed; jobs will start cold")
        result = super().bootstrap(*args, **kwargs)
        self._reconcile()
        return result

    def _reconcile(self) -> None:
        self._reconciled_at = time.monotonic()
        try:
            from jobs.delivery import reconcile

            reconcile()
        except Exception:  # noqa: BLE001 - Redis or the database away for a moment: the next pass retries
            log.exception("reconciling the sending outbox failed; will retry")

    def _reconcile_due(self) -> bool:
        from jobs import get_app

        every = float(get_app().config.get("SEND_RECONCILE_SECONDS") or 60)
        return self._reconciled_at is None or time.monotonic() - self._reconciled_at >= every

    @property
    def should_run_maintenance_tasks(self):
        return super().should_run_maintenance_tasks or self._reconcile_due()

    def run_maintenance_tasks(self):
        if self._reconcile_due():
            self._reconcile()
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
