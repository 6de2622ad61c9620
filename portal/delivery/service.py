"""Sending released transcripts to the Ministry's and the Department's databases, exactly once under failure.

The `submissions` table is the truth; RQ only carries work (docs/reliability.md):

1. **Outbox.** A release or a revocation adds one row per endpoint in its own transaction (outbox.py). After
   the commit the view calls `kick`, which enqueues every due row; nothing is enqueued before a commit.
2. **Send** (`send_submission`, run by the RQ job ``jobs.delivery.send``). The row is claimed first, in one
   conditional UPDATE: pending/failed and due → "sending", attempts + 1, `updated_at` = now (the lease). Only
   one process can win a claim, so a job delivered twice sends once. Then one HTTP POST of the JSON envelope
   with ``Authorization: Bearer``, ``Idempotency-Key: <idbanghi>:<phienban>`` and a timeout. A 2xx stores the
   receipt (status "sent"). A 422 or 409 (the receiver refuses the content itself: it would refuse it again)
   stores the receiver's reasons and status "rejected": no automatic retry, someone resends it by hand
   ("Gửi lại ngay") once the cause is fixed. Anything else (5xx, timeout, no connection, 401…) stores the
   reason in Vietnamese, status "failed" and next_attempt_at = now + 10 s × 2^(attempts-1) (at most 1 h), and
   schedules the next attempt in RQ at that time. A failure is written only if this process still holds the
   claim (same attempts); a success is written whoever holds it (the receiver is idempotent: the same key
   gets the same receipt).
3. **Reconciler** (`reconcile`, run when a worker starts and every SEND_RECONCILE_SECONDS from the worker's
   loop): first the backfill (`backfill`, outbox.py: the submissions an endpoint missed because it was
   configured after the release or revocation), then `enqueue_due` (also run by `kick`), which enqueues every
   row that is pending/failed and due, or "sending" with an expired lease (timeout + SEND_LEASE_MARGIN_SECONDS:
   its worker died); never a "rejected" one. The RQ job id is ``delivery-send-<row id>-<attempts>``, enqueued
   with ``unique=True``, so reconcilers and kicks collapse onto one job per attempt; a job that exists but can
   no longer run (finished, failed, started long ago by a dead worker, or scheduled while the row is already
   due) is replaced.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx
from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, select

from portal import audit, tasks
from portal.dashboard.service import days_text, today_vn
from portal.db import new_session, write_session
from portal.delivery import outbox, rules
from portal.delivery.outbox import endpoints
from portal.errors import Conflict, NotFound
from portal.models import (
    SUBMISSION_STATUSES,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    Submission,
    Transcript,
    YearDeadline,
    utcnow,
)
from portal.periods.read import local, utc
from portal.transcripts import data

log = logging.getLogger(__name__)

SEND_FUNC = "jobs.delivery.send"
DEFAULT_TIMEOUT = 30.0
CLAIM_SKEW = timedelta(seconds=1)  # a scheduled retry may start a moment before its due time
LEADERS = ("principal", "vice_principal")
BACKFILL_BATCH = 200  # records per transaction of a backfill (and per IN list)


def setting(app, key: str) -> float:
    """A numeric SEND_* setting (environment values arrive as strings)."""
    return float(app.config[key])


def endpoint_timeout(endpoint: dict | None) -> float:
    return float((endpoint or {}).get("timeout") or DEFAULT_TIMEOUT)


def endpoint_label(name: str, endpoint: dict | None) -> str:
    return str((endpoint or {}).get("label") or name)


def lease_seconds(app, endpoint: dict | None) -> float:
    """How long a claim holds: the endpoint's timeout plus a margin for building and recording."""
    return endpoint_timeout(endpoint) + setting(app, "SEND_LEASE_MARGIN_SECONDS")


def rq_job_id(submission_id: int, attempts: int) -> str:
    return f"delivery-send-{submission_id}-{attempts}"


# --- Enqueueing and reconciling --------------------------------------------------------------------------


def _enqueue_one(queue, submission_id: int, attempts: int, *, at: datetime | None, now: datetime,
                 stale_after: float, job_timeout: float) -> str:
    """Put one attempt of a row on RQ; return "queued", "scheduled", "present" or "replaced"."""
    job_id = rq_job_id(submission_id, attempts)
    options = {"job_id": job_id, "unique": True, "job_timeout": int(job_timeout) + 30, "result_ttl": 600,
               "failure_ttl": 86400, "description": f"gửi học bạ (submission {submission_id}, lần {attempts + 1})"}
    for replaced in (False, True):
        try:
            if at is not None and at > now:
                queue.enqueue_at(at, SEND_FUNC, submission_id, **options)
                return "scheduled"
            queue.enqueue(SEND_FUNC, submission_id, **options)
            return "replaced" if replaced else "queued"
        except DuplicateJobError:
            if replaced:
                return "present"  # someone else replaced it meanwhile
        try:
            existing = RQJob.fetch(job_id, connection=queue.connection)
            status = existing.get_status(refresh=False)
        except NoSuchJobError:
            continue  # it just expired: enqueue it again
        if status == JobStatus.QUEUED and queue.get_job_position(job_id) is not None:
            return "present"
        if status == JobStatus.SCHEDULED and at is not None and at > now:
            return "present"
        if status == JobStatus.STARTED:
            started = utc(existing.started_at or existing.enqueued_at)
            if started is not None and (now - started).total_seconds() < stale_after:
                return "present"
        # Finished or failed without moving the row; "queued" but no longer in the queue (a worker killed between
        # dequeuing it and starting it: RQ's own clean-up of its intermediate queue runs every 10 minutes);
        # started by a worker that died; or scheduled while the row is already due (a killed worker's scheduler
        # lock holds for a minute): replace it. A duplicate run is harmless: only one claim can win.
        existing.delete()
    return "present"


@dataclass
class Reconciled:
    queued: int = 0
    present: int = 0
    expired_leases: int = 0

    def as_dict(self) -> dict:
        return {"queued": self.queued, "present": self.present, "expired_leases": self.expired_leases}


def enqueue_due(app=None, *, now: datetime | None = None, submission_ids=None) -> Reconciled:
    """Enqueue every row that is due: pending/failed with next_attempt_at passed, or "sending" past its lease.

    Raises RedisError when Redis does not answer (the rows stay as they are; the next reconcile retries).
    """
    app = app or current_app
    now = now or utcnow()
    configured = endpoints(app)
    with new_session(write=False, app=app) as session:
        query = select(Submission.id, Submission.endpoint, Submission.status, Submission.attempts,
                       Submission.updated_at).where(or_(
                           and_(Submission.status.in_(("pending", "failed")), Submission.next_attempt_at <= now),
                           Submission.status == "sending"))
        if submission_ids is not None:
            query = query.where(Submission.id.in_(list(submission_ids)))
        rows = session.exec(query.order_by(Submission.id)).all()
    result = Reconciled()
    if not rows:
        return result
    queue = tasks.get_queue(app)
    for sub_id, name, status, attempts, updated_at in rows:
        endpoint = configured.get(name)
        lease = lease_seconds(app, endpoint)
        if status == "sending":
            if not rules.lease_expired(utc(updated_at), now, lease):
                continue
            result.expired_leases += 1
        outcome = _enqueue_one(queue, sub_id, attempts, at=None, now=now, stale_after=lease,
                               job_timeout=endpoint_timeout(endpoint))
        if outcome in ("queued", "replaced"):
            result.queued += 1
        else:
            result.present += 1
    if result.queued or result.expired_leases:
        log.info("delivery: %s", result.as_dict())
    return result


def kick(app=None, *, submission_ids=None) -> Reconciled | None:
    """Enqueue what is due, after a commit; never fail the request: without Redis the reconciler does it later."""
    app = app or current_app
    try:
        return enqueue_due(app, submission_ids=submission_ids)
    except (RedisError, OSError) as exc:
        log.warning("delivery: could not enqueue submissions (%s); the reconciler will", exc)
        return None


# --- Backfill --------------------------------------------------------------------------------------------


@dataclass
class Backfilled:
    """The submissions a backfill added, and how many per endpoint."""

    ids: list[int] = field(default_factory=list)
    by_endpoint: dict[str, int] = field(default_factory=dict)
    postponed: int = 0  # records left for the next pass: another writer was in the way

    @property
    def created(self) -> int:
        return len(self.ids)


def backfill(*, app, actor=None) -> Backfilled:
    """Add the submissions that configured endpoints missed (released or revoked before they were configured).

    Idempotent and safe to run from several processes at once (outbox.backfill); one write transaction per batch
    of records, each with its audit event. Nothing is written when nothing is missing. The caller kicks.
    """
    names = list(endpoints(app))
    done = Backfilled()
    if not names:
        return done
    with new_session(write=False, app=app) as session:
        records = outbox.missing_records(session, names)
    for start in range(0, len(records), BACKFILL_BATCH):
        batch = records[start:start + BACKFILL_BATCH]
        try:
            with write_session(app) as session:
                rows = outbox.backfill(session, names, batch)
                if not rows:
                    continue
                counts: dict[str, int] = {}
                for row in rows:
                    counts[row.endpoint] = counts.get(row.endpoint, 0) + 1
                audit.record(session, "delivery.backfill", actor_id=actor.id if actor else None,
                             object_type="submission", object_id="",
                             note=f"Bổ sung {len(rows)} lượt gửi còn thiếu (học bạ phát hành hoặc thu hồi trước khi "
                                  "cấu hình nơi nhận): " + ", ".join(f"{n} {c}" for n, c in sorted(counts.items())))
        except (IntegrityError, OperationalError) as exc:
            # A writer the row locks do not cover (a deadlock victim on PostgreSQL, SQLite busy past its timeout):
            # nothing of this batch was written; the next pass adds what is still missing.
            log.warning("delivery: backfill of %d records postponed (%s)", len(batch), type(exc).__name__)
            done.postponed += len(batch)
            continue
        done.ids += [row.id for row in rows]
        for name, n in counts.items():
            done.by_endpoint[name] = done.by_endpoint.get(name, 0) + n
    if done.ids:
        log.info("delivery: backfilled %s", done.by_endpoint)
    return done


def reconcile(app=None) -> dict:
    """The worker's periodic pass: backfill what endpoints missed, then enqueue everything due.

    A backfill that fails (the database busy for a moment) does not stop the enqueueing; the next pass retries it.
    """
    app = app or current_app
    try:
        filled = backfill(app=app).created
    except SQLAlchemyError:
        log.exception("delivery: backfill failed; the next reconcile retries it")
        filled = 0
    return {**enqueue_due(app).as_dict(), "backfilled": filled}


# --- Sending ---------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    submission_id: int
    endpoint: str
    attempts: int  # this attempt's number (the claim's attempts value)


def claim(app, submission_id: int, now: datetime) -> Attempt | None:
    """Take the row for this process: due pending/failed, or sending past its lease → sending; None if not ours."""
    with write_session(app) as session:
        row = session.exec(select(Submission.endpoint).where(Submission.id == submission_id)).first()
        if row is None:
            return None
        lease = timedelta(seconds=lease_seconds(app, endpoints(app).get(row)))
        moved = session.execute(update(Submission).where(
            Submission.id == submission_id,
            or_(and_(Submission.status.in_(("pending", "failed")), Submission.next_attempt_at <= now + CLAIM_SKEW),
                and_(Submission.status == "sending", Submission.updated_at < now - lease)))
            .values(status="sending", attempts=Submission.attempts + 1, updated_at=now)).rowcount
        if not moved:
            return None
        attempts = session.exec(select(Submission.attempts).where(Submission.id == submission_id)).one()
    return Attempt(submission_id, row, attempts)


def table_of(transcript: Transcript) -> str:
    return data.PRIMARY_TABLE if transcript.regime == "tt27" else data.SECONDARY_TABLE


def build_payload(session: Session, submission: Submission) -> dict:
    """The JSON body of a submission: envelope, sealed XML and signed PDF (base64); CANCEL adds the decision."""
    transcript = session.get(Transcript, submission.transcript_id)
    school = session.exec(select(School)).first()
    revocation = None
    if submission.sukien == "CANCEL":
        revocation = {"lydo": transcript.revoke_reason or "", "soquyetdinh": transcript.revoke_minutes_number or "",
                      "ngayquyetdinh": transcript.revoke_minutes_date.isoformat()
                      if transcript.revoke_minutes_date else "", "nguoiky": transcript.revoke_approver or ""}
    return rules.build_envelope(bang=table_of(transcript), idbanghi=submission.idbanghi, sukien=submission.sukien,
                                phienban=submission.phienban, thoigiancapnhat=submission.thoigiancapnhat,
                                matruong=school.ministry_code, xml=transcript.xml, pdf=transcript.pdf,
                                revocation=revocation)


@dataclass
class Outcome:
    ok: bool
    reason: str = ""
    receipt: dict = field(default_factory=dict)
    permanent: bool = False  # the receiver refused the content: sending it again as it is cannot succeed


def post(endpoint: dict, label: str, body: dict, key: str) -> Outcome:
    """One HTTP POST of a submission; a 2xx with a receipt id is success, anything else a reason."""
    timeout = endpoint_timeout(endpoint)
    headers = {"Authorization": f"Bearer {endpoint.get('token', '')}", "Idempotency-Key": key,
               "Accept": "application/json"}
    try:
        response = httpx.post(endpoint["url"], json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Outcome(False, rules.failure_reason(label, error="timeout", timeout=timeout))
    except httpx.HTTPError as exc:
        return Outcome(False, rules.failure_reason(label, error=f"{type(exc).__name__}: {exc}"[:300]))
    if 200 <= response.status_code < 300:
        try:
            receipt = response.json()
        except ValueError:
            receipt = None
        if not isinstance(receipt, dict) or not receipt.get("receipt_id"):
            return Outcome(False, f"{label} trả lời HTTP {response.status_code} nhưng không kèm biên nhận hợp lệ.")
        return Outcome(True, receipt=receipt)
    return Outcome(False, rules.failure_reason(label, status=response.status_code,
                                               body=rules.receiver_reasons(response.content)),
                   permanent=rules.permanent_refusal(response.status_code))


def send_submission(*, app, submission_id: int, now: datetime | None = None) -> dict:
    """Claim a submission, post it and record the outcome; a row that is not ours to send is left alone."""
    now = now or utcnow()
    attempt = claim(app, submission_id, now)
    if attempt is None:
        return {"submission": submission_id, "skipped": True}
    endpoint = endpoints(app).get(attempt.endpoint)
    label = endpoint_label(attempt.endpoint, endpoint)
    if not endpoint or not endpoint.get("url"):
        outcome = Outcome(False, f"Điểm nhận “{attempt.endpoint}” không còn trong cấu hình SEND_ENDPOINTS.")
    else:
        with new_session(write=False, app=app) as session:
            submission = session.get(Submission, submission_id)
            body = build_payload(session, submission)
            key = rules.idempotency_key(submission.idbanghi, submission.phienban)
        outcome = post(endpoint, label, body, key)
    done = utcnow()
    with write_session(app) as session:
        if outcome.ok:
            session.execute(update(Submission).where(Submission.id == submission_id, Submission.status != "sent")
                            .values(status="sent", sent_at=done, updated_at=done, last_error=None,
                                    receipt=json.dumps(outcome.receipt, ensure_ascii=False, sort_keys=True),
                                    receipt_id=str(outcome.receipt["receipt_id"])[:100]))
            return {"submission": submission_id, "sent": True, "receipt_id": outcome.receipt["receipt_id"]}
        if outcome.permanent:
            session.execute(update(Submission).where(
                Submission.id == submission_id, Submission.status == "sending",
                Submission.attempts == attempt.attempts)
                .values(status="rejected", last_error=outcome.reason[:1000], updated_at=done))
            return {"submission": submission_id, "sent": False, "rejected": True, "reason": outcome.reason}
        wait = rules.backoff_seconds(attempt.attempts, base=setting(app, "SEND_BACKOFF_BASE_SECONDS"),
                                     cap=setting(app, "SEND_BACKOFF_MAX_SECONDS"))
        next_at = done + timedelta(seconds=wait)
        mine = session.execute(update(Submission).where(
            Submission.id == submission_id, Submission.status == "sending", Submission.attempts == attempt.attempts)
            .values(status="failed", last_error=outcome.reason[:1000], next_attempt_at=next_at,
                    updated_at=done)).rowcount
    if mine:
        try:
            _enqueue_one(tasks.get_queue(app), submission_id, attempt.attempts, at=next_at, now=utcnow(),
                         stale_after=lease_seconds(app, endpoint), job_timeout=endpoint_timeout(endpoint))
        except (RedisError, OSError) as exc:
            log.warning("delivery: retry of submission %s not scheduled (%s); the reconciler will", submission_id, exc)
    return {"submission": submission_id, "sent": False, "reason": outcome.reason, "retry_in": wait}


# --- Resending from the dashboard ------------------------------------------------------------------------


def _resendable(row: Submission | None) -> Submission:
    if row is None:
        raise NotFound("Không tìm thấy lượt gửi này.")
    if row.status == "sent":
        raise Conflict("Học bạ này đã được gửi và có biên nhận.")
    if row.status == "sending":
        raise Conflict("Học bạ này đang được gửi; chờ ít giây rồi xem lại.")
    return row


def resend(session: Session, *, actor, submission_id: int) -> Submission:
    """Make one failed, rejected or pending submission due now; the caller commits, then kicks."""
    row = _resendable(session.get(Submission, submission_id))
    if row.status == "rejected":
        row.status = "failed"  # claimable again; a new refusal makes it "rejected" again
    row.next_attempt_at = utcnow()
    session.add(row)
    transcript = session.exec(select(Transcript.student_id, Transcript.school_year_id, Transcript.class_id)
                              .where(Transcript.id == row.transcript_id)).one()
    audit.record(session, "delivery.resend", actor_id=actor.id, object_type="submission", object_id=row.id,
                 student_id=transcript[0], school_year_id=transcript[1], class_id=transcript[2],
                 note=f"Gửi lại ngay: {row.endpoint}, {row.sukien} phiên bản {row.phienban}")
    return row


def resend_failed(session: Session, *, actor, school_year_id: int | None = None) -> list[int]:
    """Make every failed or rejected submission (of a school year) due now; return their ids. The caller commits
    and kicks."""
    query = select(Submission).where(Submission.status.in_(("failed", "rejected")))
    if school_year_id is not None:
        query = query.join(Transcript, Transcript.id == Submission.transcript_id).where(
            Transcript.school_year_id == school_year_id)
    rows = session.exec(query).all()
    now = utcnow()
    for row in rows:
        row.status, row.next_attempt_at = "failed", now
        session.add(row)
    if rows:
        audit.record(session, "delivery.resend", actor_id=actor.id, object_type="submission",
                     object_id="", school_year_id=school_year_id, note=f"Gửi lại ngay {len(rows)} lượt gửi bị lỗi")
    return [row.id for row in rows]


# --- The sending dashboard -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts of submissions by status, for the whole year, an endpoint or a class."""

    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def percent(self) -> int:
        return rules.percent(self.count("sent"), self.total)

    @property
    def status(self) -> str:
        """For the bar's colour: done, failing, or under way."""
        if self.total and self.count("sent") == self.total:
            return "done"
        return "late" if self.count("failed") or self.count("rejected") else "open"


@dataclass
class Failure:
    submission_id: int
    student: str
    class_name: str
    endpoint: str
    sukien: str
    phienban: int
    attempts: int
    reason: str
    next_attempt: str  # Vietnam time
    rejected: bool = False  # refused by the receiver: no automatic retry, resend by hand


@dataclass
class Board:
    year: SchoolYear | None
    years: list[SchoolYear]
    deadline: date | None
    days_left: int | None
    days: str
    overall: Tally
    by_endpoint: list[Tally]
    by_class: list[Tally]
    failures: list[Failure]
    active: bool  # something is pending or being sent: the fragment polls itself
    configured: dict[str, str]  # endpoint name → label
    missing: int = 0  # submissions a backfill would add now (every school year)
    statuses: dict[str, str] = field(default_factory=lambda: dict(SUBMISSION_STATUSES))



def _years_with_submissions(session: Session) -> list[SchoolYear]:
    ids = session.exec(select(Transcript.school_year_id).join(Submission, Submission.transcript_id == Transcript.id)
                       .distinct()).all()
    current = session.exec(select(SchoolYear.id).where(SchoolYear.is_current)).first()
    wanted = set(ids) | ({current} if current else set())
    if not wanted:
        return []
    return list(session.exec(select(SchoolYear).where(SchoolYear.id.in_(wanted))
                             .order_by(SchoolYear.start_date.desc())))


def sending_board(session: Session, *, school_year_id: int | None = None, app=None) -> Board:
    """Everything the sending dashboard shows for one school year (by default the latest with submissions)."""
    app = app or current_app
    configured = {name: endpoint_label(name, cfg) for name, cfg in endpoints(app).items()}
    missing = outbox.count_missing(session, list(configured))
    years = _years_with_submissions(session)
    year = next((y for y in years if y.id == school_year_id), None)
    if year is None and years:
        with_rows = set(session.exec(select(Transcript.school_year_id).join(
            Submission, Submission.transcript_id == Transcript.id).distinct()).all())
        year = next((y for y in years if y.id in with_rows), years[0])
    overall = Tally("Tất cả")
    if year is None:
        return Board(None, [], None, None, "", overall, [], [], [], False, configured, missing)
    rows = session.exec(
        select(Submission.id, Submission.endpoint, Submission.status, Submission.sukien, Submission.phienban,
               Submission.attempts, Submission.last_error, Submission.next_attempt_at, SchoolClass.name,
               Student.full_name)
        .join(Transcript, Transcript.id == Submission.transcript_id)
        .join(SchoolClass, SchoolClass.id == Transcript.class_id)
        .join(Student, Student.id == Transcript.student_id)
        .where(Transcript.school_year_id == year.id)
        .order_by(SchoolClass.name, Student.full_name, Submission.endpoint, Submission.phienban)).all()
    endpoints_seen: dict[str, Tally] = {name: Tally(label) for name, label in configured.items()}
    classes: dict[str, Tally] = {}
    failures = []
    now = utcnow()
    soon = False
    for sub_id, name, status, sukien, phienban, attempts, error, next_at, class_name, student in rows:
        for tally in (overall, endpoints_seen.setdefault(name, Tally(configured.get(name, name))),
                      classes.setdefault(class_name, Tally(f"Lớp {class_name}"))):
            tally.counts[status] = tally.counts.get(status, 0) + 1
        if status in ("failed", "rejected"):
            failures.append(Failure(sub_id, student, class_name, configured.get(name, name), sukien, phienban,
                                    attempts, error or "", local(next_at), rejected=status == "rejected"))
        if status == "failed":
            soon = soon or utc(next_at) - now < timedelta(minutes=2)
    deadline = session.exec(select(YearDeadline.due).where(YearDeadline.school_year_id == year.id,
                                                           YearDeadline.code == "sending")).first()
    left = rules.days_left(deadline, today_vn()) if deadline else None
    active = bool(overall.count("pending") or overall.count("sending") or soon)
    failures.sort(key=lambda f: not f.rejected)  # those that need someone first; stable otherwise
    return Board(year, years, deadline, left, days_text(left) if left is not None else "", overall,
                 list(endpoints_seen.values()), list(classes.values()), failures, active, configured, missing)


def totals(session: Session) -> dict[str, int]:
    """Counts of every submission by status (for home screens and checks)."""
    return dict(session.exec(select(Submission.status, func.count()).group_by(Submission.status)).all())
