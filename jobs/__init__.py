"""RQ entry points, one module per area (``jobs/<area>.py``).

An entry point takes the id of its Job row (plus plain ids), builds the app inside the worker, calls a
service and returns. ``tracked(job_id)`` keeps the row truthful: running → done, or failed with the
error. The app is built once per process and its connection pool is dropped in a forked child (RQ's
default worker forks a work horse per job), so that no connection is shared across a fork.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from flask import Flask

_app: Flask | None = None


def get_app() -> Flask:
    """Return this process's app, built from the environment (PORTAL_INSTANCE, DATABASE_URL, PORTAL_*)."""
    global _app
    if _app is None:
        from portal import create_app

        _app = create_app()
    return _app


def _forget_pool_in_child() -> None:
    if _app is not None:
        from portal.db import engine_for

        engine_for(_app).dispose(close=False)


os.register_at_fork(after_in_child=_forget_pool_in_child)


class JobNotFound(LookupError):
    pass


@contextmanager
def tracked(job_id: int, *, total: int = 1):
    """Mark the Job row running, yield the app (in an app context), then mark it done or failed.

    Yields None (and changes nothing) when the row is already done: a job delivered twice runs once.
    """
    from portal.db import write_session
    from portal.models import Job, utcnow

    app = get_app()
    with app.app_context():
        with write_session(app) as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"no job row {job_id}")
            if job.status == "done":
                already_done = True
            else:
                already_done = False
                job.status, job.total, job.error, job.updated_at = "running", total, None, utcnow()
                session.add(job)
        if already_done:
            yield None
            return
        try:
            yield app
        except BaseException as exc:
            with write_session(app) as session:
                job = session.get(Job, job_id)
                job.status, job.error, job.updated_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], utcnow()
                session.add(job)
            raise
        with write_session(app) as session:
            job = session.get(Job, job_id)
            job.status, job.updated_at = "done", utcnow()
            job.done = max(job.done, job.total - job.failed)
            session.add(job)
