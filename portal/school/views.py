from flask import abort, request

from portal.authz import ANY, allowed, current_actor, homeroom_student, own_child, own_class, policy, teaches_class
from portal.db import get_session
from portal.errors import NotFound
from portal.home.service import class_sizes, current_year, profile_gaps
from portal.models import Grade, SchoolClass, Student, StudentPhoto, User
from portal.school import bp, service
from portal.web import render

LEADERSHIP = {"principal": ANY, "vice_principal": ANY}


@bp.get("/lop")
@policy(**LEADERSHIP, office=ANY)
def classes():
    db = get_session()
    year = current_year(db)
    rows = service.year_classes(db, year)
    sizes = class_sizes(db, [c.id for c, _, _ in rows])
    return render("school/classes.html", year=year, rows=rows, sizes=sizes)


@bp.get("/lop/<int:class_id>")
@policy(**LEADERSHIP, office=ANY, homeroom=own_class(), teacher=teaches_class())
def class_detail(class_id: int):
    db = get_session()
    klass = db.get(SchoolClass, class_id)
    if klass is None:
        raise NotFound("Không tìm thấy lớp học.")
    grade = db.get(Grade, klass.grade_id)
    homeroom = db.get(User, klass.homeroom_teacher_id) if klass.homeroom_teacher_id else None
    students = service.class_students(db, class_id)
    return render("school/class_detail.html", klass=klass, grade=grade, homeroom=homeroom, students=students,
                  gaps={s.id: profile_gaps(s) for _, s in students})


@bp.get("/hoc-sinh")
@policy(**LEADERSHIP, office=ANY)
def students():
    db = get_session()
    query = request.args.get("q", "").strip()
    rows = service.search_students(db, query=query, limit=100)
    return render("school/students.html", fragment="school/_student_results.html", rows=rows, query=query)


STUDENT_READERS = dict(LEADERSHIP, office=ANY, homeroom=homeroom_student(), parent=own_child())


@bp.get("/hoc-sinh/<int:student_id>")
@policy(**STUDENT_READERS)
def student_detail(student_id: int):
    db = get_session()
    student = db.get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    from portal.parents.views import CODE_ISSUERS

    transferred = service.transferred_documents(db, student_id)
    return render("school/student_detail.html", student=student,
                  history=service.learning_history(db, student_id, transferred),
                  guardians=service.student_guardians(db, student_id), gaps=profile_gaps(student),
                  issues_codes=allowed(current_actor(), CODE_ISSUERS, {"student_id": student_id}),
                  transferred=transferred)


@bp.get("/hoc-sinh/<int:student_id>/anh")
@policy(**STUDENT_READERS)
def student_photo(student_id: int):
    photo = get_session().get(StudentPhoto, student_id)
    if photo is None:
        abort(404)
    # Personal data: never kept by shared caches.
    return photo.data, 200, {"Content-Type": photo.mime, "Cache-Control": "private, no-store"}
