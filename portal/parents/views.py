"""Parent screens: their children, one child's years, the PDF of a released transcript, the claim form, and the
account a parent without one creates with the code on their slip. Staff: a student's claim codes and a new code
printed on a slip. Principal: the publication of term results (a page of classes × terms, and the toggle also
shown on the class summary).

A parent reaches only the routes that name the parent role here (and their child's profile in portal/school);
every child route is scoped to the user's own children by `own_child`, and the transcript route further
refuses any version that is not a released one of that child (404).
"""

from __future__ import annotations

import io

from flask import current_app, flash, redirect, request, send_file, url_for
from flask_login import current_user
from sqlmodel import select

from portal import audit
from portal.admin.service import student_guardians
from portal.authz import ANY, Actor, Scope, current_actor, own_child, policy, public
from portal.db import get_session
from portal.errors import NotFound
from portal.models import GUARDIAN_RELATIONS, SchoolClass, SchoolYear, Student, Transcript
from portal.parents import bp, read, rules, service
from portal.periods import read as periods_read
from portal.transcripts import read as transcripts_read
from portal.web import is_fragment_request, render

PARENT = {"parent": ANY}
LEADERS = {"principal": ANY, "vice_principal": ANY}
PRINCIPAL = {"principal": ANY}


def current_homeroom_student(param: str = "student_id") -> Scope:
    """Homeroom: the student is in the class the user leads this school year."""

    def scope(actor: Actor, args: dict) -> bool:
        placed = service.current_class(actor.session, args.get(param))
        return placed is not None and placed[0].homeroom_teacher_id == actor.id

    return scope


# Who hands out claim codes: leadership, the office, and the student's homeroom teacher of this year.
CODE_ISSUERS = {**LEADERS, "office": ANY, "homeroom": current_homeroom_student()}


def _student(student_id: int) -> Student:
    student = get_session().get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    return student


def _no_store(response):
    """Personal data or a one-time code: never kept by a cache or the browser's history."""
    body, status, headers = response
    return body, status, {**headers, "Cache-Control": "private, no-store"}


# --- The parent ------------------------------------------------------------------------------------------------


@bp.get("/phu-huynh")
@policy(**PARENT)
def index():
    return _no_store(render("parents/index.html", children=read.children(get_session(), current_actor().id)))


@bp.get("/phu-huynh/con/<int:student_id>")
@policy(parent=own_child())
def child(student_id: int):
    view = read.child_view(get_session(), _student(student_id))
    return _no_store(render("parents/child.html", view=view))


@bp.get("/phu-huynh/con/<int:student_id>/hoc-ba/<int:transcript_id>.pdf")
@policy(parent=own_child())
def transcript_pdf(student_id: int, transcript_id: int):
    db = get_session()
    row = db.get(Transcript, transcript_id)
    if row is None or row.student_id != student_id or row.status not in ("released", "revoked"):
        raise NotFound("Không tìm thấy học bạ này của con.")
    if row.status != "released":
        raise NotFound("Phiên bản học bạ này đã bị nhà trường thu hồi: hãy tải phiên bản mới trên trang của con.")
    name = transcripts_read.file_name(db, row, "pdf")
    audit.record_now("export", object_type="transcript", object_id=row.id, student_id=row.student_id,
                     school_year_id=row.school_year_id, class_id=row.class_id, note=f"Phụ huynh tải {name}")
    response = send_file(io.BytesIO(row.pdf), mimetype="application/pdf", as_attachment=True, download_name=name,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/phu-huynh/lien-ket", methods=["GET", "POST"])
@policy(**PARENT)
def claim():
    error, status, code = None, 200, ""
    if request.method == "POST":
        db = get_session()
        code = request.form.get("code", "")
        try:
            student = service.claim_child(session=db, actor=current_actor(), code=code,
                                          ip=request.remote_addr or "?")
        except (service.ClaimRefused, service.ClaimThrottled) as exc:
            db.rollback()
            error, status = str(exc), exc.status
        else:
            student_id, name = student.id, student.full_name
            db.commit()
            flash(f"Đã liên kết tài khoản với học sinh {name}.", "success")
            return redirect(url_for("parents.child", student_id=student_id), 303)
    return render("parents/claim.html", status=status, error=error, code=code,
                  length=rules.CODE_LENGTH)


REGISTER_FIELDS = ("code", "full_name", "phone")


@bp.route("/phu-huynh/tao-tai-khoan", methods=["GET", "POST"])
@public
def register():
    """A parent without an account creates one with the code on their slip (username: their phone number)."""
    if current_user.is_authenticated:
        flash("Bạn đã đăng nhập. Để liên kết thêm con, dùng mục “Liên kết con bằng mã”.", "info")
        return redirect(url_for("home.index"))
    form = {name: request.form.get(name, "") for name in REGISTER_FIELDS}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        db = get_session()
        try:
            user = service.register_with_code(session=db, **form, password=request.form.get("password", ""),
                                              confirm=request.form.get("confirm", ""), ip=request.remote_addr or "?")
        except (service.ClaimRefused, service.ClaimThrottled) as exc:
            db.rollback()
            errors, status = {"code": str(exc)}, exc.status
        except service.RegistrationRefused as exc:
            db.rollback()
            errors, status = exc.errors, exc.status
        else:
            username = user.username
            db.commit()
            flash(f"Đã tạo tài khoản phụ huynh và liên kết với học sinh. Hãy đăng nhập: tên đăng nhập là số điện "
                  f"thoại {username}, mật khẩu là mật khẩu vừa đặt.", "success")
            return redirect(url_for("auth.login"), 303)
    return render("parents/register.html", status=status, form=form, errors=errors, length=rules.CODE_LENGTH,
                  min_length=current_app.config["PASSWORD_MIN_LENGTH"])


# --- Staff: claim codes ------------------------------------------------------------------------------------------


def _codes_page(student: Student, *, relation: str = "", error: str | None = None, status: int = 200):
    db = get_session()
    placed = service.current_class(db, student.id)
    return render("parents/codes.html", status=status, student=student, klass=placed[0] if placed else None,
                  codes=service.codes_of(db, student.id), guardians=student_guardians(db, student.id),
                  relation=relation, error=error, RELATIONS=GUARDIAN_RELATIONS,
                  lifetime=current_app.config["PARENT_CODE_LIFETIME"].days)


@bp.get("/phu-huynh/ma/<int:student_id>")
@policy(**CODE_ISSUERS)
def codes(student_id: int):
    return _codes_page(_student(student_id))


@bp.post("/phu-huynh/ma/<int:student_id>")
@policy(**CODE_ISSUERS)
def issue_code(student_id: int):
    db = get_session()
    student = _student(student_id)
    relation = request.form.get("relation", "")
    if relation not in GUARDIAN_RELATIONS:
        return _codes_page(student, relation=relation, status=422,
                           error="Chọn người nhận mã: cha, mẹ hoặc người giám hộ của học sinh.")
    issued = service.issue_code(session=db, actor=current_actor(), student_id=student.id, relation=relation)
    db.commit()
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    # Shown once, never again: the page is the answer to the POST and is not cached.
    return _no_store(render("parents/slip.html", issued=issued, claim_url=base + url_for("parents.claim"),
                            register_url=base + url_for("parents.register")))


# --- Principal: publication of term results ---------------------------------------------------------------------


def _year_arg(db) -> SchoolYear | None:
    raw = request.args.get("nam", "")
    if raw.isdigit():
        year = db.get(SchoolYear, int(raw))
        if year is None:
            raise NotFound("Không tìm thấy năm học.")
        return year
    return periods_read.current_year(db)


@bp.get("/phu-huynh/cong-bo")
@policy(**LEADERS)
def publications():
    db = get_session()
    year = _year_arg(db)
    rows = read.publication_table(db, year) if year is not None else []
    years = db.exec(select(SchoolYear).order_by(SchoolYear.start_date.desc())).all()
    return render("parents/publications.html", year=year, years=years, rows=rows)


def _toggled(class_id: int, term: str, *, error: str = "", status: int = 200):
    """Answer a toggle: the cell's fragment for htmx, else a redirect back to the page it came from."""
    db = get_session()
    klass = db.get(SchoolClass, class_id)
    if is_fragment_request():
        return render("parents/_publication.html", "parents/_publication.html", status=status,
                      c=read.publication_cell(db, klass, term, error=error), htmx=True)
    if error:
        flash(error, "error")
    if request.form.get("from") == "tong-hop":
        return redirect(url_for("review.class_summary", class_id=class_id, ky=term, _anchor="cong-bo"), 303)
    return redirect(url_for("parents.publications", nam=klass.school_year_id, _anchor=f"lop-{class_id}"), 303)


@bp.post("/phu-huynh/cong-bo/<int:class_id>/<term>")
@policy(**PRINCIPAL)
def publish(class_id: int, term: str):
    db = get_session()
    try:
        service.publish(session=db, actor=current_actor(), class_id=class_id, term=term)
    except service.PublishRefused as exc:
        db.rollback()
        return _toggled(class_id, term, error=str(exc), status=exc.status)
    db.commit()
    if not is_fragment_request():
        klass = db.get(SchoolClass, class_id)
        flash(f"Đã công bố kết quả {service.PUBLISH_TERMS[term]} lớp {klass.name} cho phụ huynh.", "success")
    return _toggled(class_id, term)


@bp.post("/phu-huynh/cong-bo/<int:class_id>/<term>/thu-hoi")
@policy(**PRINCIPAL)
def unpublish(class_id: int, term: str):
    db = get_session()
    service.unpublish(session=db, actor=current_actor(), class_id=class_id, term=term)
    db.commit()
    if not is_fragment_request():
        klass = db.get(SchoolClass, class_id)
        flash(f"Đã thu hồi công bố kết quả {service.PUBLISH_TERMS[term]} lớp {klass.name}: phụ huynh không còn "
              "xem được kết quả này.", "success")
    return _toggled(class_id, term)
