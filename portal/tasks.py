"""Background work: record a Job row, then hand it to RQ by the entry point's dotted name.

The row in the ``jobs`` table is the truth about a job (its progress fragment polls it); RQ only carries
it to a worker. ``portal`` never imports ``jobs``: an entry point is named as a string
(``"jobs.system.ping"``) and receives the Job row's id as its first argument.

The RQ job id is ``job-<row id>`` and it is enqueued with ``unique=True``: sending the same row twice (a
retry after a lost reply, a reconciler) never queues it twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlmodel import Session

from portal.models import Job, utcnow

log = logging.getLogger(__name__)


class QueueUnavailable(RuntimeError):
    """The job was recorded but Redis could not take it; the row is marked failed."""


def redis_url(app=None) -> str:
    """Return the configured Redis URL, defaulting to the private socket instance/redis/redis.sock."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if url:
        return url
    return "unix://" + os.path.join(app.instance_path, "redis", "redis.sock")


def queue_names(app=None) -> list[str]:
    """Return the RQ queues the workers listen on (RQ_QUEUES, a sequence or a comma-separated string)."""
    app = app or current_app
    names = app.config.get("RQ_QUEUES") or ("default",)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return list(names)


def get_queue(app=None, name: str | None = None) -> Queue:
    """Return an RQ queue on the app's Redis (the first of RQ_QUEUES unless named)."""
    app = app or current_app
    url = redis_url(app)
    # One client (and connection pool) per app and URL, shared by the request threads.
    clients = app.extensions.setdefault("portal.redis", {})
    if url not in clients:
        clients[url] = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
    return Queue(name or queue_names(app)[0], connection=clients[url])


def rq_job_id(job: Job) -> str:
    return f"job-{job.id}"


def enqueue(*, session: Session, kind: str, func: str, args: Sequence = (), created_by: int | None = None,
            queue: str | None = None) -> Job:
    """Record a queued Job row (committed), then enqueue ``func(job.id, *args)`` on RQ; return the row."""
    job = Job(kind=kind, status="queued", created_by=created_by)
    session.add(job)
    session.commit()
    send(session=session, job=job, func=func, args=args, queue=queue)
    return job


def send(*, session: Session, job: Job, func: str, args: Sequence = (), queue: str | None = None) -> None:
    """Hand a recorded job to RQ once; a second send of the same row is a no-op."""
    try:
        get_queue(name=queue).enqueue_call(
            func, args=(job.id, *args), job_id=rq_job_id(job), description=job.kind, unique=True
        )
    except DuplicateJobError:
        log.info("job %s is already in RQ", job.id)
    except RedisError as exc:
        job.status = "failed"
        job.error = f"Hàng đợi công việc (Redis) không trả lời: {exc}"
        job.updated_at = utcnow()
        session.add(job)
        session.commit()
        raise QueueUnavailable(job.error) from exc
