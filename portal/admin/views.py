"""Administration screens: parse the request, call the service, choose the page. Admin role only."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from portal.admin import bp, service
from portal.admin.forms import initial
from portal.admin.service import ValidationFailed
from portal.authz import ANY, policy
from portal.catalog import ETHNICITIES
from portal.db import get_session
from portal.errors import Conflict, DomainError, NotFound
from portal.models import (
    GUARDIAN_RELATIONS,
    LEVELS,
    SEXES,
    Department,
    Grade,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentPhoto,
    Subject,
    User,
)
from portal.web import render

ADMIN = {"admin": ANY}
SCHOOL_FIELDS = ("name", "ministry_code", "level", "department_code", "department_name", "address", "ward_name",
                 "ward_code", "district_name", "province_name", "province_code", "release_place", "phone", "email")
SUBJECT_FIELDS = ("code", "name", "ministry_code", "periods_per_year", "kind", "has_periodic_test", "department_id",
                  "position")
STUDENT_FIELDS = ("student_code", "personal_id", "full_name", "date_of_birth", "sex", "ethnicity", "nationality",
                  "birthplace", "birthplace_province_code", "hometown", "residence", "policy_group",
                  "disability_not_assessed", "registration_number", "father_name", "father_occupation",
                  "mother_name", "mother_occupation", "guardian_name", "guardian_occupation")
GUARDIAN_FIELDS = ("full_name", "relation", "phone", "occupation")


def _run(action, **kwargs):
    """Run a service write as the current user and commit it; any refusal rolls everything back."""
    db = get_session()
    try:
        result = action(session=db, actor_id=current_user.id, **kwargs)
        db.commit()
    except IntegrityError as exc:  # a concurrent write won a uniqueness race (PostgreSQL)
        db.rollback()
        raise Conflict() from exc
    except Exception:
        db.rollback()
        raise
    return result


def _submit(action, **kwargs):
    """Run a form's write; return (result, None), or (None, field errors) with nothing saved."""
    try:
        return _run(action, **kwargs), None
    except ValidationFailed as exc:
        return None, exc.errors


def _attempt(action, **kwargs):
    """Run a button's write whose refusal is shown as a message on the next page; return the result or None."""
    try:
        return _run(action, **kwargs)
    except (NotFound, ValidationFailed):
        raise
    except DomainError as exc:
        flash(str(exc) or "Dữ liệu vừa bị người khác thay đổi. Vui lòng tải lại trang.", "error")
        return None


def _page_arg() -> int:
    value = request.args.get("trang", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


# --- Index and school ----------------------------------------------------------------------------------


@bp.get("/")
@policy(**ADMIN)
def index():
    return render("admin/index.html")


@bp.route("/truong", methods=["GET", "POST"])
@policy(**ADMIN)
def school():
    if request.method == "POST":
        _, errors = _submit(service.save_school, data=request.form)
        if errors is None:
            flash("Đã lưu thông tin nhà trường.", "success")
            return redirect(url_for("admin.school"))
        return render("admin/school.html", form=request.form, errors=errors, levels=LEVELS, status=400)
    row = service.get_school(get_session())
    form = initial(row or School(level="thcs"), SCHOOL_FIELDS)
    return render("admin/school.html", form=form, errors={}, levels=LEVELS, is_new=row is None)


# --- School years --------------------------------------------------------------------------------------


@bp.route("/nam-hoc", methods=["GET", "POST"])
@policy(**ADMIN)
def years():
    db = get_session()
    form, errors, status = service.proposed_year(db), {}, 200
    if request.method == "POST":
        year, errors = _submit(service.create_year, data=request.form)
        if errors is None:
            flash(f"Đã tạo năm học {year.name}.", "success")
            return redirect(url_for("admin.years"))
        form, status = request.form, 400
    return render("admin/years.html", rows=service.list_years(db), form=form, errors=errors, status=status)


@bp.route("/nam-hoc/<int:year_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def year_edit(year_id: int):
    db = get_session()
    year = db.get(SchoolYear, year_id)
    if year is None:
        raise NotFound("Không tìm thấy năm học.")
    if request.method == "POST":
        _, errors = _submit(service.update_year, year_id=year_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu ngày học kì của năm học {year.name}.", "success")
            return redirect(url_for("admin.years"))
        return render("admin/year_edit.html", year=year, form=request.form, errors=errors, status=400)
    return render("admin/year_edit.html", year=year, form=service.year_term_dates(db, year_id), errors={})


@bp.post("/nam-hoc/<int:year_id>/hien-tai")
@policy(**ADMIN)
def year_set_current(year_id: int):
    year = _attempt(service.set_current_year, year_id=year_id)
    if year is not None:
        flash(f"Năm học hiện tại là {year.name}.", "success")
    return redirect(url_for("admin.years"))


# --- Classes -------------------------------------------------------------------------------------------


def _selected_year(db) -> SchoolYear | None:
    year_id = request.args.get("nam", "")
    if year_id.isdigit():
        year = db.get(SchoolYear, int(year_id))
        if year is None:
            raise NotFound("Không tìm thấy năm học.")
        return year
    return service.current_year(db) or next(iter(service.all_years(db)), None)


def _class_form_context(db, year_id: int, klass=None) -> dict:
    return {
        "grades": service.grade_choices(db),
        "teachers": service.teacher_choices(db, include={klass.homeroom_teacher_id} if klass else None),
        "year": db.get(SchoolYear, year_id),
        "klass": klass,
    }


@bp.get("/lop")
@policy(**ADMIN)
def classes():
    db = get_session()
    year = _selected_year(db)
    rows = service.year_classes(db, year.id) if year else []
    return render("admin/classes.html", year=year, years=service.all_years(db), rows=rows)


@bp.route("/lop/moi", methods=["GET", "POST"])
@policy(**ADMIN)
def class_create():
    db = get_session()
    year = _selected_year(db)
    if year is None:
        flash("Hãy tạo năm học trước khi thêm lớp.", "error")
        return redirect(url_for("admin.years"))
    if request.method == "POST":
        klass, errors = _submit(service.create_class, year_id=year.id, data=request.form)
        if errors is None:
            flash(f"Đã thêm lớp {klass.name}.", "success")
            return redirect(url_for("admin.classes", nam=year.id))
        return render("admin/class_form.html", form=request.form, errors=errors, status=400,
                      **_class_form_context(db, year.id))
    return render("admin/class_form.html", form={}, errors={}, **_class_form_context(db, year.id))


@bp.route("/lop/<int:class_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def class_edit(class_id: int):
    db = get_session()
    klass = db.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    context = _class_form_context(db, klass.school_year_id, klass)
    if request.method == "POST":
        saved, errors = _submit(service.update_class, class_id=class_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu lớp {saved.name}.", "success")
            return redirect(url_for("admin.classes", nam=saved.school_year_id))
        return render("admin/class_form.html", form=request.form, errors=errors, status=400, **context)
    form = initial(klass, ("name", "grade_id", "homeroom_teacher_id"))
    return render("admin/class_form.html", form=form, errors={}, **context)


@bp.post("/lop/<int:class_id>/xoa")
@policy(**ADMIN)
def class_delete(class_id: int):
    db = get_session()
    klass = db.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    year_id = klass.school_year_id
    name = _attempt(service.delete_class, class_id=class_id)
    if name:
        flash(f"Đã xoá lớp {name}.", "success")
    return redirect(url_for("admin.classes", nam=year_id))


# --- Grades and subjects -------------------------------------------------------------------------------


@bp.get("/mon-hoc")
@policy(**ADMIN)
def subjects():
    db = get_session()
    return render("admin/subjects.html", rows=service.grades_overview(db), school=service.get_school(db))


@bp.post("/mon-hoc/khoi")
@policy(**ADMIN)
def grade_add():
    grade = _attempt(service.add_grade, number=request.form.get("number"))
    if grade is None:
        return redirect(url_for("admin.subjects"))
    flash(f"Đã thêm khối {grade.number} với các môn theo Chương trình GDPT 2018. Hãy kiểm tra lại.", "success")
    return redirect(url_for("admin.grade_subjects", grade_id=grade.id))


def _subject_form_context(db, grade: Grade) -> dict:
    return {"grade": grade, "kinds": service.kinds_for_grade(grade.number),
            "departments": service.department_choices(db),
            "kind_labels": {"score": "điểm số + nhận xét", "comment": "nhận xét", "level": "mức đạt được"}}


@bp.route("/mon-hoc/khoi/<int:grade_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def grade_subjects(grade_id: int):
    db = get_session()
    grade = db.get(Grade, grade_id)
    if grade is None:
        raise NotFound("Không tìm thấy khối.")
    form, errors, status = {"kind": next(iter(service.kinds_for_grade(grade.number)))}, {}, 200
    if request.method == "POST":
        subject, errors = _submit(service.create_subject, grade_id=grade_id, data=request.form)
        if errors is None:
            flash(f"Đã thêm môn {subject.name} cho khối {grade.number}.", "success")
            return redirect(url_for("admin.grade_subjects", grade_id=grade_id))
        form, status = request.form, 400
    return render("admin/grade.html", rows=service.grade_subjects(db, grade_id), form=form, errors=errors,
                  status=status, **_subject_form_context(db, grade))


@bp.route("/mon-hoc/<int:subject_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def subject_edit(subject_id: int):
    db = get_session()
    subject = db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Không tìm thấy môn học.")
    context = _subject_form_context(db, db.get(Grade, subject.grade_id))
    if request.method == "POST":
        _, errors = _submit(service.update_subject, subject_id=subject_id, data=request.form)
        if errors is None:
            flash("Đã lưu môn học.", "success")
            return redirect(url_for("admin.grade_subjects", grade_id=subject.grade_id))
        return render("admin/subject_form.html", subject=subject, form=request.form, errors=errors, status=400,
                      **context)
    return render("admin/subject_form.html", subject=subject, form=initial(subject, SUBJECT_FIELDS), errors={},
                  **context)


@bp.post("/mon-hoc/<int:subject_id>/xoa")
@policy(**ADMIN)
def subject_delete(subject_id: int):
    db = get_session()
    subject = db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Không tìm thấy môn học.")
    grade_id = subject.grade_id
    deleted = _attempt(service.delete_subject, subject_id=subject_id)
    if deleted is not None:
        flash(f"Đã xoá môn {deleted.name}.", "success")
    return redirect(url_for("admin.grade_subjects", grade_id=grade_id))


# --- Departments ---------------------------------------------------------------------------------------


@bp.route("/to-chuyen-mon", methods=["GET", "POST"])
@policy(**ADMIN)
def departments():
    db = get_session()
    form, errors, status = {}, {}, 200
    if request.method == "POST":
        dept, errors = _submit(service.create_department, data=request.form)
        if errors is None:
            flash(f"Đã thêm {dept.name}.", "success")
            return redirect(url_for("admin.departments"))
        form, status = request.form, 400
    return render("admin/departments.html", rows=service.list_departments(db), form=form, errors=errors,
                  teachers=service.teacher_choices(db), status=status)


@bp.route("/to-chuyen-mon/<int:department_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def department_edit(department_id: int):
    db = get_session()
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("Không tìm thấy tổ chuyên môn.")
    teachers = service.teacher_choices(db, include={dept.head_id})
    if request.method == "POST":
        saved, errors = _submit(service.update_department, department_id=department_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu {saved.name}.", "success")
            return redirect(url_for("admin.departments"))
        return render("admin/department_form.html", dept=dept, form=request.form, errors=errors, teachers=teachers,
                      status=400)
    return render("admin/department_form.html", dept=dept, form=initial(dept, ("name", "head_id")), errors={},
                  teachers=teachers)


@bp.post("/to-chuyen-mon/<int:department_id>/xoa")
@policy(**ADMIN)
def department_delete(department_id: int):
    name = _attempt(service.delete_department, department_id=department_id)
    if name:
        flash(f"Đã xoá {name}.", "success")
    return redirect(url_for("admin.departments"))


# --- Staff accounts -----------------------------------------------------------------------------------


def _teacher_form_context(db) -> dict:
    return {"roles": service.STAFF_ROLES, "signing_roles": service.SIGNING_ROLES,
            "departments": service.department_choices(db), "sexes": SEXES}


@bp.get("/giao-vien")
@policy(**ADMIN)
def teachers():
    query = request.args.get("q", "").strip()
    return render("admin/teachers.html", rows=service.list_staff(get_session(), query=query), query=query)


@bp.route("/giao-vien/moi", methods=["GET", "POST"])
@policy(**ADMIN)
def teacher_create():
    db = get_session()
    if request.method == "POST":
        user, errors = _submit(service.create_staff, data=request.form)
        if errors is None:
            flash(f"Đã tạo tài khoản {user.username}. Người dùng phải đổi mật khẩu tạm ở lần đăng nhập đầu tiên.",
                  "success")
            return redirect(url_for("admin.teachers"))
        form = request.form.copy()
        form.pop("password", None)  # never echo a password back
        return render("admin/teacher_form.html", user=None, form=form, errors=errors, status=400,
                      **_teacher_form_context(db))
    form = initial(None, (), roles=["teacher"], sex="0", title="Giáo viên")
    return render("admin/teacher_form.html", user=None, form=form, errors={}, **_teacher_form_context(db))


def _teacher_edit_page(db, user_id: int, *, form=None, errors=None, reset_errors=None, status=200):
    user, roles, profile = service.staff_member(db, user_id)
    if form is None:
        form = initial(profile, ("personal_id", "date_of_birth", "sex", "title", "department_id"),
                       username=user.username, full_name=user.full_name, email=user.email, phone=user.phone,
                       roles=roles)
        if profile is None:
            form["sex"], form["title"] = "0", "Giáo viên"
    return render("admin/teacher_form.html", user=user, form=form, errors=errors or {},
                  reset_errors=reset_errors or {}, is_self=user.id == current_user.id, status=status,
                  **_teacher_form_context(db))


@bp.route("/giao-vien/<int:user_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def teacher_edit(user_id: int):
    db = get_session()
    if request.method == "POST":
        user, errors = _submit(service.update_staff, user_id=user_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu tài khoản {user.username}.", "success")
            return redirect(url_for("admin.teacher_edit", user_id=user_id))
        return _teacher_edit_page(db, user_id, form=request.form, errors=errors, status=400)
    return _teacher_edit_page(db, user_id)


@bp.post("/giao-vien/<int:user_id>/khoa")
@policy(**ADMIN)
def teacher_disable(user_id: int):
    user = _attempt(service.set_account_active, user_id=user_id, active=False)
    if user is not None:
        flash(f"Đã khoá tài khoản {user.username}; mọi phiên đăng nhập của tài khoản đã kết thúc.", "success")
    return redirect(url_for("admin.teacher_edit", user_id=user_id))


@bp.post("/giao-vien/<int:user_id>/mo-khoa")
@policy(**ADMIN)
def teacher_enable(user_id: int):
    user = _attempt(service.set_account_active, user_id=user_id, active=True)
    if user is not None:
        flash(f"Đã mở khoá tài khoản {user.username}.", "success")
    return redirect(url_for("admin.teacher_edit", user_id=user_id))


@bp.post("/giao-vien/<int:user_id>/mat-khau")
@policy(**ADMIN)
def teacher_reset_password(user_id: int):
    db = get_session()
    user, errors = _submit(service.reset_password, user_id=user_id, data=request.form)
    if errors is None:
        flash(f"Đã đặt mật khẩu tạm cho {user.username}. Người dùng phải đổi mật khẩu ở lần đăng nhập tới.",
              "success")
        return redirect(url_for("admin.teacher_edit", user_id=user_id))
    return _teacher_edit_page(db, user_id, reset_errors=errors, status=400)


# --- Teaching assignments ------------------------------------------------------------------------------


@bp.get("/phan-cong")
@policy(**ADMIN)
def assignments():
    db = get_session()
    year = service.current_year(db)
    return render("admin/assignments.html", year=year, rows=service.assignment_overview(db, year))


@bp.route("/phan-cong/<int:class_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def class_assignments(class_id: int):
    db = get_session()
    klass = service.current_year_class(db, class_id)
    errors, status = {}, 200
    if request.method == "POST":
        changed, errors = _submit(service.save_assignments, class_id=class_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu phân công lớp {klass.name} ({changed} môn thay đổi).", "success")
            return redirect(url_for("admin.class_assignments", class_id=class_id))
        status = 400
    sheet = service.assignment_sheet(db, klass)
    chosen = {s.id: (request.form.get(f"teacher_{s.id}", "") if errors else str(t or "")) for s, t in sheet}
    teachers = service.teacher_choices(db, include={t for _, t in sheet if t})
    return render("admin/assignment_class.html", klass=klass, grade=db.get(Grade, klass.grade_id), sheet=sheet,
                  chosen=chosen, teachers=teachers, errors=errors, status=status)


# --- Students and guardians ----------------------------------------------------------------------------


@bp.get("/hoc-sinh")
@policy(**ADMIN)
def students():
    db = get_session()
    query, class_filter, page = request.args.get("q", "").strip(), request.args.get("lop", ""), _page_arg()
    rows, total = service.search_students(db, query=query, class_filter=class_filter, page=page)
    pages = max(1, -(-total // service.STUDENTS_PER_PAGE))
    return render("admin/students.html", fragment="admin/_student_results.html", rows=rows, total=total,
                  page_number=page, pages=pages, query=query, class_filter=class_filter,
                  classes=service.current_class_choices(db))


def _student_form_context(db, student=None) -> dict:
    return {"student": student, "classes": service.current_class_choices(db), "ethnicities": ETHNICITIES,
            "sexes": SEXES, "year": service.current_year(db)}


@bp.route("/hoc-sinh/moi", methods=["GET", "POST"])
@policy(**ADMIN)
def student_create():
    db = get_session()
    if request.method == "POST":
        student, errors = _submit(service.create_student, data=request.form)
        if errors is None:
            flash(f"Đã thêm học sinh {student.full_name}. Bạn có thể tải ảnh và thêm phụ huynh bên dưới.", "success")
            return redirect(url_for("admin.student_edit", student_id=student.id))
        return render("admin/student_form.html", form=request.form, errors=errors, status=400,
                      **_student_form_context(db))
    form = initial(None, (), sex="", ethnicity="01", nationality="VN", class_id=request.args.get("lop", ""))
    return render("admin/student_form.html", form=form, errors={}, **_student_form_context(db))


def _student_edit_page(db, student_id: int, *, form=None, errors=None, photo_error=None, status=200):
    student = db.get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    if form is None:
        enrollment = service.current_enrollment(db, student_id)
        form = initial(student, STUDENT_FIELDS, class_id=enrollment.class_id if enrollment else "")
    return render("admin/student_form.html", form=form, errors=errors or {}, photo_error=photo_error,
                  guardians=service.student_guardians(db, student_id),
                  history=service.student_history(db, student_id), relations=GUARDIAN_RELATIONS, status=status,
                  **_student_form_context(db, student))


@bp.route("/hoc-sinh/<int:student_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def student_edit(student_id: int):
    db = get_session()
    if request.method == "POST":
        student, errors = _submit(service.update_student, student_id=student_id, data=request.form)
        if errors is None:
            flash(f"Đã lưu hồ sơ học sinh {student.full_name}.", "success")
            return redirect(url_for("admin.student_edit", student_id=student_id))
        return _student_edit_page(db, student_id, form=request.form, errors=errors, status=400)
    return _student_edit_page(db, student_id)


@bp.get("/hoc-sinh/<int:student_id>/anh")
@policy(**ADMIN)
def student_photo(student_id: int):
    photo = get_session().get(StudentPhoto, student_id)
    if photo is None:
        abort(404)
    # Personal data: never kept by shared caches.
    return photo.data, 200, {"Content-Type": photo.mime, "Cache-Control": "private, no-store",
                             "X-Content-Type-Options": "nosniff"}


@bp.post("/hoc-sinh/<int:student_id>/anh")
@policy(**ADMIN)
def student_photo_upload(student_id: int):
    db = get_session()
    upload = request.files.get("photo")
    # Read one byte past the limit: enough to refuse a large file without holding all of it.
    data = upload.stream.read(service.PHOTO_MAX_BYTES + 1) if upload else b""
    _, errors = _submit(service.save_photo, student_id=student_id, data=data)
    if errors is None:
        flash("Đã cập nhật ảnh 3×4.", "success")
        return redirect(url_for("admin.student_edit", student_id=student_id) + "#anh")
    return _student_edit_page(db, student_id, photo_error=errors["photo"], status=400)


def _guardian_context(db, student_id: int, guardian=None) -> dict:
    student = db.get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    account = db.get(User, guardian.user_id) if guardian and guardian.user_id else None
    return {"student": student, "guardian": guardian, "account_user": account, "relations": GUARDIAN_RELATIONS}


def _without_passwords(form):
    form = form.copy()
    form.pop("account_password", None)
    return form


@bp.route("/hoc-sinh/<int:student_id>/phu-huynh/moi", methods=["GET", "POST"])
@policy(**ADMIN)
def guardian_create(student_id: int):
    db = get_session()
    context = _guardian_context(db, student_id)
    if request.method == "POST":
        guardian, errors = _submit(service.add_guardian, student_id=student_id, data=request.form)
        if errors is None:
            flash(f"Đã thêm {guardian.full_name} vào danh sách phụ huynh của học sinh.", "success")
            return redirect(url_for("admin.student_edit", student_id=student_id) + "#phu-huynh")
        return render("admin/guardian_form.html", form=_without_passwords(request.form), errors=errors, status=400,
                      **context)
    form = initial(None, (), relation=request.args.get("quan-he", "me"), account="none")
    return render("admin/guardian_form.html", form=form, errors={}, **context)


@bp.route("/hoc-sinh/<int:student_id>/phu-huynh/<int:guardian_id>", methods=["GET", "POST"])
@policy(**ADMIN)
def guardian_edit(student_id: int, guardian_id: int):
    db = get_session()
    guardian = service.guardian_of(db, student_id, guardian_id)
    context = _guardian_context(db, student_id, guardian)
    if request.method == "POST":
        saved, errors = _submit(service.update_guardian, student_id=student_id, guardian_id=guardian_id,
                                data=request.form)
        if errors is None:
            flash(f"Đã lưu thông tin {saved.full_name}.", "success")
            return redirect(url_for("admin.student_edit", student_id=student_id) + "#phu-huynh")
        return render("admin/guardian_form.html", form=_without_passwords(request.form), errors=errors, status=400,
                      **context)
    form = initial(guardian, GUARDIAN_FIELDS, account="keep" if guardian.user_id else "none")
    return render("admin/guardian_form.html", form=form, errors={}, **context)


@bp.post("/hoc-sinh/<int:student_id>/phu-huynh/<int:guardian_id>/go")
@policy(**ADMIN)
def guardian_remove(student_id: int, guardian_id: int):
    guardian = _attempt(service.remove_guardian, student_id=student_id, guardian_id=guardian_id)
    if guardian is not None:
        flash(f"Đã bỏ {guardian.full_name} khỏi danh sách phụ huynh của học sinh.", "success")
    return redirect(url_for("admin.student_edit", student_id=student_id) + "#phu-huynh")


# --- Signing keys ----------------------------------------------------------------------------------------


def _signer_options(db) -> list[tuple[str, str]]:
    from sqlmodel import select

    from portal.models import TeacherProfile

    people = db.exec(select(User, TeacherProfile).join(TeacherProfile, TeacherProfile.user_id == User.id)
                     .where(User.active).order_by(User.full_name)).all()
    return [("school", "Con dấu số của nhà trường")] + [(str(u.id), f"{u.full_name} ({p.title})") for u, p in people]


@bp.get("/khoa-ky")
@policy(**ADMIN)
def signers():
    from sqlmodel import select

    from portal.models import SignerKey

    db = get_session()
    rows = db.exec(select(SignerKey, User).outerjoin(User, User.id == SignerKey.user_id)
                   .order_by(SignerKey.active.desc(), SignerKey.kind.desc(), User.full_name, SignerKey.id)).all()
    return render("admin/signers.html", rows=rows)


@bp.route("/khoa-ky/moi", methods=["GET", "POST"])
@policy(**ADMIN)
def signer_import():
    from portal.pki import service as pki
    from portal.pki import tokens

    db = get_session()
    options = _signer_options(db)
    if request.method == "GET":
        form = {"module": tokens.SOFTHSM_MODULE, "token_label": tokens.DEFAULT_TOKEN,
                "signer": request.args.get("signer", "")}
        return render("admin/signer_form.html", form=form, problems=[], options=options)
    form = request.form
    certificate = request.files.get("certificate")
    root = request.files.get("trust_root")
    problems = []
    signer = form.get("signer", "")
    if signer != "school" and not signer.isdigit():
        problems.append("Chọn người ký.")
    cert_data = certificate.read() if certificate and certificate.filename else b""
    if not cert_data:
        problems.append("Chọn tệp chứng thư số của người ký.")
    if not problems:
        try:
            row = pki.import_signer(db, current_app.instance_path, actor_id=current_user.id,
                                    user_id=None if signer == "school" else int(signer), module=form.get("module", ""),
                                    token_label=form.get("token_label", ""), key_label=form.get("key_label", ""),
                                    certificate=cert_data, pin=form.get("pin", ""),
                                    trust_root=root.read() if root and root.filename else None)
            db.commit()
            flash(f"Đã gán khóa ký mới: {row.subject}.", "success")
            return redirect(url_for("admin.signers"))
        except pki.ImportRefused as exc:
            db.rollback()
            problems = exc.problems
    safe = {k: v for k, v in form.items() if k != "pin"}
    return render("admin/signer_form.html", form=safe, problems=problems, options=options, status=400)
