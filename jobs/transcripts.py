"""RQ entry points of transcripts: prepare a class's transcripts, sign a batch for one signer.

Arguments are ids only; the token PIN is read from instance/secrets inside the worker, never passed
through Redis. Each item's outcome is written to its `job_items` row (or the Job's error text for
preparation), so the progress fragment reads the database, never RQ. Re-running a job is harmless:
items already done are skipped, and a signature already applied is not applied twice.
"""

from __future__ import annotations

from jobs import get_app, tracked


def _set_item(app, item_id: int, status: str, error: str | None = None) -> None:
    from portal.db import write_session
    from portal.models import Job, JobItem, utcnow

    with write_session(app) as session:
        item = session.get(JobItem, item_id)
        item.status, item.error, item.updated_at = status, (error or None) and error[:1000], utcnow()
        session.add(item)
        session.flush()
        job = session.get(Job, item.job_id)
        from sqlmodel import func, select

        counts = dict(session.exec(select(JobItem.status, func.count()).where(JobItem.job_id == job.id)
                                   .group_by(JobItem.status)).all())
        job.done, job.failed, job.updated_at = counts.get("done", 0), counts.get("failed", 0), utcnow()
        session.add(job)


def sign_batch(job_id: int, user_id: int) -> dict:
    """Sign every queued item of the job as `user_id` (their signatures whose turn has come)."""
    from sqlmodel import select

    from portal.db import new_session
    from portal.errors import DomainError
    from portal.models import JobItem
    from portal.transcripts import service

    app = get_app()
    with app.app_context():
        with new_session(write=False, app=app) as session:
            items = session.exec(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.id)).all()
    with tracked(job_id, total=len(items)) as running:
        if running is None:
            return {"skipped": True}
        for item in items:
            if item.status == "done":
                continue
            try:
                service.sign_for(user_id=user_id, transcript_id=item.transcript_id, app=running)
            except DomainError as exc:
                _set_item(running, item.id, "failed", str(exc))
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch; its reason is kept
                _set_item(running, item.id, "failed", f"Lỗi khi ký: {type(exc).__name__}: {exc}")
            else:
                _set_item(running, item.id, "done")
    return {"items": len(items)}


def prepare_class(job_id: int, actor_id: int, class_id: int) -> dict:
    """Prepare (or refresh) the transcript of every student of a class; failures are listed in the Job's error."""
    from portal.authz import Actor
    from portal.db import new_session, write_session
    from portal.errors import DomainError
    from portal.gradebook.service import class_roster
    from portal.models import Job, SchoolClass, User, utcnow
    from portal.transcripts import service

    app = get_app()
    with app.app_context():
        with new_session(write=False, app=app) as session:
            roster = [s for _, s in class_roster(session, class_id, include_left=True)]
    failures: list[str] = []
    with tracked(job_id, total=len(roster)) as running:
        if running is None:
            return {"skipped": True}
        for student in roster:
            try:
                with write_session(running) as session:
                    actor = Actor(session, session.get(User, actor_id))
                    klass = session.get(SchoolClass, class_id)
                    service.prepare(session, actor=actor, student_id=student.id,
                                    school_year_id=klass.school_year_id, app=running)
                ok = True
            except DomainError as exc:
                failures.append(f"{student.full_name}: {exc}")
                ok = False
            with write_session(running) as session:
                job = session.get(Job, job_id)
                job.done += ok
                job.failed += not ok
                job.error = "\n".join(failures)[:4000] or None
                job.updated_at = utcnow()
                session.add(job)
    return {"students": len(roster), "failed": len(failures)}
