"""Subject teachers' gradebook: the list of their (class, subject) pairs and the per-term grid.

Each grid cell is a small form that htmx posts on change; the answer is the re-rendered cell (its root
carries the stored version) plus out-of-band swaps of the student's results. A refused value (422), a
stale version (409) or a write in a locked period (423) comes back as the same fragment with the message
inside it (a locked cell keeps showing its stored value). Without JavaScript the forms post and the grid is
shown again (PRG) with a flash message.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func
from sqlmodel import select

from portal.authz import ANY, current_actor, policy, teaches_pair
from portal.db import get_session
from portal.errors import Conflict, DomainError
from portal.gradebook import bp, rules, service
from portal.gradebook.service import TERM_LABELS, TERMS, CellRefused
from portal.home.service import class_sizes, current_year
from portal.models import Assessment, Flag, Student, SubjectComment, User
from portal.periods.service import PeriodLocked
from portal.web import is_fragment_request, render

TERM = "<any(hk1, hk2):term>"
RESOLVE_FLAG = "review.resolve_flag"  # built by the review area; the grid hides the button until it exists
XLSX_TEMPLATE = "gradebook.xlsx_template"  # views_xlsx.py: the sheet's Excel download and upload
STATES = {422: "invalid", 409: "conflict", 423: "locked"}  # a refused save's status → the cell's state


@bp.app_template_filter("vnvalue")
def vnvalue(value: str | None) -> str:
    """Show a stored cell value as teachers write it: "8,5", "Đ", "CĐ", "HTT"."""
    return rules.display(value)


@bp.get("")
@policy(teacher=ANY)
def index():
    db = get_session()
    actor = current_actor()
    year = current_year(db)
    pairs = service.teacher_pairs(db, actor=actor, year=year) if year else []
    sizes = class_sizes(db, list({klass.id for klass, _ in pairs}))
    flags = _open_flag_counts(db, [klass.id for klass, _ in pairs])
    items = []
    for klass, subject in pairs:
        terms = []
        for term in TERMS:
            sheet = service.load_sheet(db, class_id=klass.id, subject_id=subject.id, term=term)
            terms.append({"code": term, "label": TERM_LABELS[term], "filled": sheet.filled, "total": sheet.total,
                          "flags": flags.get((klass.id, subject.id, term), 0)})
        items.append({"klass": klass, "subject": subject, "size": sizes.get(klass.id, 0), "terms": terms,
                      "flags": sum(t["flags"] for t in terms)})
    return render("gradebook/index.html", year=year, items=items)


@bp.get(f"/<int:class_id>/<int:subject_id>/{TERM}")
@policy(teacher=teaches_pair())
def grid(class_id: int, subject_id: int, term: str):
    db = get_session()
    sheet = service.load_sheet(db, class_id=class_id, subject_id=subject_id, term=term)
    flags = db.exec(
        select(Flag).where(Flag.class_id == class_id, Flag.subject_id == subject_id, Flag.term == term,
                           Flag.status == "open").order_by(Flag.created_at)
    ).all()
    names = {s.id: s.full_name for s in (row.student for row in sheet.rows)}
    authors = _user_names(db, {f.created_by for f in flags})
    return render(
        "gradebook/grid.html", sheet=sheet, pair=sheet.pair, term=term, term_label=TERM_LABELS[term],
        flags=flags, flag_names=names, flag_authors=authors, slot_labels={s.code: s.label for s in sheet.slots},
        flagged={(f.student_id, f.slot) for f in flags}, can_resolve=RESOLVE_FLAG in current_app.view_functions,
        has_xlsx=XLSX_TEMPLATE in current_app.view_functions,
        show_results=sheet.pair.grade.number >= 6, show_year=term == "hk2" and sheet.pair.grade.number >= 6,
    )


@bp.post(f"/<int:class_id>/<int:subject_id>/{TERM}/o")
@policy(teacher=teaches_pair())
def save_cell(class_id: int, subject_id: int, term: str):
    db = get_session()
    student_id, version = _form_int("student_id"), _form_int("version")
    slot, raw = request.form.get("slot", ""), request.form.get("value", "")
    args = {"class_id": class_id, "subject_id": subject_id, "term": term}
    try:
        cell = service.save_cell(session=db, actor=current_actor(), **args, student_id=student_id, slot=slot,
                                 raw=raw, version=version)
    except (CellRefused, Conflict, PeriodLocked) as exc:
        db.rollback()
        status = exc.status
        ctx = _cell_context(db, **args, student_id=student_id, slot=slot)
        ctx.update(state=STATES[status], message=str(exc), typed=raw)
        if not _wants_fragment():
            flash(f"{ctx['student'].full_name}, {ctx['slot'].label}: {exc}", "error")
            return redirect(_grid_url(**args, anchor=ctx["cell_id"]))
        body = render_template("gradebook/_cell.html", **ctx)
        if status == 409:  # someone else's value is in now: the results may have changed with it
            body += _results_oob(db, ctx["pair"], term, student_id)
        return _fragment(body, status)
    except DomainError:
        db.rollback()
        raise
    ctx = _cell_context(db, **args, student_id=student_id, slot=slot, cell=cell)
    ctx.update(state="saved")
    body = render_template("gradebook/_cell.html", **ctx) + _results_oob(db, ctx["pair"], term, student_id)
    db.commit()  # rendered first, inside the write transaction, so nothing reads after the commit
    if not _wants_fragment():
        shown = rules.display(cell.value) or "(trống)"
        flash(f"Đã lưu {ctx['slot'].label} của {ctx['student'].full_name}: {shown}.", "success")
        return redirect(_grid_url(**args, anchor=ctx["cell_id"]))
    return _fragment(body, 200)


@bp.post(f"/<int:class_id>/<int:subject_id>/{TERM}/nhan-xet")
@policy(teacher=teaches_pair())
def save_comment(class_id: int, subject_id: int, term: str):
    db = get_session()
    student_id, version = _form_int("student_id"), _form_int("version")
    text = request.form.get("text", "")
    args = {"class_id": class_id, "subject_id": subject_id, "term": term}
    try:
        comment = service.save_comment(session=db, actor=current_actor(), **args, student_id=student_id,
                                       text=text, version=version)
    except (CellRefused, Conflict, PeriodLocked) as exc:
        db.rollback()
        ctx = _comment_context(db, **args, student_id=student_id)
        ctx.update(state=STATES[exc.status], message=str(exc), typed=text)
        if not _wants_fragment():
            flash(f"Nhận xét của {ctx['student'].full_name}: {exc}", "error")
            return redirect(_grid_url(**args, anchor=ctx["cell_id"]))
        return _fragment(render_template("gradebook/_comment.html", **ctx), exc.status)
    except DomainError:
        db.rollback()
        raise
    ctx = _comment_context(db, **args, student_id=student_id, comment=comment)
    ctx.update(state="saved")
    body = render_template("gradebook/_comment.html", **ctx)
    db.commit()
    if not _wants_fragment():
        flash(f"Đã lưu nhận xét của {ctx['student'].full_name}.", "success")
        return redirect(_grid_url(**args, anchor=ctx["cell_id"]))
    return _fragment(body, 200)


# --- Helpers -------------------------------------------------------------------------------------------


def _wants_fragment() -> bool:
    """htmx, or a client that does not ask for an HTML page (scripts, the load benchmark), gets the fragment."""
    return is_fragment_request() or "text/html" not in request.headers.get("Accept", "")


def _fragment(body: str, status: int):
    return body, status, {"Vary": "HX-Request"}


def _form_int(name: str) -> int:
    raw = request.form.get(name, "").strip()
    if not raw.isdigit():
        raise DomainError(f"Thiếu hoặc sai trường {name}. Vui lòng tải lại trang.")
    return int(raw)


def _grid_url(*, class_id: int, subject_id: int, term: str, anchor: str | None = None) -> str:
    return url_for("gradebook.grid", class_id=class_id, subject_id=subject_id, term=term, _anchor=anchor)


def _cell_context(db, *, class_id: int, subject_id: int, term: str, student_id: int, slot: str,
                  cell: Assessment | None = None) -> dict:
    """Everything _cell.html needs for one cell; `cell` is the stored row (read again when not given)."""
    pair = service.load_pair(db, class_id=class_id, subject_id=subject_id)
    spec = next(s for s in service.slots_for(pair, term) if s.code == slot)
    if cell is None:
        cell = db.exec(select(Assessment).where(
            Assessment.student_id == student_id, Assessment.subject_id == subject_id,
            Assessment.school_year_id == pair.year.id, Assessment.term == term, Assessment.slot == slot)).first()
    return {"pair": pair, "term": term, "slot": spec, "student": db.get(Student, student_id), "cell": cell,
            "cell_id": f"cell-{student_id}-{slot}", "state": None, "message": None, "typed": None}


def _comment_context(db, *, class_id: int, subject_id: int, term: str, student_id: int,
                     comment: SubjectComment | None = None) -> dict:
    pair = service.load_pair(db, class_id=class_id, subject_id=subject_id)
    if comment is None:
        comment = db.exec(select(SubjectComment).where(
            SubjectComment.student_id == student_id, SubjectComment.subject_id == subject_id,
            SubjectComment.school_year_id == pair.year.id, SubjectComment.term == term)).first()
    return {"pair": pair, "term": term, "student": db.get(Student, student_id), "comment": comment,
            "cell_id": f"comment-{student_id}", "state": None, "message": None, "typed": None}


def _results_oob(db, pair: service.Pair, term: str, student_id: int) -> str:
    """Render the student's results (term, and year on HK II) as out-of-band swaps."""
    if pair.grade.number < 6:
        return ""
    cells = db.exec(select(Assessment).where(
        Assessment.student_id == student_id, Assessment.subject_id == pair.subject.id,
        Assessment.school_year_id == pair.year.id)).all()
    mine = {(c.term, c.slot): c for c in cells}
    average, year = service.subject_results(pair, mine, term)
    missing = sum(1 for s in service.slots_for(pair, term) if not getattr(mine.get((term, s.code)), "value", ""))
    return render_template("gradebook/_results.html", oob=True, student_id=student_id, result_average=average,
                           result_year=year, missing=missing, show_year=term == "hk2")


def _open_flag_counts(db, class_ids: list[int]) -> dict[tuple[int, int, str], int]:
    if not class_ids:
        return {}
    rows = db.exec(
        select(Flag.class_id, Flag.subject_id, Flag.term, func.count())
        .where(Flag.class_id.in_(class_ids), Flag.status == "open")
        .group_by(Flag.class_id, Flag.subject_id, Flag.term)
    ).all()
    return {(c, s, t): n for c, s, t, n in rows}


def _user_names(db, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all())
