"""Homeroom teacher's screens: class overview, conduct and absences per term, year-end decisions.

Every entry saves itself through ``save_record`` (the gradebook's single write path, which re-checks the
homeroom scope and the version). Principals and vice principals may read every page; only the class's
homeroom teacher writes.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from portal.authz import ANY, current_actor, own_class, policy
from portal.db import get_session
from portal.errors import Conflict, NotFound
from portal.gradebook import rules
from portal.gradebook import service as gradebook
from portal.homeroom import bp, service
from portal.periods.service import PeriodLocked
from portal.web import is_fragment_request, render

READERS = {"homeroom": own_class(), "principal": ANY, "vice_principal": ANY}


@bp.context_processor
def _labels():
    return {"LEVEL_LABELS": rules.LEVEL_LABELS, "DECISION_LABELS": rules.DECISION_LABELS,
            "AWARD_LABELS": rules.AWARD_LABELS, "COMPLETION_LABELS": service.COMPLETION_LABELS,
            "FILTERS": service.YEAR_END_FILTERS}


def _can_write(class_id: int) -> bool:
    return class_id in current_actor().homeroom_class_ids


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


@bp.get("/<int:class_id>")
@policy(**READERS)
def overview(class_id: int):
    scope = request.args.get("ky", "year")
    if scope not in service.SCOPES:
        scope = "year"
    book = service.load_class_year(get_session(), class_id=class_id)
    return render("homeroom/overview.html", book=book, view=service.build_overview(book, scope=scope), scope=scope,
                  can_write=_can_write(class_id), tab="overview")


@bp.get("/<int:class_id>/ren-luyen", defaults={"term": None})
@bp.get("/<int:class_id>/ren-luyen/<term>")
@policy(**READERS)
def conduct(class_id: int, term: str | None):
    db = get_session()
    if term is None:
        klass = service.load_class(db, class_id)
        return redirect(url_for("homeroom.conduct", class_id=class_id, term=service.current_term(db, klass)))
    if term not in service.TERMS:
        raise NotFound("Học kì không hợp lệ.")
    book = service.load_class_year(db, class_id=class_id)
    rows = service.build_term_sheet(book, term=term)
    return render("homeroom/conduct.html", book=book, klass=book.klass, rows=rows, term=term,
                  keys=service.term_keys(book), labels=service.KEY_LABELS,
                  complete=service.term_completeness(db, klass=book.klass, term=term),
                  can_write=_can_write(class_id), tab=term)


@bp.get("/<int:class_id>/cuoi-nam")
@policy(**READERS)
def year_end(class_id: int):
    book = service.load_class_year(get_session(), class_id=class_id)
    rows = service.build_year_end(book)
    shown = request.args.get("loc", "")
    if shown not in service.YEAR_END_FILTERS:
        shown = ""
    counts = {key: sum(1 for r in rows if not key or r.status == key) for key in service.YEAR_END_FILTERS}
    return render("homeroom/year_end.html", book=book, klass=book.klass, counts=counts, shown=shown,
                  rows=[r for r in rows if not shown or r.status == shown], can_write=_can_write(class_id),
                  tab="year_end")


@bp.post("/<int:class_id>/ghi")
@policy(homeroom=own_class())
def save_record(class_id: int):
    """Save one entry; answer with the field as stored now (200, 422 refused, 409 stale, 423 period locked) or
    redirect back."""
    db = get_session()
    klass = service.load_class(db, class_id)
    form = request.form
    student_id, term, key = _int(form.get("student_id")), form.get("term", ""), form.get("key", "")
    if student_id is None:
        raise NotFound("Học sinh này không thuộc lớp.")
    status, state = 200, "saved"
    try:
        gradebook.save_record(session=db, actor=current_actor(), class_id=class_id, student_id=student_id,
                              term=term, key=key, raw=form.get("value"), version=_int(form.get("version")) or 0)
        db.commit()
        message = "Đã lưu."
    except gradebook.CellRefused as exc:
        db.rollback()
        status, state, message = 422, "error", str(exc)
    except (Conflict, PeriodLocked) as exc:
        db.rollback()
        status, state, message = exc.status, "conflict" if exc.status == 409 else "error", str(exc)
    if not is_fragment_request():
        flash(message if status == 200 else f"Chưa lưu: {message}", "success" if status == 200 else "error")
        return redirect(_back(class_id, term))
    entry = service.load_entry(db, klass=klass, student_id=student_id, term=term, key=key)
    body = render_template("homeroom/_field.html", entry=entry, klass=klass, can_write=True, state=state,
                           message=message)
    if status == 200 and term in service.TERMS:
        # Keep the page's "entered so far" line true.
        body += render_template("homeroom/_complete.html", oob=True,
                                complete=service.term_completeness(db, klass=klass, term=term))
    if status == 200 and key == "conduct_retrained":
        # The summer re-evaluation decides the year: refresh that student's decision out of band.
        book = service.load_class_year(db, class_id=class_id, student_ids=[student_id])
        body += render_template("homeroom/_decision.html", row=service.year_end_row(book, book.students[0]),
                                oob=True)
    return body, status, {"Vary": "HX-Request"}


def _back(class_id: int, term: str) -> str:
    """Where a form posted without htmx returns: the page it came from, or the entry's own page."""
    target = request.form.get("next", "")
    own = url_for("homeroom.overview", class_id=class_id)
    if (target == own or target.startswith(own + "/") or target.startswith(own + "?")) and "//" not in target:
        return target
    if term in service.TERMS:
        return url_for("homeroom.conduct", class_id=class_id, term=term)
    return url_for("homeroom.year_end", class_id=class_id)
