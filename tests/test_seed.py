"""The demo school: complete, deterministic, and only written into an empty database."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func
from sqlmodel import select

from portal import curriculum, seed
from portal.authz import Actor
from portal.models import (
    Department,
    Enrollment,
    Grade,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    User,
)
from tests.conftest import ROLE_USERS


def _count(session, model, *where):
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_demo_school_shape(session):
    school = session.exec(select(School)).one()
    assert school.level == "thcs"
    assert [g.number for g in session.exec(select(Grade).order_by(Grade.number))] == [6, 7, 8, 9]
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    classes = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id)).all()
    assert sorted(c.name for c in classes) == ["6A1", "6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]
    for klass in classes:
        assert klass.homeroom_teacher_id is not None
        assert _count(session, Enrollment, Enrollment.class_id == klass.id, Enrollment.left_on.is_(None)) == 30
        subjects = _count(session, Subject, Subject.grade_id == klass.grade_id)
        assigned = _count(session, TeachingAssignment, TeachingAssignment.class_id == klass.id)
        assert assigned == subjects == 13  # the full TT22 list, every subject has a teacher
    heads = session.exec(select(Department.head_id)).all()
    assert len(heads) == 4 and all(heads)


def test_tt22_subject_kinds(session):
    grade = session.exec(select(Grade).where(Grade.number == 8)).one()
    kinds = {s.code: s.kind for s in session.exec(select(Subject).where(Subject.grade_id == grade.id))}
    assert {code for code, kind in kinds.items() if kind == "comment"} == {"gdtc", "amnhac", "mithuat", "hdtn", "gddp"}
    assert kinds["toan"] == kinds["van"] == "score"


def test_every_role_has_a_demo_account(app, session):
    for role, username in ROLE_USERS.items():
        user = session.exec(select(User).where(User.username == username)).one()
        with app.app_context():
            assert role in Actor(session, user).roles, role


def test_people_data_is_valid(session):
    students = session.exec(select(Student)).all()
    assert len(students) == 240
    assert len({s.personal_id for s in students}) == 240
    assert all(len(s.personal_id) == 12 and s.personal_id.isdigit() for s in students)
    assert any("ễ" in s.full_name or "ư" in s.full_name or "Đ" in s.full_name for s in students)
    for profile in session.exec(select(TeacherProfile)).all():
        assert len(profile.personal_id) == 12 and profile.personal_id.isdigit()
    sexes = Counter(s.sex for s in students)
    assert sexes[1] > 60 and sexes[2] > 60


def test_older_students_have_a_learning_history(session):
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    nine = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                  SchoolClass.name == "9A1")).one()
    student_id = session.exec(select(Enrollment.student_id).where(Enrollment.class_id == nine.id)).first()
    names = session.exec(select(SchoolClass.name).join(Enrollment).where(Enrollment.student_id == student_id)).all()
    assert sorted(names) == ["8A1", "9A1"]


def test_seed_is_deterministic_and_only_for_an_empty_database(app, session):
    assert seed.seed_demo_if_empty(app) is False  # the template is already seeded
    first = [s.full_name for s in session.exec(select(Student).order_by(Student.student_code))]
    # The same generator with the same seed gives the same names.
    from sqlmodel import Session, SQLModel, create_engine

    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    with app.app_context(), Session(engine) as other:
        seed.seed_demo(other, date.today())
        other.commit()
        again = [s.full_name for s in other.exec(select(Student).order_by(Student.student_code))]
    assert again == first


def test_school_year_follows_the_calendar():
    assert seed.school_year_bounds(date(2026, 11, 23)) == (2026, 2027)
    assert seed.school_year_bounds(date(2027, 3, 1)) == (2026, 2027)
    assert seed.school_year_bounds(date(2027, 8, 15)) == (2027, 2028)


def test_curriculum_covers_every_grade():
    for grade in range(1, 13):
        subjects = curriculum.subjects_for_grade(grade)
        assert subjects and len({s.code for s in subjects}) == len(subjects)
        kinds = {s.kind for s in subjects}
        assert kinds == ({"level"} if grade <= 5 else {"score", "comment"})
    tested = {s.code for s in curriculum.subjects_for_grade(4) if s.has_periodic_test}
    assert tested == {"tieng_viet", "toan", "ngoai_ngu", "lsdl", "khoa_hoc", "tin_cn"}
