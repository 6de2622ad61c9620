"""Fixtures for transcripts: each test gets a fresh copy of the signed template (tests/session_templates.py:
the signers provisioned on a SoftHSM2 token, the previous school year's class 6A1 filled with a complete
year, built once per xdist worker) with its own copy of the token directory.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlmodel import select

from portal.models import SchoolClass, SchoolYear
from portal.pki import tokens
from tests.conftest import PG_URL, _worker, pg_create

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")
PKI_DIRS = ("softhsm", "secrets", "pki")


def retarget_token(source, instance) -> None:
    """Point a copied instance's SoftHSM2 configuration at its own token directory (named by absolute path)."""
    conf = instance / "softhsm" / "softhsm2.conf"
    if conf.exists():
        conf.write_text(conf.read_text(encoding="utf-8").replace(str(source), str(instance)), encoding="utf-8")


def copy_signed_instance(template: dict, instance, *, pg_name: str) -> str:
    """Copy the signed template's token folder, PIN secrets, CA and database into `instance` (the database
    under `pg_name` on PostgreSQL); return the copy's database URL."""
    instance.mkdir(parents=True, exist_ok=True)
    for folder in PKI_DIRS:
        shutil.copytree(template["instance"] / folder, instance / folder, symlinks=True)
    retarget_token(template["instance"], instance)
    if PG_URL:
        return pg_create(pg_name, template=template["name"])
    shutil.copyfile(template["instance"] / "portal.db", instance / "portal.db")
    return "sqlite:///" + str(instance / "portal.db")


@pytest.fixture
def database_url(signed_template, tmp_path):
    """A fresh copy of the signed template, with a copy of its token folder, PIN secrets and CA."""
    return copy_signed_instance(signed_template, tmp_path / "instance", pg_name=f"portal_tr_{_worker()}")


@pytest.fixture
def previous_class(session) -> SchoolClass:
    """The previous school year's 6A1, filled with a complete year."""
    previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
    return session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                  SchoolClass.name == "6A1")).one()


PRIMARY_STUDENTS = [  # (full name, sex): names with every Vietnamese vowel mark, for the PDF's round trip
    ("Nguyễn Ngọc Ánh", 2),
    ("Trương Thị Hồng Nhung", 2),
    ("Phạm Đức Thắng", 1),
    ("Lưu Quốc Khởi", 1),
]


def build_primary_class(session) -> SchoolClass:
    """Make a Grade 4 (TT27) class 4A1 in the previous school year: the curriculum's subjects, a homeroom
    teacher and subject teachers from the demo staff (who have a TeacherProfile), four pupils, and a complete
    year of assessments (`demo.fill_class_year`)."""
    from datetime import date

    from portal import curriculum
    from portal.models import Enrollment, Grade, Student, Subject, TeacherProfile, TeachingAssignment, User, UserRole
    from portal.transcripts import demo

    previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
    grade = session.exec(select(Grade).where(Grade.number == 4)).first()
    if grade is None:
        grade = Grade(number=4)
        session.add(grade)
        session.flush()
    subjects = []
    for position, item in enumerate(curriculum.subjects_for_grade(4)):
        subject = Subject(grade_id=grade.id, code=item.code, name=item.name, ministry_code=item.ministry_code,
                          periods_per_year=item.periods_per_year, kind=item.kind,
                          has_periodic_test=item.has_periodic_test, position=position)
        session.add(subject)
        subjects.append(subject)
    teachers = session.exec(
        select(User).join(TeacherProfile, TeacherProfile.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id).where(UserRole.role == "teacher", User.active)
        .order_by(User.id)).all()
    homeroom, specialists = teachers[0], teachers[1:5]
    klass = SchoolClass(school_year_id=previous.id, grade_id=grade.id, name="4A1", homeroom_teacher_id=homeroom.id)
    session.add(klass)
    session.flush()
    by_code = {"ngoai_ngu": specialists[0], "tin_cn": specialists[1], "gdtc": specialists[2],
               "am_nhac": specialists[3], "mi_thuat": specialists[3]}
    for subject in subjects:
        session.add(TeachingAssignment(class_id=klass.id, subject_id=subject.id,
                                       teacher_id=by_code.get(subject.code, homeroom).id))
    birth_year = previous.start_date.year - 9
    for number, (name, sex) in enumerate(PRIMARY_STUDENTS, start=1):
        personal_id = f"037{2 + (sex == 2)}{birth_year % 100:02d}9990{number:02d}"
        student = Student(student_code=f"TT27TEST{number:04d}", personal_id=personal_id, full_name=name,
                          date_of_birth=date(birth_year, number + 2, 10 + number), sex=sex,
                          birthplace="Bệnh viện Đa khoa tỉnh Ninh Bình", birthplace_province_code="37",
                          hometown="xã Gia Viễn, tỉnh Ninh Bình", residence="Phố Lê Lợi, phường Hoa Lư, tỉnh Ninh Bình",
                          registration_number=f"{number:03d}/2022", father_name="Nguyễn Văn Bình",
                          mother_name="Lê Thị Hương")
        session.add(student)
        session.flush()
        session.add(Enrollment(student_id=student.id, class_id=klass.id, number=number))
    session.flush()
    demo.fill_class_year(session, klass)
    session.commit()
    return klass


@pytest.fixture
def primary_class(session) -> SchoolClass:
    """A Grade 4 class (TT27) of the previous school year with four pupils and a complete year."""
    return build_primary_class(session)
