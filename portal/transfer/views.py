"""Chuyển trường screens: export a student's package (office, principal, vice principal); receive one (office,
principal): upload → verification report → "Tiếp nhận học sinh" only when the report is clean.

The uploaded package waits on disk between the report and the acceptance (`portal.uploads`), and is verified
again when accepted: the report the user saw is never trusted as it was.
"""

from __future__ import annotations

import io

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_login import current_user
from sqlmodel import select

from portal import uploads
from portal.authz import ANY, Actor, current_actor, policy
from portal.db import get_session, read_session
from portal.errors import Conflict
from portal.models import Student, TransferredDocument
from portal.transfer import bp, rules, service
from portal.web import render

EXPORTERS = {"principal": ANY, "vice_principal": ANY, "office": ANY}
RECEIVERS = {"principal": ANY, "office": ANY}
STORE = uploads.PreviewStore("transfers")
RECEIVE_PAGE = "transfer/receive.html"
REPORT = "transfer/_report.html"
GONE = "Gói đã kiểm tra không còn (đã tiếp nhận, hoặc quá 1 giờ). Vui lòng tải gói lên kiểm tra lại."


def homeroom_of_document(actor: Actor, args: dict) -> bool:
    """Homeroom: the document belongs to a student of one of the user's homeroom classes."""
    student_id = actor.session.exec(select(TransferredDocument.student_id).where(
        TransferredDocument.id == args.get("document_id"))).first()
    return student_id is not None and bool(actor.student_class_ids(student_id) & actor.homeroom_class_ids)


# --- Export -------------------------------------------------------------------------------------------------


@bp.get("/chuyen-truong")
@policy(**EXPORTERS)
def index():
    query = request.args.get("q", "").strip()
    rows = service.export_candidates(get_session(), query=query)
    return render("transfer/index.html", "transfer/_students.html", rows=rows, query=query)


@bp.post("/chuyen-truong/<int:student_id>/goi")
@policy(**EXPORTERS)
def export(student_id: int):
    db = get_session()
    try:
        name, data = service.export_package(db, actor=current_actor(), student_id=student_id)
    except Conflict as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("transfer.index"), 303)
    db.commit()
    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- Receive --------------------------------------------------------------------------------------------------


def _receive_page(*, report=None, token=None, problem=None, error=None, class_id=None, status=200):
    classes = service.current_classes(read_session()) if report is not None and report.clean else []
    return render(RECEIVE_PAGE, REPORT, status=status, report=report, token=token, problem=problem, error=error,
                  classes=classes, class_id=class_id, facts=rules.profile_facts(report.profile) if report else [],
                  max_size=rules.format_size(rules.MAX_PACKAGE_BYTES))


@bp.get("/chuyen-truong/nhan")
@policy(**RECEIVERS)
def receive():
    return _receive_page()


@bp.post("/chuyen-truong/nhan")
@policy(**RECEIVERS)
def check():
    try:
        data = service.read_upload(request.files.get("package"))
    except service.PackageRefused as exc:
        return _receive_page(problem=str(exc), status=400)
    # A read session: checking every signature takes seconds and must not hold the database's write lock.
    report = service.verify_package(read_session(), data=data, app=current_app)
    token = STORE.store(data, {"actor_id": current_user.id, "kind": "transfer"}) if report.clean else None
    return _receive_page(report=report, token=token, status=200 if report.clean else 422)


@bp.post("/chuyen-truong/nhan/tiep-nhan")
@policy(**RECEIVERS)
def accept():
    token = request.form.get("token", "")
    raw_class = request.form.get("class_id", "").strip()
    class_id = int(raw_class) if raw_class.isdigit() else None
    try:
        data, _meta = STORE.load(token, expect={"actor_id": current_user.id, "kind": "transfer"},
                                 sha256=request.form.get("sha256", ""))
    except (uploads.Gone, uploads.Altered):
        flash(GONE, "error")
        return redirect(url_for("transfer.receive"), 303)
    report = service.verify_package(read_session(), data=data, app=current_app)
    if not report.clean:
        return _receive_page(report=report, status=409,
                             error="Gói không còn đạt kiểm tra nên chưa tiếp nhận: xem các mục ✗ bên dưới.")
    db = get_session()
    try:
        done = service.accept_package(db, actor=current_actor(), report=report, class_id=class_id)
    except Conflict as exc:
        db.rollback()
        return _receive_page(report=report, token=token, error=str(exc), class_id=class_id, status=409)
    db.commit()
    STORE.discard(token)
    what = "Đã tạo hồ sơ và tiếp nhận" if done.created else "Đã tiếp nhận"
    flash(f"{what} học sinh {done.student_name}: lưu {done.stored} học bạ chuyển đến"
          + (f" (bỏ qua {done.skipped} học bạ đã có)" if done.skipped else "")
          + (f"; đã xếp vào lớp {done.class_name}" if done.class_name else "") + ".", "success")
    return redirect(url_for("school.student_detail", student_id=done.student_id), 303)


# --- Stored documents ------------------------------------------------------------------------------------------


@bp.get("/chuyen-truong/tai-lieu/<int:document_id>/<kind>")
@policy(**EXPORTERS, homeroom=homeroom_of_document)
def document(document_id: int, kind: str):
    if kind not in ("pdf", "xml"):
        abort(404)
    db = get_session()
    row = service.stored_document(db, document_id)
    student = db.get(Student, row.student_id)
    name = rules.document_name(student.student_code, row.school_year, row.version, kind)
    data, mime = (row.pdf, "application/pdf") if kind == "pdf" else (row.xml, "application/xml")
    service.record_download(row=row, name=name)
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
