"""Views of the review blueprint: department heads read and flag gradebooks; leaders read summaries."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, abort, flash, redirect, request, url_for

from portal import audit
from portal.authz import ANY, Actor, current_actor, department_subject, own_class, policy
from portal.db import get_session
from portal.errors import NotFound
from portal.gradebook import rules
from portal.gradebook.service import TERM_LABELS
from portal.models import Flag, SchoolClass, SchoolYear, Subject
from portal.parents import read as parents_read
from portal.review import bp, export, service
from portal.web import is_fragment_request, render

LEADERS = {"principal": ANY, "vice_principal": ANY}


# --- Scopes of a flag: who may close it ---------------------------------------------------------------


def _flag(actor: Actor, args: dict) -> Flag | None:
    flag_id = args.get("flag_id")
    return actor.session.get(Flag, flag_id) if flag_id is not None else None


def flag_teacher(param: str = "flag_id"):
    """Subject teacher: the flag is on a (class, subject) assigned to the user."""

    def scope(actor: Actor, args: dict) -> bool:
        flag = _flag(actor, {"flag_id": args.get(param)})
        return flag is not None and (flag.class_id, flag.subject_id) in actor.teaching_pairs

    return scope


def flag_department(param: str = "flag_id"):
    """Department head: the flag is on a subject of the user's department (whoever of its heads wrote it)."""

    def scope(actor: Actor, args: dict) -> bool:
        flag = _flag(actor, {"flag_id": args.get(param)})
        return flag is not None and flag.subject_id in actor.department_subject_ids

    return scope


# --- Department head -----------------------------------------------------------------------------------


@bp.get("/to-chuyen-mon")
@policy(department_head=ANY)
def department():
    year, departments = service.department_overview(get_session(), actor=current_actor())
    return render("review/department.html", year=year, departments=departments)


def _sheet_page(class_id: int, subject_id: int, term: str, *, form=None, error=None, status=200):
    session = get_session()
    actor = current_actor()
    review = service.review_sheet(session, class_id=class_id, subject_id=subject_id, term=term)
    can_flag = service.heads_subject(actor, review.sheet.pair.subject)
    if form is None:
        form = {"student_id": request.args.get("hs", ""), "slot": request.args.get("o", ""), "note": ""}
    return render("review/sheet.html", "review/_flags.html", status=status, review=review, sheet=review.sheet,
                  pair=review.sheet.pair, term=term, TERM_LABELS=TERM_LABELS, can_flag=can_flag, form=form,
                  error=error, display=rules.display)


@bp.get("/to-chuyen-mon/<int:class_id>/<int:subject_id>/<term>")
@policy(department_head=department_subject(), **LEADERS)
def sheet(class_id: int, subject_id: int, term: str):
    return _sheet_page(class_id, subject_id, service.require_term(term))


@bp.post("/to-chuyen-mon/<int:class_id>/<int:subject_id>/<term>/danh-dau")
@policy(department_head=department_subject())
def add_flag(class_id: int, subject_id: int, term: str):
    session = get_session()
    form = {"student_id": request.form.get("student_id", ""), "slot": request.form.get("slot", ""),
            "note": request.form.get("note", "")}
    student_id = int(form["student_id"]) if form["student_id"].isdigit() else None
    try:
        service.add_flag(session=session, actor=current_actor(), class_id=class_id, subject_id=subject_id,
                         term=term, student_id=student_id, slot=form["slot"] or None, note=form["note"])
    except service.FlagRefused as exc:
        session.rollback()
        return _sheet_page(class_id, subject_id, term, form=form, error=str(exc), status=exc.status)
    session.commit()
    if is_fragment_request():
        return _sheet_page(class_id, subject_id, term, form={"student_id": "", "slot": "", "note": ""})
    flash("Đã gửi ghi chú cho giáo viên bộ môn.", "success")
    return redirect(url_for("review.sheet", class_id=class_id, subject_id=subject_id, term=term) + "#ghi-chu")


@bp.post("/danh-dau/<int:flag_id>/xu-ly")
@policy(teacher=flag_teacher(), department_head=flag_department())
def resolve_flag(flag_id: int):
    """Close a flag. htmx: returns the flag's fragment (#flag-<id>); else redirects to `next` or the sheet."""
    session = get_session()
    actor = current_actor()
    resolution = request.form.get("resolution", request.form.get("ket_qua"))
    flag = service.resolve_flag(session=session, actor=actor, flag_id=flag_id, resolution=resolution)
    session.commit()
    if is_fragment_request():
        item = service.describe_flags(session, [flag])[0]
        return render("review/_flag.html", "review/_flag.html", item=item, can_close=False)
    flash("Đã đánh dấu ghi chú là đã xử lý.", "success")
    target = _local(request.form.get("next")) or _local(request.referrer)
    if target is None:
        subject = session.get(Subject, flag.subject_id)
        if service.heads_subject(actor, subject):
            target = url_for("review.sheet", class_id=flag.class_id, subject_id=flag.subject_id, term=flag.term)
        else:
            target = url_for("home.index")
    return redirect(target)


def _local(url: str | None) -> str | None:
    """Return url when it points into this site (a path, or this host), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.netloc != request.host:
            return None
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    return url


# --- Principal: summaries --------------------------------------------------------------------------------


def _term_arg(session, year) -> str:
    term = request.args.get("ky") or service.default_term(session, year)
    if term not in service.SUMMARY_TERMS:
        abort(404)
    return term


@bp.get("/tong-hop")
@policy(**LEADERS)
def summary():
    session = get_session()
    year = service.current_year(session)
    term = _term_arg(session, year)
    data = service.school_summary(session, term=term, year=year)
    return render("review/summary.html", summary=data, term=term, TERMS=service.SUMMARY_TERMS, svc=service)


def _class(class_id: int) -> SchoolClass:
    klass = get_session().get(SchoolClass, class_id)
    if klass is None:
        abort(404)
    return klass


@bp.get("/tong-hop/lop/<int:class_id>")
@policy(homeroom=own_class(), **LEADERS)
def class_summary(class_id: int):
    session = get_session()
    klass = _class(class_id)
    term = _term_arg(session, session.get(SchoolYear, klass.school_year_id))
    results = service.class_results(session, klass=klass)
    publication = (parents_read.publication_cell(session, klass, term)
                   if current_actor().has(*LEADERS) else None)
    return render("review/class_summary.html", results=results, term=term, TERMS=service.SUMMARY_TERMS,
                  svc=service, counts=service.count_class(results, term), display=rules.display,
                  LEVELS_SHORT=rules.LEVEL_LABELS, publication=publication)


def _xlsx(data: bytes, filename: str, **audit_fields) -> Response:
    """Send an XLSX download, recording the export (in its own transaction: a GET writes nothing else)."""
    audit.record_now("export", object_type="xlsx", object_id=filename[:60], note=f"Bảng tổng hợp: {filename}",
                     **audit_fields)
    return Response(data, mimetype=export.XLSX_MIME, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/tong-hop/lop/<int:class_id>/<term>.xlsx")
@policy(homeroom=own_class(), **LEADERS)
def class_summary_xlsx(class_id: int, term: str):
    session = get_session()
    service.require_term(term, service.SUMMARY_TERMS)
    klass = _class(class_id)
    results = service.class_results(session, klass=klass)
    data = export.class_summary_xlsx(results, term=term, school=service.school_name(session))
    return _xlsx(data, export.ascii_filename("tong-hop", klass.name, term, results.year.name), class_id=klass.id,
                 school_year_id=klass.school_year_id)


@bp.get("/tong-hop/<term>.xlsx")
@policy(**LEADERS)
def school_summary_xlsx(term: str):
    session = get_session()
    service.require_term(term, service.SUMMARY_TERMS)
    data = service.school_summary(session, term=term)
    if data.year is None:
        raise NotFound("Chưa có năm học hiện tại để tổng hợp.")
    return _xlsx(export.school_summary_xlsx(data), export.ascii_filename("tong-hop-toan-truong", term, data.year.name),
                 school_year_id=data.year.id)

