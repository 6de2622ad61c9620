"""Work on many transcripts at once, from the staff screens: queue a signing batch or a class's preparation
for the RQ workers, and release every transcript of a class that may be released.

A signing batch is a `jobs` row with one `job_items` row per transcript, committed together before the
job is handed to RQ (`portal.tasks.send`), so the progress page always has a row to show. The signer
confirms with their password: a wrong one queues nothing, counts as a failed sign-in attempt (the same
throttle as the login form) and is written to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, request
from sqlmodel import Session, select

from portal import audit, tasks
from portal.auth import passwords
from portal.auth.service import Throttled, check_throttle, normalize_username
from portal.errors import DomainError, Forbidden, NotFound
from portal.models import Job, JobItem, LoginAttempt, SchoolClass, Student, Transcript
from portal.transcripts import service
from portal.transcripts.read import PREPARE_JOB, SIGN_JOB


class SigningRefused(DomainError):
    """The signing request cannot be queued (wrong password, nothing chosen); shown next to the form."""

    status = 422


def confirm_password(session: Session, *, actor, password: str) -> None:
    """Check the signer's password (throttled like sign-in); on failure record it, commit, raise SigningRefused."""
    user = actor.user
    username, ip = normalize_username(user.username), (request.remote_addr or "")[:64]
    try:
        check_throttle(session, username=username, ip=ip)
    except Throttled as exc:
        audit.record(session, "transcript.sign_refused", actor_id=user.id, actor_name=user.full_name,
                     object_type="user", object_id=user.id, note="Xác nhận ký học bạ bị chặn tạm thời (sai mật "
                     "khẩu quá nhiều lần).")
        session.commit()
        raise SigningRefused(str(exc)) from None
    if passwords.verify_password(user.password_hash, password or ""):
        return
    session.add(LoginAttempt(username=username, ip=ip, success=False))
    audit.record(session, "transcript.sign_refused", actor_id=user.id, actor_name=user.full_name, object_type="user",
                 object_id=user.id, note="Sai mật khẩu khi xác nhận ký học bạ: không có học bạ nào được gửi ký.")
    session.commit()
    raise SigningRefused("Mật khẩu không đúng: chưa có học bạ nào được gửi ký. Vui lòng nhập lại mật khẩu đăng "
                         "nhập của bạn.")


def queue_signing(session: Session, *, actor, transcript_ids: list[int]) -> Job:
    """Record a signing batch of the user's pending transcripts (committed), then hand it to RQ."""
    pending = {row.id for row, _sigs, _due in service.pending_for_user(session, actor.id)}
    chosen = [i for i in dict.fromkeys(transcript_ids) if i in pending]
    if not chosen:
        raise SigningRefused("Hãy chọn ít nhất một học bạ đang chờ bạn ký.")
    job = Job(kind=SIGN_JOB, status="queued", created_by=actor.id, total=len(chosen))
    session.add(job)
    session.flush()
    session.add_all([JobItem(job_id=job.id, transcript_id=i) for i in chosen])
    session.commit()
    try:
        tasks.send(session=session, job=job, func=SIGN_JOB, args=(actor.id,))
    except tasks.QueueUnavailable:
        pass  # the row is marked failed with the reason, which the progress page shows
    return job


def queue_preparation(session: Session, *, actor, class_id: int) -> Job:
    """Queue the preparation of every transcript of a class (the job checks the lock and the data)."""
    if not actor.has(*service.PREPARERS):
        raise Forbidden("Bạn không có quyền lập học bạ.")
    if session.get(SchoolClass, class_id) is None:
        raise NotFound("Không tìm thấy lớp này.")
    return tasks.enqueue(session=session, kind=PREPARE_JOB, func=PREPARE_JOB, args=(actor.id, class_id),
                         created_by=actor.id)


@dataclass
class Refusal:
    transcript_id: int
    student: str
    problems: list[str]


@dataclass
class ReleaseReport:
    released: list[str] = field(default_factory=list)  # students' names
    refused: list[Refusal] = field(default_factory=list)

    def summary(self, limit: int = 4) -> str:
        """One paragraph for a flash message (kept short: it travels in the session cookie)."""
        parts = [f"Đã phát hành {len(self.released)} học bạ."]
        if self.refused:
            missing = [r for r in self.refused if any(p.startswith("Còn thiếu chữ ký") for p in r.problems)]
            other = [r for r in self.refused if r not in missing]
            parts.append(f"{len(self.refused)} học bạ chưa phát hành được"
                         + (f" ({len(missing)} học bạ còn thiếu chữ ký)" if missing else "") + ".")
            for r in other[:limit]:
                parts.append(f"{r.student}: {r.problems[0]}")
            if len(other) > limit:
                parts.append(f"… và {len(other) - limit} học bạ khác: xem lí do ở trang từng học bạ.")
        return " ".join(parts)


def release_class(session: Session, *, actor, class_id: int, app=None) -> ReleaseReport:
    """Release every transcript of the class in signing that passes the release checks; the caller commits."""
    app = app or current_app
    klass = session.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp này.")
    rows = session.exec(select(Transcript.id, Student.full_name).join(Student, Student.id == Transcript.student_id)
                        .where(Transcript.class_id == class_id, Transcript.status == "signing")
                        .order_by(Student.full_name)).all()
    report = ReleaseReport()
    for transcript_id, name in rows:
        try:
            service.release(session, actor=actor, transcript_id=transcript_id, app=app)
        except service.ChecksFailed as exc:
            report.refused.append(Refusal(transcript_id, name, exc.problems))
        else:
            report.released.append(name)
    return report
