"""The administration service: validation, the all-or-nothing writes, and the rules each screen relies on."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from portal.admin import service
from portal.admin.forms import FormChecker, parse_date
from portal.admin.service import ValidationFailed
from portal.auth.service import start_session
from portal.errors import Conflict, DomainError
from portal.models import (
    Enrollment,
    Grade,
    Guardian,
    SchoolYear,
    Student,
    StudentGuardian,
    StudentPhoto,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    User,
    UserRole,
    UserSession,
)
from tests.admin.conftest import image_bytes
from tests.factories import current_class, make_student, make_user

PASSWORD = "Cay-bang-xanh-2026"


@pytest.fixture(autouse=True)
def _app_context(app_ctx):
    """Services read the app's configuration (password policy); no request is made in this module."""


def user(session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def subject(session, grade_number: int, code: str) -> Subject:
    return session.exec(select(Subject).join(Grade).where(Grade.number == grade_number, Subject.code == code)).one()


# --- Form helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("05/09/2013", date(2013, 9, 5)), ("2013-09-05", date(2013, 9, 5)), (" 1/2/2014 ", date(2014, 2, 1)),
])
def test_parse_date_accepts_both_formats(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["31/02/2013", "2013/09/05", "05-09-2013", "hôm qua", ""])
def test_parse_date_refuses_other_text(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_form_checker_collects_one_message_per_field():
    f = FormChecker({"a": "  Nguyễn   Văn  ", "n": "x", "c": "zz", "p": "0912.345-678"})
    assert f.text("a", "họ tên", required=True) == "Nguyễn Văn"
    assert f.text("missing", "tên trường", required=True) == ""
    assert f.integer("n", "số tiết") is None
    assert f.choice("c", "cấp học", {"thcs": "THCS"}) is None
    assert f.compact("p", "số điện thoại", pattern=r"\d{8,15}") == "0912345678"
    assert f.errors == {"missing": "Vui lòng nhập tên trường.", "n": "Số tiết phải là số nguyên.",
                        "c": "Cấp học không hợp lệ."}


def test_names_sort_in_vietnamese_order_by_given_name():
    names = ["Nguyễn Thị Hoa", "Vũ Đức Hải", "Phạm Văn Dũng", "Phạm Thị Thu Hà", "Lê Văn An", "Trần Ân", "Bùi Ăn",
             "Đinh Văn Đạt", "Lý Dung"]
    assert sorted(names, key=service._sort_name) == [
        "Lê Văn An", "Bùi Ăn", "Trần Ân", "Lý Dung", "Phạm Văn Dũng", "Đinh Văn Đạt", "Phạm Thị Thu Hà", "Vũ Đức Hải",
        "Nguyễn Thị Hoa"]


@pytest.mark.parametrize(("number", "kinds"), [(1, {"level"}), (5, {"level"}), (6, {"score", "comment"}),
                                               (12, {"score", "comment"})])
def test_kinds_follow_the_grade_regime(number, kinds):
    assert set(service.kinds_for_grade(number)) == kinds


# --- Years ------------------------------------------------------------------------------------------------


def test_set_current_year_leaves_exactly_one(session):
    year = service.create_year(session=session, actor_id=1, data={"name": "2041-2042"})
    assert not year.is_current
    service.set_current_year(session=session, actor_id=1, year_id=year.id)
    session.commit()
    assert [y.id for y in session.exec(select(SchoolYear).where(SchoolYear.is_current))] == [year.id]


def test_create_year_can_become_current_at_once(session):
    year = service.create_year(session=session, actor_id=1, data={"name": "2041-2042", "make_current": "1"})
    session.commit()
    assert session.exec(select(SchoolYear.id).where(SchoolYear.is_current)).all() == [year.id]


def test_duplicate_year_is_refused(session):
    name = session.exec(select(SchoolYear.name).where(SchoolYear.is_current)).one()
    with pytest.raises(ValidationFailed) as caught:
        service.create_year(session=session, actor_id=1, data={"name": name})
    assert caught.value.errors == {"name": f"Năm học {name} đã có."}


def test_proposed_year_follows_the_latest(session):
    latest = session.exec(select(SchoolYear).order_by(SchoolYear.start_date.desc())).first()
    start = int(latest.name[:4]) + 1
    proposal = service.proposed_year(session)
    assert proposal["name"] == f"{start}-{start + 1}"
    assert proposal["hk1_start"] == f"05/09/{start}"


# --- Classes, subjects, departments -------------------------------------------------------------------------


def test_delete_class_with_students_is_a_conflict(session):
    klass = current_class(session, "7A1")
    with pytest.raises(Conflict, match="30 lượt học sinh"):
        service.delete_class(session=session, actor_id=1, class_id=klass.id)


def test_class_grade_cannot_change_under_assignments(session):
    klass = current_class(session, "7A1")
    grade8 = session.exec(select(Grade).where(Grade.number == 8)).one()
    with pytest.raises(ValidationFailed) as caught:
        service.update_class(session=session, actor_id=1, class_id=klass.id,
                             data={"name": "7A1", "grade_id": str(grade8.id)})
    assert "grade_id" in caught.value.errors


def test_add_grade_refuses_an_existing_or_foreign_grade(session):
    with pytest.raises(Conflict, match="Khối 6 đã có."):
        service.add_grade(session=session, actor_id=1, number="6")
    with pytest.raises(DomainError, match="không thuộc cấp học"):
        service.add_grade(session=session, actor_id=1, number="10")


def test_periodic_tests_only_for_primary(session):
    grade = session.exec(select(Grade).where(Grade.number == 6)).one()
    with pytest.raises(ValidationFailed) as caught:
        service.create_subject(session=session, actor_id=1, grade_id=grade.id, data={
            "code": "mon_moi", "name": "Môn mới", "periods_per_year": "35", "kind": "comment",
            "has_periodic_test": "1"})
    assert set(caught.value.errors) == {"has_periodic_test"}


def test_delete_assigned_subject_is_a_conflict(session):
    with pytest.raises(Conflict, match="đang được phân công"):
        service.delete_subject(session=session, actor_id=1, subject_id=subject(session, 8, "khtn").id)


# --- Staff accounts ----------------------------------------------------------------------------------------


def test_office_account_needs_no_personal_id(session):
    created = service.create_staff(session=session, actor_id=1, data={
        "username": "vanthu2", "full_name": "Đỗ Thị Hạnh", "roles": ["office"], "password": PASSWORD})
    session.commit()
    assert session.get(TeacherProfile, created.id) is None
    assert created.must_change_password


def test_signing_staff_need_a_personal_id(session):
    with pytest.raises(ValidationFailed) as caught:
        service.create_staff(session=session, actor_id=1, data={
            "username": "phohieutruong2", "full_name": "Ngô Văn Minh", "roles": ["vice_principal"],
            "password": PASSWORD})
    assert "số định danh" in caught.value.errors["personal_id"]
    assert session.exec(select(User).where(User.username == "phohieutruong2")).first() is None


def test_editing_staff_keeps_the_parent_role(session):
    both = make_user(session, roles=("teacher", "parent"), username="gvph")
    service.update_staff(session=session, actor_id=1, user_id=both.id, data={
        "username": "gvph", "full_name": "Giáo viên kiêm phụ huynh", "roles": ["office"]})
    session.commit()
    assert set(session.exec(select(UserRole.role).where(UserRole.user_id == both.id))) == {"office", "parent"}


def test_disable_revokes_sessions_and_reset_sets_must_change(session):
    teacher = user(session, "tuanlm")
    start_session(session, user=teacher, ip="127.0.0.1", user_agent="test")
    session.flush()
    live = select(UserSession).where(UserSession.user_id == teacher.id, UserSession.revoked_at.is_(None))
    assert session.exec(live).first() is not None
    admin = user(session, "quantri")
    service.set_account_active(session=session, actor_id=admin.id, user_id=teacher.id, active=False)
    assert session.exec(live).first() is None
    with pytest.raises(DomainError):
        service.set_account_active(session=session, actor_id=admin.id, user_id=admin.id, active=False)
    service.reset_password(session=session, actor_id=admin.id, user_id=teacher.id, data={"password": PASSWORD})
    session.commit()
    assert teacher.must_change_password and teacher.password_changed_at is not None


# --- Assignments --------------------------------------------------------------------------------------------


def test_save_assignments_writes_nothing_when_one_choice_is_bad(session):
    klass = current_class(session, "8A1")
    toan, van = subject(session, 8, "toan"), subject(session, 8, "van")
    before = dict(session.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                               .where(TeachingAssignment.class_id == klass.id)).all())
    with pytest.raises(ValidationFailed) as caught:
        service.save_assignments(session=session, actor_id=1, class_id=klass.id, data={
            f"teacher_{toan.id}": str(user(session, "hoant").id), f"teacher_{van.id}": "999999"})
    session.rollback()
    assert set(caught.value.errors) == {f"teacher_{van.id}"}
    after = dict(session.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                              .where(TeachingAssignment.class_id == klass.id)).all())
    assert after == before


def test_save_assignments_counts_changes_and_keeps_unsent_subjects(session):
    klass = current_class(session, "8A1")
    toan, tinhoc = subject(session, 8, "toan"), subject(session, 8, "tinhoc")
    total = len(session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == klass.id)).all())
    changed = service.save_assignments(session=session, actor_id=1, class_id=klass.id, data={
        f"teacher_{toan.id}": str(user(session, "hoant").id), f"teacher_{tinhoc.id}": ""})
    session.commit()
    assert changed == 2
    rows = dict(session.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                             .where(TeachingAssignment.class_id == klass.id)).all())
    assert rows[toan.id] == user(session, "hoant").id and tinhoc.id not in rows
    assert len(rows) == total - 1


def test_assignments_only_for_current_year_classes(session):
    old = session.exec(select(SchoolYear).where(~SchoolYear.is_current)).first()
    klass = service.year_classes(session, old.id)[0].klass
    with pytest.raises(DomainError, match="năm học hiện tại"):
        service.save_assignments(session=session, actor_id=1, class_id=klass.id, data={})


# --- Students ------------------------------------------------------------------------------------------------


STUDENT = {"student_code": "HS0001", "personal_id": "037213000999", "full_name": "Vũ Minh Khôi",
           "date_of_birth": "2013-04-30", "sex": "1", "ethnicity": "01", "nationality": "VN"}


def test_create_student_reports_every_bad_field(session):
    with pytest.raises(ValidationFailed) as caught:
        service.create_student(session=session, actor_id=1, data=dict(
            STUDENT, personal_id="12", date_of_birth="2099-01-01", sex="5", nationality="Việt Nam",
            birthplace_province_code="3", class_id="abc"))
    assert set(caught.value.errors) == {"personal_id", "date_of_birth", "sex", "nationality",
                                        "birthplace_province_code", "class_id"}


def test_moving_back_to_a_former_class_reopens_it(session):
    a, b = current_class(session, "6A1"), current_class(session, "6A2")
    student = service.create_student(session=session, actor_id=1, data=dict(STUDENT, class_id=str(a.id)))
    data = dict(STUDENT, class_id=str(b.id))
    service.update_student(session=session, actor_id=1, student_id=student.id, data=data, today=date(2025, 10, 1))
    service.update_student(session=session, actor_id=1, student_id=student.id, data=dict(data, class_id=str(a.id)),
                           today=date(2025, 11, 1))
    session.commit()
    rows = {e.class_id: e for e in session.exec(select(Enrollment).where(Enrollment.student_id == student.id))}
    assert rows[a.id].left_on is None
    assert rows[b.id].left_on == date(2025, 11, 1) and rows[b.id].joined_on == date(2025, 10, 1)
    assert service.current_enrollment(session, student.id).class_id == a.id


def test_unplacing_a_student_closes_the_enrollment(session):
    klass = current_class(session, "6A1")
    student = service.create_student(session=session, actor_id=1, data=dict(STUDENT, class_id=str(klass.id)))
    service.update_student(session=session, actor_id=1, student_id=student.id, data=dict(STUDENT, class_id=""))
    session.commit()
    assert service.current_enrollment(session, student.id) is None
    rows, total = service.search_students(session, class_filter="none")
    assert total == 1 and rows[0][0].id == student.id


def test_save_photo_checks_content_not_name(session):
    student = make_student(session)
    with pytest.raises(ValidationFailed, match="JPEG hoặc PNG"):
        service.save_photo(session=session, actor_id=1, student_id=student.id, data=b"GIF89a" + b"\x00" * 64)
    with pytest.raises(ValidationFailed, match="2 MB"):
        service.save_photo(session=session, actor_id=1, student_id=student.id,
                           data=b"\xff\xd8\xff" + b"\x00" * service.PHOTO_MAX_BYTES)
    assert session.get(StudentPhoto, student.id) is None
    data = image_bytes("JPEG")
    service.save_photo(session=session, actor_id=1, student_id=student.id, data=data)
    session.commit()
    assert session.get(StudentPhoto, student.id).mime == "image/jpeg"
    assert session.get(Student, student.id).photo_sha256 is not None


# --- Guardians -------------------------------------------------------------------------------------------------


def test_new_parent_account_must_have_a_good_password(session):
    student = make_student(session)
    with pytest.raises(ValidationFailed) as caught:
        service.add_guardian(session=session, actor_id=1, student_id=student.id, data={
            "full_name": "Hà Văn Nam", "relation": "cha", "account": "new", "account_username": "havannam",
            "account_password": "havannam2026"})
    assert caught.value.errors == {"account_password": "Mật khẩu không được chứa tên đăng nhập."}


def test_removing_the_last_child_disables_a_parent_only_account(session):
    parent = user(session, "phuhuynh1")
    guardian = session.exec(select(Guardian).where(Guardian.user_id == parent.id)).one()
    link = session.exec(select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)).one()
    service.remove_guardian(session=session, actor_id=1, student_id=link.student_id, guardian_id=guardian.id)
    session.commit()
    assert session.get(Guardian, guardian.id) is None
    assert not session.get(User, parent.id).active


def test_removing_one_of_two_children_keeps_the_guardian(session):
    parent = user(session, "phuhuynh2")
    guardian = session.exec(select(Guardian).where(Guardian.user_id == parent.id)).one()
    links = session.exec(select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)).all()
    assert len(links) == 2
    service.remove_guardian(session=session, actor_id=1, student_id=links[0].student_id, guardian_id=guardian.id)
    session.commit()
    assert session.get(Guardian, guardian.id) is not None
    assert session.get(User, parent.id).active
