"""Screens of grade periods (see service.py).

Principal and vice principal: the periods of the current school year (entry deadlines, locks for the
school, a grade or a class, the year's other deadlines), the inbox of unlock requests and one decision
screen per request (grant on a written approval, or refuse), with the scan of the minutes and the edits
made under the grant. Teachers and homeroom teachers: the request form and the status of their requests.

Every POST runs its service call in the request's write session: commit on success; on a refusal roll
back and show the form again with what was typed and the message next to its field (422).
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, date, datetime

from flask import current_app, flash, redirect, render_template, request, send_file, url_for
from sqlmodel import select

from portal import audit, clock
from portal.authz import ANY, current_actor, policy
from portal.db import get_session
from portal.errors import Conflict, DomainError, NotFound
from portal.models import PERIODS, YEAR_DEADLINES, GradePeriod, SchoolClass, SchoolYear, UnlockRequest, YearDeadline
from portal.periods import bp, read, service
from portal.periods.service import VN, DecisionRefused
from portal.web import is_fragment_request, render

LEADERS = {"principal": ANY, "vice_principal": ANY}
# Anyone who teaches or leads a class may ask; the service refuses a scope they do not teach (403).
REQUESTERS = {"teacher": ANY, "homeroom": ANY}


@bp.app_template_global("period_banner")
def period_banner(pair, term: str) -> list[read.Banner]:
    """The locked periods of a gradebook grid's term (templates/periods/_grid_banner.html)."""
    return read.grid_banner(get_session(), klass=pair.klass, subject_id=pair.subject.id, term=term)


@bp.context_processor
def _helpers():
    return {"local": read.local, "PERIODS": PERIODS}


# --- Input -----------------------------------------------------------------------------------------------


def parse_day(raw: str | None) -> date | None:
    """A date from a date input (2027-05-20) or as people type it (20/05/2027, 20-5-2027); None if invalid."""
    raw = (raw or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def parse_local_moment(raw: str | None) -> datetime | None:
    """A datetime-local value (Vietnam time, 2026-11-25T14:30) as an aware UTC instant; None if invalid."""
    raw = (raw or "").strip()
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=VN).astimezone(UTC)
        except ValueError:
            continue
    return None


def _year_day_error(year: SchoolYear, day: date | None, raw: str) -> str | None:
    """Why a typed deadline cannot be used (empty, not a date, outside the school year), or None."""
    if not raw.strip():
        return "Hãy nhập ngày."
    if day is None:
        return "Ngày không hợp lệ: chọn ngày trên lịch hoặc gõ theo mẫu 20/05/2027."
    last = max(year.end_date, date(year.end_date.year, 8, 31))
    if not year.start_date <= day <= last:
        return (f"Ngày phải thuộc năm học {year.name} (từ {year.start_date.strftime('%d/%m/%Y')} "
                f"đến {last.strftime('%d/%m/%Y')}).")
    return None


def _fragment(body: str, status: int):
    return body, status, {"Vary": "HX-Request"}


# --- Principal: periods, deadlines, locks ------------------------------------------------------------------


def _index_context(db, year: SchoolYear | None, *, errors=None, typed=None) -> dict:
    return {
        "year": year, "errors": errors or {}, "typed": typed or {}, "messages": {},
        "periods": read.period_overview(db, year) if year else [],
        "targets": read.lock_targets(db, year) if year else [],
        "deadlines": read.year_deadlines(db, year) if year else [],
        "pending": read.pending_count(db),
    }


@bp.get("")
@policy(**LEADERS)
def index():
    db = get_session()
    return render("periods/index.html", **_index_context(db, read.current_year(db)))


def _period_answer(period_id: int, *, message: str | None = None, errors=None, typed=None, status: int = 200):
    """After a period form: htmx gets the period's card again; otherwise a redirect (or the page, on errors)."""
    db = get_session()
    period = db.get(GradePeriod, period_id)
    if period is None:
        raise NotFound("Không tìm thấy kì đánh giá.")
    year = db.get(SchoolYear, period.school_year_id)
    if is_fragment_request():
        ctx = _index_context(db, year, errors=errors, typed=typed)
        card = next(p for p in ctx["periods"] if p.period.id == period_id)
        ctx["messages"] = {period_id: message} if message else {}
        return _fragment(render_template("periods/_period.html", p=card, **ctx), status)
    if status >= 400:
        return render("periods/index.html", status=status, **_index_context(db, year, errors=errors, typed=typed))
    return redirect(url_for("periods.index", _anchor=f"ky-{period.code}"))


def _saved(period_id: int, message: str):
    """Answer inside the write transaction, then commit: nothing reads (and locks) after the commit."""
    response = _period_answer(period_id, message=message)
    get_session().commit()
    if not is_fragment_request():
        flash(message, "success")
    return response


@bp.post("/<int:period_id>/han-nhap")
@policy(**LEADERS)
def set_deadline(period_id: int):
    db = get_session()
    period = db.get(GradePeriod, period_id)
    if period is None:
        raise NotFound("Không tìm thấy kì đánh giá.")
    raw, key = request.form.get("deadline", ""), f"deadline-{period_id}"
    day = parse_day(raw)
    problem = _year_day_error(db.get(SchoolYear, period.school_year_id), day, raw)
    if problem:
        db.rollback()
        return _period_answer(period_id, errors={key: problem}, typed={key: raw}, status=422)
    period = service.set_deadline(db, actor=current_actor(), period_id=period_id, deadline=day)
    return _saved(period_id, f"Đã lưu hạn nhập kì {PERIODS[period.code]}: hết ngày {day.strftime('%d/%m/%Y')}.")


def _parse_target(raw: str) -> tuple[str, int | None, int | None] | None:
    """“school” | “grade-<id>” | “class-<id>” → (scope, grade_id, class_id)."""
    if raw == "school":
        return "school", None, None
    kind, _, number = raw.partition("-")
    if kind in ("grade", "class") and number.isdigit():
        return kind, (int(number) if kind == "grade" else None), (int(number) if kind == "class" else None)
    return None


@bp.post("/<int:period_id>/khoa")
@policy(**LEADERS)
def lock(period_id: int):
    db = get_session()
    raw, key = request.form.get("target", ""), f"lock-{period_id}"
    target = _parse_target(raw)
    if target is None:
        db.rollback()
        return _period_answer(period_id, errors={key: "Hãy chọn khóa toàn trường, một khối hoặc một lớp."},
                              typed={key: raw}, status=422)
    scope, grade_id, class_id = target
    try:
        row = service.lock(db, actor=current_actor(), period_id=period_id, scope=scope, grade_id=grade_id,
                           class_id=class_id)
    except DecisionRefused as exc:
        db.rollback()
        return _period_answer(period_id, errors={key: str(exc)}, typed={key: raw}, status=exc.status)
    period = db.get(GradePeriod, period_id)
    return _saved(period_id, f"Đã khóa kì {PERIODS[period.code]}: {read.lock_label(db, row)}.")


@bp.post("/khoa/<int:lock_id>/mo-khoa")
@policy(**LEADERS)
def release_lock(lock_id: int):
    db = get_session()
    row = service.release_lock(db, actor=current_actor(), lock_id=lock_id)
    period = db.get(GradePeriod, row.period_id)
    return _saved(row.period_id, f"Đã bỏ lệnh khóa kì {PERIODS[period.code]}: {read.lock_label(db, row)}.")


@bp.post("/han/<int:deadline_id>")
@policy(**LEADERS)
def set_year_deadline(deadline_id: int):
    db = get_session()
    row = db.get(YearDeadline, deadline_id)
    if row is None:
        raise NotFound("Không tìm thấy hạn này.")
    year = db.get(SchoolYear, row.school_year_id)
    raw, key = request.form.get("due", ""), f"due-{deadline_id}"
    day = parse_day(raw)
    problem = _year_day_error(year, day, raw)
    if problem is None:
        row = service.set_year_deadline(db, actor=current_actor(), deadline_id=deadline_id, due=day)
        message = f"Đã lưu hạn “{YEAR_DEADLINES[row.code]}”: hết ngày {day.strftime('%d/%m/%Y')}."
        if not is_fragment_request():
            db.commit()
            flash(message, "success")
            return redirect(url_for("periods.index", _anchor="han-cong-viec"))
        body = render_template("periods/_year_deadlines.html", saved=message, **_index_context(db, year))
        db.commit()
        return _fragment(body, 200)
    db.rollback()
    ctx = _index_context(db, year, errors={key: problem}, typed={key: raw})
    if is_fragment_request():
        return _fragment(render_template("periods/_year_deadlines.html", saved=None, **ctx), 422)
    return render("periods/index.html", status=422, **ctx)


# --- Principal: unlock requests and decisions ------------------------------------------------------------------


@bp.get("/de-nghi")
@policy(**LEADERS)
def inbox():
    pending, decided = read.inbox(get_session())
    return render("periods/inbox.html", pending=pending, decided=decided)


def _decision_page(request_id: int, *, form: dict | None = None, errors=None, status: int = 200):
    db = get_session()
    row = db.get(UnlockRequest, request_id)
    if row is None:
        raise NotFound("Không tìm thấy đề nghị mở khóa.")
    view = read.request_views(db, [row])[0]
    now = clock.now()
    defaults = {"minutes_number": "", "minutes_date": read.today_local().isoformat(),
                "approver": current_actor().user.full_name, "ends_at": read.local_input(now + service.GRANT_DEFAULT),
                "refusal_reason": ""}
    form = {**defaults, **(form or {})}  # what was typed wins over the defaults
    limits = {"min": read.local_input(now), "max": read.local_input(now + service.GRANT_MAX),
              "today": read.today_local().isoformat()}
    return render("periods/decision.html", status=status, req=view, row=row, form=form, errors=errors or {},
                  limits=limits, scope_state=read.scope_state(db, row, now),
                  edits=read.edits_under(db, row.id) if row.status == "granted" else [],
                  scan_max_mb=service.SCAN_MAX_BYTES // (1024 * 1024))


@bp.get("/de-nghi/<int:request_id>")
@policy(**LEADERS)
def decision(request_id: int):
    return _decision_page(request_id)


GRANT_FIELDS = ("minutes_number", "minutes_date", "approver", "ends_at")


def uploaded_scan(errors: dict, name: str = "scan") -> service.Scan | None:
    """The scanned written approval sent with a form (None without one), type- and size-checked; a refusal
    is put in errors[name]. Also used by the revocation of a transcript."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    scan = service.Scan(data=upload.read(), filename=upload.filename)
    try:
        service.check_scan(scan)
    except DecisionRefused as exc:
        errors[name] = f"{exc} Hãy chọn lại tệp."
    return scan


def _field_of(message: str) -> str:
    """Which field of the decision form a service refusal is about ("_form" when none)."""
    for start, name in (("Ngày biên bản", "minutes_date"), ("Số biên bản", "minutes_number"),
                        ("Thời điểm hết hạn", "ends_at"), ("Mở khóa tối đa", "ends_at"), ("Tệp biên bản", "scan")):
        if message.startswith(start):
            return name
    return "_form"


@bp.post("/de-nghi/<int:request_id>/cho-mo")
@policy(**LEADERS)
def grant(request_id: int):
    db = get_session()
    form = {name: request.form.get(name, "") for name in GRANT_FIELDS}
    errors = {}
    if not form["minutes_number"].strip():
        errors["minutes_number"] = "Hãy nhập số biên bản (ví dụ 12/BB-THCS)."
    minutes_date = parse_day(form["minutes_date"])
    if not form["minutes_date"].strip():
        errors["minutes_date"] = "Hãy nhập ngày lập biên bản."
    elif minutes_date is None:
        errors["minutes_date"] = "Ngày biên bản không hợp lệ: chọn trên lịch hoặc gõ theo mẫu 20/11/2026."
    if not form["approver"].strip():
        errors["approver"] = "Hãy nhập người phê duyệt (người ký biên bản)."
    ends_at = None
    if form["ends_at"].strip():
        ends_at = parse_local_moment(form["ends_at"])
        if ends_at is None:
            errors["ends_at"] = "Thời điểm hết hạn không hợp lệ: chọn ngày giờ hoặc gõ theo mẫu 25/11/2026 17:00."
    scan = uploaded_scan(errors)
    if not errors:
        try:
            service.grant(db, actor=current_actor(), request_id=request_id, minutes_number=form["minutes_number"],
                          minutes_date=minutes_date, approver=form["approver"], ends_at=ends_at, scan=scan,
                          instance_path=current_app.instance_path)
        except DecisionRefused as exc:
            errors[_field_of(str(exc))] = str(exc)
    if errors:
        db.rollback()
        if scan is not None and "scan" not in errors:
            errors["scan"] = "Tệp đã chọn chưa được lưu vì biểu mẫu còn lỗi: hãy chọn lại tệp trước khi gửi."
        return _decision_page(request_id, form=form, errors=errors, status=422)
    row = db.get(UnlockRequest, request_id)
    message = f"Đã cho mở khóa theo biên bản số {row.minutes_number} đến {read.local(row.ends_at)}."
    db.commit()
    flash(message, "success")
    return redirect(url_for("periods.decision", request_id=request_id))


@bp.post("/de-nghi/<int:request_id>/tu-choi")
@policy(**LEADERS)
def refuse(request_id: int):
    db = get_session()
    reason = request.form.get("refusal_reason", "")
    try:
        service.refuse(db, actor=current_actor(), request_id=request_id, reason=reason)
    except DecisionRefused as exc:
        db.rollback()
        field = "_form" if "đã được quyết định" in str(exc) else "refusal_reason"
        return _decision_page(request_id, form={"refusal_reason": reason}, errors={field: str(exc)},
                              status=exc.status)
    db.commit()
    flash("Đã từ chối đề nghị mở khóa. Giáo viên sẽ thấy lý do trên trang chủ.", "success")
    return redirect(url_for("periods.decision", request_id=request_id))


@bp.get("/de-nghi/<int:request_id>/bien-ban")
@policy(**LEADERS)
def scan(request_id: int):
    """The scanned minutes, only while its bytes still hash to the SHA-256 recorded with the grant."""
    row = get_session().get(UnlockRequest, request_id)
    if row is None or not row.scan_path:
        raise NotFound("Đề nghị này không có tệp biên bản.")
    root = os.path.realpath(current_app.instance_path)
    path = os.path.realpath(os.path.join(root, row.scan_path))
    if not path.startswith(root + os.sep) or not os.path.isfile(path):
        raise NotFound("Không tìm thấy tệp biên bản đã lưu.")
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != row.scan_sha256:
        raise Conflict("Tệp biên bản đã bị thay đổi sau khi lưu (mã SHA-256 không khớp), nên không được tải "
                       "xuống. Hãy báo quản trị hệ thống.")
    mime, name, digest = row.scan_mime, row.scan_name or os.path.basename(row.scan_path), row.scan_sha256
    audit.record_now("export", object_type="unlock_scan", object_id=row.id, class_id=row.class_id,
                     note=f"Bản quét biên bản của đề nghị mở khóa số {row.id} (SHA-256 {digest[:16]}…)")
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Scan-SHA256"] = digest
    return response


# --- Teachers: the request form --------------------------------------------------------------------------------


REQUEST_FIELDS = ("period", "scope", "student_id", "reason")


def _request_page(form: dict, *, errors=None, status: int = 200):
    db = get_session()
    actor = current_actor()
    year = read.current_year(db)
    scopes = read.requester_scopes(db, actor, year)
    if not form.get("scope") and len(scopes) == 1:
        form["scope"] = scopes[0][0]
    chosen = read.parse_scope(form["scope"]) if form.get("scope") in dict(scopes) else None
    students = read.class_students(db, chosen[0]) if chosen else []
    periods = read.year_periods(db, year) if year else {}
    today = read.today_local()
    period_options = [(code, f"{PERIODS[code]} (hạn nhập {p.deadline.strftime('%d/%m/%Y')}"
                             + (", đã quá hạn)" if p.deadline < today else ")")) for code, p in periods.items()]
    return render("periods/request.html", "periods/_student_field.html", status=status, year=year, form=form,
                  errors=errors or {}, scopes=scopes, students=students, period_options=period_options,
                  mine=read.requests_of(db, actor.id))


@bp.get("/gui-de-nghi")
@policy(**REQUESTERS)
def new_request():
    form = {name: request.args.get(name, "") for name in REQUEST_FIELDS}
    form["reason"] = ""
    return _request_page(form)


@bp.post("/gui-de-nghi")
@policy(**REQUESTERS)
def create_request():
    db = get_session()
    form = {name: request.form.get(name, "") for name in REQUEST_FIELDS}
    errors = {}
    if form["period"] not in PERIODS:
        errors["period"] = "Hãy chọn kì cần mở khóa."
    chosen = read.parse_scope(form["scope"])
    if chosen is None:
        errors["scope"] = "Hãy chọn lớp – môn (hoặc lớp chủ nhiệm) cần mở khóa."
    student_id = None
    if form["student_id"].strip():
        if form["student_id"].strip().isdigit():
            student_id = int(form["student_id"])
        else:
            errors["student_id"] = "Học sinh không hợp lệ: hãy chọn lại trong danh sách."
    if not errors:
        class_id, subject_id = chosen
        klass = db.get(SchoolClass, class_id)
        if klass is None:
            raise NotFound("Không tìm thấy lớp này.")
        period = db.exec(select(GradePeriod).where(GradePeriod.school_year_id == klass.school_year_id,
                                                   GradePeriod.code == form["period"])).first()
        if period is None:
            period = service.ensure_periods(db, db.get(SchoolYear, klass.school_year_id))[form["period"]]
        try:
            row = service.request_unlock(db, actor=current_actor(), period_id=period.id, class_id=class_id,
                                         subject_id=subject_id, student_id=student_id, reason=form["reason"])
        except DecisionRefused as exc:
            errors["reason"] = str(exc)
        except NotFound as exc:
            if student_id is None or not str(exc).startswith("Học sinh"):
                db.rollback()
                raise
            errors["student_id"] = f"{exc} Hãy chọn lại học sinh (hoặc để trống: cả lớp)."
        except DomainError:
            db.rollback()
            raise
    if errors:
        db.rollback()
        return _request_page(form, errors=errors, status=422)
    described = service.describe_scope(db, row)
    db.commit()
    flash(f"Đã gửi đề nghị mở khóa: {described}. Hiệu trưởng sẽ xem xét và trả lời trên trang chủ của bạn.",
          "success")
    return redirect(url_for("periods.new_request", _anchor="de-nghi-cua-toi"))
