"""Staff screens of transcripts (see service.py for the life of a transcript).

Principal, vice principal and office: every class of every year with its transcripts' statuses, a class
page (prepare the whole class as a background job, release what may be released), one transcript with
its signatures, a student's whole level. Teachers and the principal: the signing queue (confirmed with
the password, signed by a background job) and the batch's live progress. Downloads are audited.

Every POST answers with a redirect (htmx follows it and swaps the fragment of the page it lands on);
a refused form is shown again with what was typed and the message next to its field (422).
"""

from __future__ import annotations

import io

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from sqlmodel import select

from portal import audit
from portal.authz import ANY, Actor, current_actor, homeroom_student, policy
from portal.db import get_session
from portal.delivery import service as delivery
from portal.errors import NotFound
from portal.models import TRANSCRIPT_STATUSES, Job, SchoolClass, Student, Transcript, TranscriptSignature
from portal.periods import service as periods
from portal.periods.read import local, today_local
from portal.periods.views import parse_day, uploaded_scan
from portal.tasks import QueueUnavailable
from portal.transcripts import batches, bp, read, service
from portal.web import is_fragment_request, render

OFFICE = {"principal": ANY, "vice_principal": ANY, "office": ANY}
PRINCIPAL = {"principal": ANY}
TEACHING_ROLES = ("teacher", "homeroom", "department_head")


def reads_transcript(actor: Actor, args: dict) -> bool:
    """A teacher who signs the transcript, or (once released) a homeroom teacher of one of the student's classes."""
    transcript_id = args.get("transcript_id")
    found = actor.session.exec(select(Transcript.student_id, Transcript.status)
                               .where(Transcript.id == transcript_id)).first()
    if found is None:
        return False
    signer = actor.session.exec(select(TranscriptSignature.id).where(
        TranscriptSignature.transcript_id == transcript_id, TranscriptSignature.user_id == actor.id)).first()
    if signer is not None:
        return True
    student_id, status = found
    return status in ("released", "revoked") and bool(actor.student_class_ids(student_id) & actor.homeroom_class_ids)


def job_owner(actor: Actor, args: dict) -> bool:
    """The user who started the job."""
    return actor.session.exec(select(Job.id).where(Job.id == args.get("job_id"),
                                                   Job.created_by == actor.id)).first() is not None


READERS = {**OFFICE, **{role: reads_transcript for role in TEACHING_ROLES}}
LEVEL_READERS = {**OFFICE, **{role: homeroom_student() for role in TEACHING_ROLES}}
SIGNERS = {"principal": ANY, "vice_principal": ANY, **{role: ANY for role in TEACHING_ROLES}}
BATCH_READERS = {"principal": ANY, "vice_principal": job_owner, **{role: job_owner for role in TEACHING_ROLES}}


@bp.context_processor
def _helpers():
    return {"local": local}


def _load(model, object_id: int, what: str):
    row = get_session().get(model, object_id)
    if row is None:
        raise NotFound(f"Không tìm thấy {what}.")
    return row


# --- Classes --------------------------------------------------------------------------------------------------


@bp.get("/hoc-ba/")
@policy(**OFFICE)
def index():
    return render("transcripts/index.html", groups=read.overview(get_session()))


def _job_arg() -> int | None:
    raw = request.args.get("job", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/hoc-ba/lop/<int:class_id>")
@policy(**OFFICE)
def class_page(class_id: int):
    db = get_session()
    klass = _load(SchoolClass, class_id, "lớp này")
    return render("transcripts/class.html", "transcripts/_class.html", view=read.class_view(db, klass),
                  progress=read.prepare_progress(db, _job_arg()), as_fragment=is_fragment_request())


@bp.post("/hoc-ba/lop/<int:class_id>/lap")
@policy(**OFFICE)
def prepare_class(class_id: int):
    db = get_session()
    try:
        job = batches.queue_preparation(db, actor=current_actor(), class_id=class_id)
    except QueueUnavailable as exc:
        flash(f"Chưa gửi được việc lập học bạ: {exc}", "error")
        return redirect(url_for("transcripts.class_page", class_id=class_id), 303)
    flash("Đã bắt đầu lập học bạ cả lớp: tiến độ hiện ngay bên dưới.", "success")
    return redirect(url_for("transcripts.class_page", class_id=class_id, job=job.id, _anchor="hoc-ba-lop"), 303)


@bp.post("/hoc-ba/lop/<int:class_id>/phat-hanh")
@policy(**PRINCIPAL)
def release_class(class_id: int):
    db = get_session()
    report = batches.release_class(db, actor=current_actor(), class_id=class_id)
    db.commit()
    delivery.kick(current_app)
    flash(report.summary(), "success" if report.released and not report.refused else
          ("warning" if report.released else "error"))
    return redirect(url_for("transcripts.class_page", class_id=class_id, _anchor="hoc-ba-lop"), 303)


# --- One transcript ---------------------------------------------------------------------------------------------


REVOKE_FIELDS = ("reason", "minutes_number", "minutes_date", "approver")


def _detail_page(transcript_id: int, *, form: dict | None = None, errors: dict | None = None, status: int = 200):
    db = get_session()
    row = _load(Transcript, transcript_id, "học bạ")
    actor = current_actor()
    problems = []
    if row.status == "signing" and actor.has(*OFFICE):
        problems = service.release_problems(db, row)
    defaults = {"reason": "", "minutes_number": "", "minutes_date": today_local().isoformat(),
                "approver": actor.user.full_name}
    return render("transcripts/detail.html", status=status, d=read.detail(db, row), problems=problems,
                  form={**defaults, **(form or {})}, errors=errors or {},
                  scan_max_mb=periods.SCAN_MAX_BYTES // (1024 * 1024))


@bp.get("/hoc-ba/<int:transcript_id>")
@policy(**READERS)
def detail(transcript_id: int):
    return _detail_page(transcript_id)


def _download(transcript_id: int, kind: str):
    db = get_session()
    row = _load(Transcript, transcript_id, "học bạ")
    name = read.file_name(db, row, kind)
    data, mime = (row.pdf, "application/pdf") if kind == "pdf" else (row.xml, "application/xml")
    audit.record_now("export", object_type="transcript", object_id=row.id, student_id=row.student_id,
                     school_year_id=row.school_year_id, class_id=row.class_id,
                     note=f"Tải {name} ({TRANSCRIPT_STATUSES.get(row.status, row.status).lower()})")
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/hoc-ba/<int:transcript_id>/pdf")
@policy(**READERS)
def pdf(transcript_id: int):
    return _download(transcript_id, "pdf")


@bp.get("/hoc-ba/<int:transcript_id>/xml")
@policy(**READERS)
def xml(transcript_id: int):
    return _download(transcript_id, "xml")


@bp.post("/hoc-ba/<int:transcript_id>/phat-hanh")
@policy(**PRINCIPAL)
def release(transcript_id: int):
    db = get_session()
    try:
        row = service.release(db, actor=current_actor(), transcript_id=transcript_id)
    except service.ChecksFailed as exc:
        db.rollback()
        flash(f"{exc.title} " + " ".join(exc.problems), "error")
        return redirect(url_for("transcripts.detail", transcript_id=transcript_id), 303)
    version = row.version
    db.commit()
    delivery.kick(current_app)
    flash(f"Đã phát hành học bạ (phiên bản {version}). Từ nay học bạ và dữ liệu của nó không thể thay đổi.",
          "success")
    return redirect(url_for("transcripts.detail", transcript_id=transcript_id), 303)


def _revoke_field(problem: str) -> str:
    """Which field of the revocation form a service refusal is about ("_form" when none)."""
    for start, name in (("Nhập lí do", "reason"), ("Nhập số", "minutes_number"), ("Nhập ngày", "minutes_date"),
                        ("Nhập người", "approver")):
        if problem.startswith(start):
            return name
    return "_form"


@bp.post("/hoc-ba/<int:transcript_id>/thu-hoi")
@policy(**PRINCIPAL)
def revoke(transcript_id: int):
    db = get_session()
    form = {name: request.form.get(name, "") for name in REVOKE_FIELDS}
    errors: dict[str, str] = {}
    minutes_date = parse_day(form["minutes_date"])
    if form["minutes_date"].strip() and minutes_date is None:
        errors["minutes_date"] = "Ngày quyết định không hợp lệ: chọn trên lịch hoặc gõ theo mẫu 20/11/2026."
    scan = uploaded_scan(errors)
    prepared = None
    if not errors:
        try:
            prepared = service.revoke(db, actor=current_actor(), transcript_id=transcript_id, reason=form["reason"],
                                      minutes_number=form["minutes_number"], minutes_date=minutes_date,
                                      approver=form["approver"], scan=scan)
        except service.ChecksFailed as exc:
            for problem in exc.problems:
                errors.setdefault(_revoke_field(problem), problem)
        except service.Conflict as exc:
            errors["_form"] = str(exc)
    if errors:
        db.rollback()
        if scan is not None and "scan" not in errors:
            errors["scan"] = "Tệp đã chọn chưa được lưu vì biểu mẫu còn lỗi: hãy chọn lại tệp trước khi gửi."
        return _detail_page(transcript_id, form=form, errors=errors, status=422)
    new = prepared.transcript
    renewed = new.id != transcript_id
    target, version = new.id, new.version
    db.commit()
    delivery.kick(current_app)
    if renewed:
        flash(f"Đã thu hồi học bạ. Phiên bản {version} đã được lập từ dữ liệu hiện tại và chờ ký lại.", "success")
    else:
        flash("Đã thu hồi học bạ. Phiên bản mới sẽ được lập khi dữ liệu đã sửa và kì “Cả năm” được khóa lại "
              "(nút “Lập học bạ cả lớp”).", "success")
    return redirect(url_for("transcripts.detail", transcript_id=target), 303)


# --- A student's whole level ---------------------------------------------------------------------------------


@bp.get("/hoc-ba/hoc-sinh/<int:student_id>")
@policy(**LEVEL_READERS)
def student(student_id: int):
    db = get_session()
    row = _load(Student, student_id, "học sinh")
    drafts = read.unreleased_years(db, student_id) if current_actor().has(*OFFICE) else []
    return render("transcripts/student.html", student=row, rows=read.level_view(db, student_id), drafts=drafts)


# --- Signing -------------------------------------------------------------------------------------------------


def _queue_page(*, chosen=(), error: str | None = None, status: int = 200):
    groups = read.queue(get_session(), current_actor().id)
    return render("transcripts/queue.html", status=status, groups=groups, due=read.due_ids(groups),
                  chosen=set(chosen), error=error)


@bp.get("/ky-so")
@policy(**SIGNERS)
def queue():
    return _queue_page()


@bp.post("/ky-so")
@policy(**SIGNERS)
def sign():
    db = get_session()
    actor = current_actor()
    chosen = [int(v) for v in request.form.getlist("transcript_id") if v.isdigit()]
    try:
        if request.form.get("all") == "1":
            chosen = read.due_ids(read.queue(db, actor.id))
        if not chosen:
            raise batches.SigningRefused("Hãy chọn ít nhất một học bạ đến lượt bạn ký (hoặc bấm “Ký tất cả”).")
        batches.confirm_password(db, actor=actor, password=request.form.get("password", ""))
        job = batches.queue_signing(db, actor=actor, transcript_ids=chosen)
    except batches.SigningRefused as exc:
        db.rollback()
        return _queue_page(chosen=chosen, error=str(exc), status=exc.status)
    return redirect(url_for("transcripts.sign_progress", job_id=job.id), 303)


@bp.get("/ky-so/tien-do/<int:job_id>")
@policy(**BATCH_READERS)
def sign_progress(job_id: int):
    job = _load(Job, job_id, "đợt ký này")
    if job.kind != read.SIGN_JOB:
        abort(404)
    return render("transcripts/sign_progress.html", "transcripts/_sign_progress.html",
                  batch=read.batch(get_session(), job))
