"""Administration screens through HTTP: pages render, valid posts save and redirect, bad posts change nothing."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlmodel import select

from portal.models import (
    Department,
    Enrollment,
    Grade,
    Guardian,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentGuardian,
    StudentPhoto,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    Term,
    User,
    UserRole,
)
from tests.admin.conftest import image_bytes
from tests.conftest import DEMO_PASSWORD, ROLE_USERS
from tests.factories import current_class, make_student

VALID_PASSWORD = "Cay-bang-xanh-2026"


def html(response) -> str:
    return response.get_data(as_text=True)


def user_named(db, username: str) -> User | None:
    with db() as s:
        return s.exec(select(User).where(User.username == username)).first()


def current_year(db) -> SchoolYear:
    with db() as s:
        return s.exec(select(SchoolYear).where(SchoolYear.is_current)).one()


def class_named(db, name: str) -> SchoolClass:
    with db() as s:
        return current_class(s, name)


def subject_of(db, grade_number: int, code: str) -> Subject:
    with db() as s:
        return s.exec(select(Subject).join(Grade, Grade.id == Subject.grade_id)
                      .where(Grade.number == grade_number, Subject.code == code)).one()


# --- Every page renders for the admin, and only for the admin -----------------------------------------


LIST_PAGES = [
    ("/quan-tri/", "Quản trị hệ thống"),
    ("/quan-tri/truong", "Thông tin nhà trường"),
    ("/quan-tri/nam-hoc", "Năm học và học kì"),
    ("/quan-tri/lop", "Lớp học năm"),
    ("/quan-tri/mon-hoc", "Khối và môn học"),
    ("/quan-tri/to-chuyen-mon", "Tổ chuyên môn"),
    ("/quan-tri/giao-vien", "Tài khoản giáo viên và cán bộ"),
    ("/quan-tri/phan-cong", "Phân công giảng dạy"),
    ("/quan-tri/hoc-sinh", "Học sinh và phụ huynh"),
    ("/quan-tri/giao-vien/moi", "Tạo tài khoản giáo viên, cán bộ"),
    ("/quan-tri/hoc-sinh/moi", "Thêm học sinh"),
    ("/quan-tri/lop/moi", "Thêm lớp"),
]


@pytest.mark.parametrize(("url", "heading"), LIST_PAGES)
def test_admin_pages_render_in_vietnamese(admin, url, heading):
    response = admin.get(url)
    assert response.status_code == 200
    page = html(response)
    assert f"<h1>{heading}" in page
    assert 'class="subnav"' in page


def test_detail_pages_render(admin, db):
    klass = class_named(db, "6A1")
    with db() as s:
        year = s.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
        grade = s.get(Grade, klass.grade_id)
        dept = s.exec(select(Department)).first()
        teacher = s.exec(select(User).where(User.username == "hoant")).one()
        student, guardian = s.exec(
            select(Student, Guardian).join(StudentGuardian, StudentGuardian.student_id == Student.id)
            .join(Guardian, Guardian.id == StudentGuardian.guardian_id)).first()
    toan = subject_of(db, 6, "toan")
    pages = {
        f"/quan-tri/nam-hoc/{year.id}": f"Năm học {year.name}",
        f"/quan-tri/lop/{klass.id}": "Sửa lớp 6A1",
        f"/quan-tri/mon-hoc/khoi/{grade.id}": "Môn học khối 6",
        f"/quan-tri/mon-hoc/{toan.id}": "Toán",
        f"/quan-tri/to-chuyen-mon/{dept.id}": dept.name,
        f"/quan-tri/giao-vien/{teacher.id}": "Nguyễn Thị Hoa",
        f"/quan-tri/phan-cong/{klass.id}": "Phân công lớp 6A1",
        f"/quan-tri/hoc-sinh/{student.id}": student.full_name,
        f"/quan-tri/hoc-sinh/{student.id}/phu-huynh/moi": "Thêm phụ huynh, người giám hộ",
        f"/quan-tri/hoc-sinh/{student.id}/phu-huynh/{guardian.id}": f"Phụ huynh: {guardian.full_name}",
    }
    for url, heading in pages.items():
        response = admin.get(url)
        assert response.status_code == 200, url
        assert heading in html(response), url


def test_every_form_carries_a_csrf_token(admin, db):
    klass = class_named(db, "6A1")
    for url in ("/quan-tri/truong", "/quan-tri/nam-hoc", f"/quan-tri/lop/{klass.id}", f"/quan-tri/phan-cong/{klass.id}",
                "/quan-tri/giao-vien/moi", "/quan-tri/hoc-sinh/moi", "/quan-tri/to-chuyen-mon"):
        page = html(admin.get(url))
        assert page.count('method="post"') == page.count('name="csrf_token"'), url
        assert page.count('method="post"') >= 1


@pytest.mark.parametrize("role", sorted(set(ROLE_USERS) - {"admin"}))
@pytest.mark.parametrize("url", ["/quan-tri/", "/quan-tri/giao-vien", "/quan-tri/hoc-sinh", "/quan-tri/phan-cong"])
def test_other_roles_are_refused(login_as, role, url):
    assert login_as(role).get(url).status_code == 403


def test_other_roles_cannot_post(login_as, db):
    before = current_year(db)
    client = login_as("principal")
    assert client.post("/quan-tri/nam-hoc", data={"name": "2040-2041"}).status_code == 403
    with db() as s:
        assert s.exec(select(SchoolYear).where(SchoolYear.name == "2040-2041")).first() is None
    assert current_year(db).id == before.id


def test_anonymous_is_sent_to_login(client):
    response = client.get("/quan-tri/hoc-sinh")
    assert response.status_code == 302
    assert "/dang-nhap" in response.headers["Location"]


def test_admin_index_links_every_screen_and_imports(admin):
    page = html(admin.get("/quan-tri/"))
    for path in ("/quan-tri/truong", "/quan-tri/nam-hoc", "/quan-tri/lop", "/quan-tri/mon-hoc",
                 "/quan-tri/to-chuyen-mon", "/quan-tri/giao-vien", "/quan-tri/phan-cong", "/quan-tri/hoc-sinh",
                 "/quan-tri/nhap-du-lieu/"):
        assert f'href="{path}"' in page


# --- School ---------------------------------------------------------------------------------------------


SCHOOL = {
    "name": "Trường THCS Nguyễn Du", "ministry_code": "37105678", "level": "thcs", "department_code": "37",
    "department_name": "Sở Giáo dục và Đào tạo Ninh Bình", "address": "Số 1 Lê Lợi", "ward_name": "Phường Hoa Lư",
    "ward_code": "14479", "district_name": "", "province_name": "Ninh Bình", "province_code": "37",
    "release_place": "Ninh Bình", "phone": "0229 387 1234", "email": "thcsnguyendu@ninhbinh.edu.vn",
}


def test_school_saves_and_redirects(admin, db):
    response = admin.post("/quan-tri/truong", data=SCHOOL)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/quan-tri/truong")
    with db() as s:
        school = s.exec(select(School)).one()
    assert school.name == "Trường THCS Nguyễn Du"
    assert school.phone == "02293871234"
    assert school.district_name is None
    assert "Đã lưu thông tin nhà trường." in html(admin.get("/quan-tri/truong"))


def test_school_bad_codes_are_refused_field_by_field(admin, db):
    with db() as s:
        before = s.exec(select(School)).one().model_dump()
    bad = dict(SCHOOL, department_code="3X", province_code="371", email="khong-phai-email", ward_code="12")
    response = admin.post("/quan-tri/truong", data=bad)
    assert response.status_code == 400
    page = html(response)
    assert "Mã sở gồm đúng 2 chữ số" in page
    assert "Mã tỉnh/thành phố gồm đúng 2 chữ số" in page
    assert "Địa chỉ thư điện tử không hợp lệ." in page
    assert "Mã xã/phường gồm đúng 5 chữ số" in page
    assert 'value="Trường THCS Nguyễn Du"' in page  # the rest of the input is kept
    with db() as s:
        assert s.exec(select(School)).one().model_dump() == before


# --- School years -------------------------------------------------------------------------------------


def test_create_year_with_default_dates(admin, db):
    response = admin.post("/quan-tri/nam-hoc", data={"name": "2040-2041"})
    assert response.status_code == 302
    with db() as s:
        year = s.exec(select(SchoolYear).where(SchoolYear.name == "2040-2041")).one()
        terms = {t.code: t for t in s.exec(select(Term).where(Term.school_year_id == year.id))}
    assert not year.is_current
    assert terms["hk1"].start_date.isoformat() == "2040-09-05"
    assert terms["hk2"].end_date.isoformat() == "2041-05-31"
    assert year.end_date == terms["hk2"].end_date


def test_create_year_refuses_bad_name_and_dates(admin, db):
    response = admin.post("/quan-tri/nam-hoc", data={"name": "2040-2042"})
    assert response.status_code == 400
    assert "Năm sau phải lớn hơn năm trước đúng 1" in html(response)
    response = admin.post("/quan-tri/nam-hoc", data={
        "name": "2040-2041", "hk1_start": "2040-09-05", "hk1_end": "2040-08-01",
        "hk2_start": "2041-01-19", "hk2_end": "2041-05-31"})
    assert response.status_code == 400
    assert "Học kì I phải kết thúc sau ngày bắt đầu." in html(response)
    with db() as s:
        assert s.exec(select(SchoolYear).where(SchoolYear.name.like("2040%"))).first() is None


def test_set_current_year_leaves_exactly_one(admin, db):
    old = current_year(db)
    admin.post("/quan-tri/nam-hoc", data={"name": "2040-2041"})
    with db() as s:
        new = s.exec(select(SchoolYear).where(SchoolYear.name == "2040-2041")).one()
    response = admin.post(f"/quan-tri/nam-hoc/{new.id}/hien-tai")
    assert response.status_code == 302
    with db() as s:
        current = s.exec(select(SchoolYear).where(SchoolYear.is_current)).all()
    assert [y.id for y in current] == [new.id]
    admin.post(f"/quan-tri/nam-hoc/{old.id}/hien-tai")
    with db() as s:
        assert [y.id for y in s.exec(select(SchoolYear).where(SchoolYear.is_current))] == [old.id]


def test_edit_year_dates(admin, db):
    year = current_year(db)
    y0 = int(year.name[:4])
    data = {"hk1_start": f"{y0}-09-08", "hk1_end": f"{y0 + 1}-01-10", "hk2_start": f"{y0 + 1}-01-12",
            "hk2_end": f"{y0 + 1}-05-25"}
    assert admin.post(f"/quan-tri/nam-hoc/{year.id}", data=data).status_code == 302
    with db() as s:
        assert s.get(SchoolYear, year.id).start_date.isoformat() == f"{y0}-09-08"
    bad = dict(data, hk2_start=f"{y0 + 1}-01-05")
    response = admin.post(f"/quan-tri/nam-hoc/{year.id}", data=bad)
    assert response.status_code == 400
    assert "Học kì II phải bắt đầu sau khi học kì I kết thúc." in html(response)
    with db() as s:
        hk2 = s.exec(select(Term).where(Term.school_year_id == year.id, Term.code == "hk2")).one()
    assert hk2.start_date.isoformat() == f"{y0 + 1}-01-12"


# --- Classes ------------------------------------------------------------------------------------------


def test_create_class(admin, db):
    year = current_year(db)
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 6)).one()
        teacher = s.exec(select(User).where(User.username == "vinhtd")).one()
    response = admin.post(f"/quan-tri/lop/moi?nam={year.id}",
                          data={"name": "6A3", "grade_id": grade.id, "homeroom_teacher_id": teacher.id})
    assert response.status_code == 302
    klass = class_named(db, "6A3")
    assert (klass.grade_id, klass.homeroom_teacher_id) == (grade.id, teacher.id)


def test_class_name_unique_and_homeroom_must_be_a_teacher(admin, db):
    year = current_year(db)
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 6)).one()
        principal = s.exec(select(User).where(User.username == "hieutruong")).one()
        count = len(s.exec(select(SchoolClass)).all())
    response = admin.post(f"/quan-tri/lop/moi?nam={year.id}",
                          data={"name": "6a1", "grade_id": grade.id, "homeroom_teacher_id": principal.id})
    assert response.status_code == 400
    page = html(response)
    assert "Năm học này đã có lớp 6a1." in page
    assert "Chỉ chọn được tài khoản có vai trò giáo viên." in page
    with db() as s:
        assert len(s.exec(select(SchoolClass)).all()) == count


def test_delete_class_refused_when_it_has_students(admin, db):
    klass = class_named(db, "6A1")
    response = admin.post(f"/quan-tri/lop/{klass.id}/xoa", follow_redirects=True)
    assert "Không thể xoá lớp 6A1" in html(response)
    with db() as s:
        assert s.get(SchoolClass, klass.id) is not None


def test_delete_empty_class(admin, db):
    year = current_year(db)
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 7)).one()
    admin.post(f"/quan-tri/lop/moi?nam={year.id}", data={"name": "7A9", "grade_id": grade.id})
    klass = class_named(db, "7A9")
    response = admin.post(f"/quan-tri/lop/{klass.id}/xoa", follow_redirects=True)
    assert "Đã xoá lớp 7A9." in html(response)
    with db() as s:
        assert s.get(SchoolClass, klass.id) is None


# --- Grades and subjects ------------------------------------------------------------------------------


def test_add_grade_prefills_curriculum(admin, db, session):
    school = session.exec(select(School)).one()
    school.level = "gdtx"  # grades 6–12: grade 10 can be added
    session.add(school)
    session.commit()
    page = html(admin.get("/quan-tri/mon-hoc"))
    assert "Thêm khối 10" in page
    response = admin.post("/quan-tri/mon-hoc/khoi", data={"number": "10"})
    assert response.status_code == 302
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 10)).one()
        codes = [x.code for x in s.exec(select(Subject).where(Subject.grade_id == grade.id).order_by(Subject.position))]
    assert codes[:3] == ["van", "toan", "anh"]
    assert "gdqpan" in codes
    assert response.headers["Location"].endswith(f"/quan-tri/mon-hoc/khoi/{grade.id}")


def test_add_grade_outside_level_is_refused(admin, db):
    response = admin.post("/quan-tri/mon-hoc/khoi", data={"number": "3"}, follow_redirects=True)
    assert "Khối không thuộc cấp học của trường" in html(response)
    with db() as s:
        assert s.exec(select(Grade).where(Grade.number == 3)).first() is None


def test_create_subject_and_kind_must_match_regime(admin, db):
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 6)).one()
        count = len(s.exec(select(Subject).where(Subject.grade_id == grade.id)).all())
    bad = {"code": "tiengphap", "name": "Tiếng Pháp", "periods_per_year": "0", "kind": "level"}
    response = admin.post(f"/quan-tri/mon-hoc/khoi/{grade.id}", data=bad)
    assert response.status_code == 400
    page = html(response)
    assert "Khối 6–12 (Thông tư 22/2021)" in page
    assert "Số tiết/năm phải lớn hơn hoặc bằng 1." in page
    with db() as s:
        assert len(s.exec(select(Subject).where(Subject.grade_id == grade.id)).all()) == count
    good = dict(bad, periods_per_year="105", kind="score")
    assert admin.post(f"/quan-tri/mon-hoc/khoi/{grade.id}", data=good).status_code == 302
    subject = subject_of(db, 6, "tiengphap")
    assert (subject.kind, subject.periods_per_year, subject.position) == ("score", 105, count)


def test_edit_subject(admin, db):
    toan = subject_of(db, 6, "toan")
    data = {"code": "toan", "name": "Toán học", "periods_per_year": "140", "kind": "score", "position": "1",
            "department_id": ""}
    assert admin.post(f"/quan-tri/mon-hoc/{toan.id}", data=data).status_code == 302
    edited = subject_of(db, 6, "toan")
    assert (edited.name, edited.department_id) == ("Toán học", None)
    response = admin.post(f"/quan-tri/mon-hoc/{toan.id}", data=dict(data, code="van"))
    assert response.status_code == 400
    assert "Khối 6 đã có môn mã van." in html(response)
    assert subject_of(db, 6, "toan").name == "Toán học"


def test_delete_subject_refused_when_assigned(admin, db):
    toan = subject_of(db, 6, "toan")
    response = admin.post(f"/quan-tri/mon-hoc/{toan.id}/xoa", follow_redirects=True)
    assert "Không thể xoá môn Toán" in html(response)
    with db() as s:
        assert s.get(Subject, toan.id) is not None


def test_delete_unassigned_subject(admin, db):
    with db() as s:
        grade = s.exec(select(Grade).where(Grade.number == 7)).one()
    admin.post(f"/quan-tri/mon-hoc/khoi/{grade.id}",
               data={"code": "tiengnhat", "name": "Tiếng Nhật", "periods_per_year": "105", "kind": "score"})
    subject = subject_of(db, 7, "tiengnhat")
    response = admin.post(f"/quan-tri/mon-hoc/{subject.id}/xoa", follow_redirects=True)
    assert "Đã xoá môn Tiếng Nhật." in html(response)
    with db() as s:
        assert s.get(Subject, subject.id) is None


# --- Departments --------------------------------------------------------------------------------------


def test_department_crud(admin, db):
    teacher = user_named(db, "tuanlm")
    response = admin.post("/quan-tri/to-chuyen-mon", data={"name": "Tổ Văn phòng", "head_id": teacher.id})
    assert response.status_code == 302
    with db() as s:
        dept = s.exec(select(Department).where(Department.name == "Tổ Văn phòng")).one()
    assert dept.head_id == teacher.id
    response = admin.post(f"/quan-tri/to-chuyen-mon/{dept.id}", data={"name": "Tổ Toán – Tin", "head_id": ""})
    assert response.status_code == 400
    assert "Đã có Tổ Toán – Tin." in html(response)
    response = admin.post(f"/quan-tri/to-chuyen-mon/{dept.id}/xoa", follow_redirects=True)
    assert "Đã xoá Tổ Văn phòng." in html(response)
    with db() as s:
        assert s.get(Department, dept.id) is None


def test_department_head_must_be_teacher_and_busy_department_is_kept(admin, db):
    office = user_named(db, "vanthu")
    response = admin.post("/quan-tri/to-chuyen-mon", data={"name": "Tổ Mới", "head_id": office.id})
    assert response.status_code == 400
    assert "Chỉ chọn được tài khoản có vai trò giáo viên." in html(response)
    with db() as s:
        assert s.exec(select(Department).where(Department.name == "Tổ Mới")).first() is None
        busy = s.exec(select(Department).where(Department.name == "Tổ Toán – Tin")).one()
    response = admin.post(f"/quan-tri/to-chuyen-mon/{busy.id}/xoa", follow_redirects=True)
    assert "Không thể xoá Tổ Toán – Tin" in html(response)
    with db() as s:
        assert s.get(Department, busy.id) is not None


# --- Teacher accounts ---------------------------------------------------------------------------------


def new_teacher(**overrides) -> dict:
    data = {"username": "NguyenVanA", "full_name": "Nguyễn Văn A", "email": "", "phone": "",
            "roles": ["teacher"], "password": VALID_PASSWORD, "personal_id": "037090001234",
            "date_of_birth": "02/03/1990", "sex": "1", "title": "Giáo viên", "department_id": ""}
    data.update(overrides)
    return data


def test_create_teacher_account(admin, db):
    response = admin.post("/quan-tri/giao-vien/moi", data=new_teacher())
    assert response.status_code == 302
    user = user_named(db, "nguyenvana")
    assert user is not None and user.must_change_password and user.active
    with db() as s:
        assert set(s.exec(select(UserRole.role).where(UserRole.user_id == user.id))) == {"teacher"}
        profile = s.get(TeacherProfile, user.id)
    assert profile.personal_id == "037090001234"
    assert profile.date_of_birth.isoformat() == "1990-03-02"
    assert "nguyenvana" in html(admin.get("/quan-tri/giao-vien"))


def test_create_teacher_refuses_bad_input(admin, db):
    taken = "037" + "0" * 9
    with db() as s:
        existing = s.exec(select(TeacherProfile)).first()
        users = len(s.exec(select(User)).all())
    response = admin.post("/quan-tri/giao-vien/moi", data=new_teacher(
        username="ab", personal_id=existing.personal_id, password="123", roles=["teacher", "parent"]))
    assert response.status_code == 400
    page = html(response)
    assert "Tên đăng nhập gồm 3–64 ký tự" in page
    assert "Số định danh cá nhân này đã thuộc về một giáo viên khác." in page
    assert "Mật khẩu phải có ít nhất 8 ký tự." in page
    assert "Vai trò không hợp lệ." in page
    assert "123" not in page.split('name="password"')[1][:60]  # the password is never echoed
    response = admin.post("/quan-tri/giao-vien/moi", data=new_teacher(personal_id="", username="gvmoi"))
    assert response.status_code == 400
    assert "phải có số định danh cá nhân" in html(response)
    response = admin.post("/quan-tri/giao-vien/moi", data=new_teacher(username="hoant", personal_id=taken))
    assert "Tên đăng nhập hoant đã có người dùng." in html(response)
    with db() as s:
        assert len(s.exec(select(User)).all()) == users


def test_edit_teacher_roles_and_profile(admin, db):
    user = user_named(db, "tuanlm")
    with db() as s:
        profile = s.get(TeacherProfile, user.id)
    data = new_teacher(username="tuanlm", full_name="Lê Minh Tuấn", roles=["teacher", "office"],
                       personal_id=profile.personal_id, title="Tổ phó")
    data.pop("password")
    assert admin.post(f"/quan-tri/giao-vien/{user.id}", data=data).status_code == 302
    with db() as s:
        assert set(s.exec(select(UserRole.role).where(UserRole.user_id == user.id))) == {"teacher", "office"}
        assert s.get(TeacherProfile, user.id).title == "Tổ phó"


def test_admin_cannot_drop_own_admin_role_or_disable_self(admin, db):
    me = user_named(db, "quantri")
    response = admin.post(f"/quan-tri/giao-vien/{me.id}", data={"username": "quantri", "full_name": me.full_name,
                                                                "roles": ["office"], "sex": "0"})
    assert response.status_code == 400
    assert "Bạn không thể tự bỏ vai trò quản trị của chính mình." in html(response)
    response = admin.post(f"/quan-tri/giao-vien/{me.id}/khoa", follow_redirects=True)
    assert "Bạn không thể tự khoá tài khoản của chính mình." in html(response)
    me = user_named(db, "quantri")
    assert me.active
    with db() as s:
        assert "admin" in set(s.exec(select(UserRole.role).where(UserRole.user_id == me.id)))


def test_disable_ends_the_users_sessions(app, admin, db):
    teacher_client = app.test_client()
    assert teacher_client.post("/dang-nhap", data={"username": "tuanlm", "password": DEMO_PASSWORD}).status_code == 302
    assert teacher_client.get("/").status_code == 200
    user = user_named(db, "tuanlm")
    assert admin.post(f"/quan-tri/giao-vien/{user.id}/khoa").status_code == 302
    response = teacher_client.get("/")
    assert response.status_code == 302
    assert "/dang-nhap" in response.headers["Location"]
    assert not user_named(db, "tuanlm").active
    refused = app.test_client().post("/dang-nhap", data={"username": "tuanlm", "password": DEMO_PASSWORD})
    assert refused.status_code == 401
    assert admin.post(f"/quan-tri/giao-vien/{user.id}/mo-khoa").status_code == 302
    assert user_named(db, "tuanlm").active


def test_reset_password_forces_change_at_next_login(app, admin, db):
    teacher_client = app.test_client()
    teacher_client.post("/dang-nhap", data={"username": "tuanlm", "password": DEMO_PASSWORD})
    user = user_named(db, "tuanlm")
    weak = admin.post(f"/quan-tri/giao-vien/{user.id}/mat-khau", data={"password": "matkhau123"})
    assert weak.status_code == 400
    assert "quá phổ biến" in html(weak)
    assert user_named(db, "tuanlm").password_hash == user.password_hash
    assert admin.post(f"/quan-tri/giao-vien/{user.id}/mat-khau", data={"password": VALID_PASSWORD}).status_code == 302
    assert user_named(db, "tuanlm").must_change_password
    assert "/dang-nhap" in teacher_client.get("/").headers["Location"]  # the old session has ended
    fresh = app.test_client()
    old = fresh.post("/dang-nhap", data={"username": "tuanlm", "password": DEMO_PASSWORD})
    assert old.status_code == 401
    login = fresh.post("/dang-nhap", data={"username": "tuanlm", "password": VALID_PASSWORD})
    assert login.headers["Location"].endswith("/doi-mat-khau")
    assert fresh.get("/").headers["Location"].endswith("/doi-mat-khau")


# --- Teaching assignments -----------------------------------------------------------------------------


def test_assignment_overview_counts_unassigned(admin, db, session):
    klass = current_class(session, "6A1")
    toan = session.exec(select(TeachingAssignment).join(Subject).where(
        TeachingAssignment.class_id == klass.id, Subject.code == "toan")).one()
    session.delete(toan)
    session.commit()
    page = html(admin.get("/quan-tri/phan-cong"))
    assert "1 môn</span>" in page
    assert "Còn 1 lớp–môn chưa có giáo viên." in page


def test_save_assignments(admin, db):
    klass = class_named(db, "6A1")
    toan, tinhoc = subject_of(db, 6, "toan"), subject_of(db, 6, "tinhoc")
    dungpv = user_named(db, "dungpv")
    response = admin.post(f"/quan-tri/phan-cong/{klass.id}",
                          data={f"teacher_{toan.id}": dungpv.id, f"teacher_{tinhoc.id}": ""})
    assert response.status_code == 302
    with db() as s:
        rows = dict(s.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                           .where(TeachingAssignment.class_id == klass.id)).all())
    assert rows[toan.id] == dungpv.id
    assert tinhoc.id not in rows
    assert "Chưa phân công" in html(admin.get(f"/quan-tri/phan-cong/{klass.id}"))


def test_save_assignments_is_all_or_nothing(admin, db):
    klass = class_named(db, "6A1")
    toan, van = subject_of(db, 6, "toan"), subject_of(db, 6, "van")
    with db() as s:
        before = dict(s.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                             .where(TeachingAssignment.class_id == klass.id)).all())
    dungpv, principal = user_named(db, "dungpv"), user_named(db, "hieutruong")
    response = admin.post(f"/quan-tri/phan-cong/{klass.id}",
                          data={f"teacher_{toan.id}": dungpv.id, f"teacher_{van.id}": principal.id})
    assert response.status_code == 400
    assert "Chỉ chọn được tài khoản có vai trò giáo viên." in html(response)
    with db() as s:
        after = dict(s.exec(select(TeachingAssignment.subject_id, TeachingAssignment.teacher_id)
                            .where(TeachingAssignment.class_id == klass.id)).all())
    assert after == before


# --- Students, photos and guardians -------------------------------------------------------------------


def new_student(**overrides) -> dict:
    data = {"student_code": "3710123499001", "personal_id": "037213000111", "full_name": "Trần  Thị  Bích",
            "date_of_birth": "05/09/2013", "sex": "2", "ethnicity": "01", "nationality": "vn",
            "birthplace": "Trạm y tế xã Gia Viễn, tỉnh Ninh Bình", "birthplace_province_code": "37",
            "hometown": "xã Gia Viễn, tỉnh Ninh Bình", "residence": "Thôn Đông, xã Gia Viễn", "policy_group": "",
            "registration_number": "241/2024", "father_name": "Trần Văn Bình", "father_occupation": "Nông dân",
            "mother_name": "Lê Thị Hoa", "mother_occupation": "Giáo viên", "guardian_name": "",
            "guardian_occupation": "", "class_id": ""}
    data.update(overrides)
    return data


def test_student_list_search_and_class_filter(admin, db):
    page = html(admin.get("/quan-tri/hoc-sinh"))
    assert "240 học sinh" in page
    klass = class_named(db, "9A2")
    page = html(admin.get(f"/quan-tri/hoc-sinh?lop={klass.id}"))
    assert "30 học sinh phù hợp" in page
    with db() as s:
        student = s.exec(select(Student).where(Student.student_code == "3710123400001")).one()
    page = html(admin.get("/quan-tri/hoc-sinh?q=3710123400001"))
    assert student.full_name in page and "1 học sinh phù hợp" in page


def test_student_search_fragment_for_htmx(admin):
    response = admin.get("/quan-tri/hoc-sinh?q=Nguy", headers={"HX-Request": "true"})
    page = html(response)
    assert page.lstrip().startswith('<div id="student-results">')
    assert "<html" not in page
    assert "HX-Request" in response.headers["Vary"]


def test_create_student_and_place_in_class(admin, db):
    klass = class_named(db, "6A2")
    response = admin.post("/quan-tri/hoc-sinh/moi", data=new_student(class_id=klass.id))
    assert response.status_code == 302
    with db() as s:
        student = s.exec(select(Student).where(Student.student_code == "3710123499001")).one()
        enrollment = s.exec(select(Enrollment).where(Enrollment.student_id == student.id)).one()
    assert response.headers["Location"].endswith(f"/quan-tri/hoc-sinh/{student.id}")
    assert (student.full_name, student.nationality, student.policy_group) == ("Trần Thị Bích", "VN", None)
    assert student.date_of_birth.isoformat() == "2013-09-05"
    assert (enrollment.class_id, enrollment.number, enrollment.left_on) == (klass.id, 31, None)


def test_create_student_refuses_bad_input_and_saves_nothing(admin, db):
    with db() as s:
        taken = s.exec(select(Student)).first()
        count = len(s.exec(select(Student)).all())
    response = admin.post("/quan-tri/hoc-sinh/moi", data=new_student(
        student_code=taken.student_code, personal_id="03721300011", date_of_birth="31/02/2013", ethnicity="99",
        full_name=""))
    assert response.status_code == 400
    page = html(response)
    assert f"Mã học sinh {taken.student_code} đã có." in page
    assert "Số định danh cá nhân gồm đúng 12 chữ số." in page
    assert "Ngày sinh không hợp lệ" in page
    assert "Dân tộc không hợp lệ." in page
    assert "Vui lòng nhập họ và tên." in page
    assert 'value="Trạm y tế xã Gia Viễn, tỉnh Ninh Bình"' in page
    with db() as s:
        assert len(s.exec(select(Student)).all()) == count


def test_edit_student_moves_class(admin, db):
    klass_a, klass_b = class_named(db, "6A1"), class_named(db, "6A2")
    with db() as s:
        enrollment, student = s.exec(select(Enrollment, Student).join(Student)
                                     .where(Enrollment.class_id == klass_a.id)).first()
    data = new_student(student_code=student.student_code, personal_id=student.personal_id,
                       full_name=student.full_name, date_of_birth=student.date_of_birth.isoformat(),
                       class_id=klass_b.id)
    assert admin.post(f"/quan-tri/hoc-sinh/{student.id}", data=data).status_code == 302
    with db() as s:
        rows = {e.class_id: e for e in s.exec(select(Enrollment).where(Enrollment.student_id == student.id))}
        edited = s.get(Student, student.id)
    assert rows[klass_a.id].left_on is not None
    assert rows[klass_b.id].left_on is None and rows[klass_b.id].joined_on is not None
    assert edited.hometown == "xã Gia Viễn, tỉnh Ninh Bình"
    page = html(admin.get(f"/quan-tri/hoc-sinh/{student.id}"))
    assert "Quá trình học tập" in page and "6A2" in page


def test_photo_upload_accepts_png_and_jpeg(admin, db, session):
    student = make_student(session)
    for fmt in ("PNG", "JPEG"):
        data = image_bytes(fmt)
        response = admin.post(f"/quan-tri/hoc-sinh/{student.id}/anh",
                              data={"photo": (io.BytesIO(data), "anh.bin")}, content_type="multipart/form-data")
        assert response.status_code == 302
        with db() as s:
            photo, saved = s.get(StudentPhoto, student.id), s.get(Student, student.id)
        assert photo.data == data
        assert photo.mime == ("image/png" if fmt == "PNG" else "image/jpeg")
        assert saved.photo_sha256 == hashlib.sha256(data).hexdigest()
    served = admin.get(f"/quan-tri/hoc-sinh/{student.id}/anh")
    assert served.headers["Content-Type"] == "image/jpeg" and served.data == data


@pytest.mark.parametrize(("payload", "filename", "message"), [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500, "anh.jpg", "Chỉ nhận ảnh JPEG hoặc PNG"),
    ("Đây là một tệp văn bản.".encode(), "anh.png", "Chỉ nhận ảnh JPEG hoặc PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), "anh.png", "Ảnh không được lớn hơn 2 MB."),
    (b"\xff\xd8\xff\xe0" + b"hong" * 100, "anh.jpg", "Tệp ảnh bị hỏng hoặc không đọc được."),
])
def test_photo_upload_refuses_non_images_and_large_files(admin, db, session, payload, filename, message):
    student = make_student(session)
    response = admin.post(f"/quan-tri/hoc-sinh/{student.id}/anh",
                          data={"photo": (io.BytesIO(payload), filename)}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in html(response)
    with db() as s:
        assert s.get(StudentPhoto, student.id) is None
        assert s.get(Student, student.id).photo_sha256 is None


def test_add_guardian_with_new_parent_account(app, admin, db, session):
    student = make_student(session)
    response = admin.post(f"/quan-tri/hoc-sinh/{student.id}/phu-huynh/moi", data={
        "full_name": "Phạm Thị Lan", "relation": "me", "phone": "0912 345 678", "occupation": "Kế toán",
        "account": "new", "account_username": "phamthilan", "account_password": VALID_PASSWORD})
    assert response.status_code == 302
    with db() as s:
        guardian = s.exec(select(Guardian).where(Guardian.full_name == "Phạm Thị Lan")).one()
        user = s.get(User, guardian.user_id)
        roles = set(s.exec(select(UserRole.role).where(UserRole.user_id == user.id)))
        assert s.get(StudentGuardian, (student.id, guardian.id)) is not None
    assert (guardian.phone, user.username, roles) == ("0912345678", "phamthilan", {"parent"})
    assert user.must_change_password
    parent = app.test_client()
    login = parent.post("/dang-nhap", data={"username": "phamthilan", "password": VALID_PASSWORD})
    assert login.headers["Location"].endswith("/doi-mat-khau")


def test_add_guardian_links_existing_parent_account(admin, db, session):
    student = make_student(session)
    father = user_named(db, "phuhuynh2")
    with db() as s:
        guardian = s.exec(select(Guardian).where(Guardian.user_id == father.id)).one()
    response = admin.post(f"/quan-tri/hoc-sinh/{student.id}/phu-huynh/moi", data={
        "full_name": guardian.full_name, "relation": "cha", "phone": "", "account": "existing",
        "existing_username": "PhuHuynh2"})
    assert response.status_code == 302
    with db() as s:
        assert s.get(StudentGuardian, (student.id, guardian.id)) is not None
        assert len(s.exec(select(Guardian).where(Guardian.user_id == father.id)).all()) == 1


def test_add_guardian_refuses_bad_input(admin, db, session):
    student = make_student(session)
    response = admin.post(f"/quan-tri/hoc-sinh/{student.id}/phu-huynh/moi", data={
        "full_name": "", "relation": "ong", "phone": "12ab", "account": "existing", "existing_username": "hoant"})
    assert response.status_code == 400
    page = html(response)
    for message in ("Vui lòng nhập họ và tên.", "Quan hệ với học sinh không hợp lệ.", "Số điện thoại gồm 8–15 chữ số",
                    "Tài khoản này không phải tài khoản phụ huynh."):
        assert message in page
    with db() as s:
        assert s.exec(select(StudentGuardian).where(StudentGuardian.student_id == student.id)).first() is None


def test_edit_guardian_resets_parent_password(admin, db):
    parent = user_named(db, "phuhuynh1")
    with db() as s:
        guardian = s.exec(select(Guardian).where(Guardian.user_id == parent.id)).one()
        link = s.exec(select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)).first()
    url = f"/quan-tri/hoc-sinh/{link.student_id}/phu-huynh/{guardian.id}"
    data = {"full_name": guardian.full_name, "relation": "me", "phone": "0987654321", "occupation": "",
            "account": "reset", "account_password": VALID_PASSWORD}
    assert admin.post(url, data=data).status_code == 302
    parent = user_named(db, "phuhuynh1")
    assert parent.must_change_password
    with db() as s:
        assert s.get(Guardian, guardian.id).phone == "0987654321"


# --- Audit of administrative changes ------------------------------------------------------------------


def test_admin_changes_to_transcript_data_are_audited_with_before_and_after(admin, db, app):
    import json

    from portal import audit
    from portal.db import engine_for
    from portal.models import AuditEvent

    klass_a, klass_b = class_named(db, "6A1"), class_named(db, "6A2")
    with db() as s:
        enrollment, student = s.exec(select(Enrollment, Student).join(Student)
                                     .where(Enrollment.class_id == klass_a.id)).first()
        before_count = len(s.exec(select(AuditEvent)).all())
    data = new_student(student_code=student.student_code, personal_id=student.personal_id,
                       full_name="Nguyễn Văn Đổi Tên", date_of_birth=student.date_of_birth.isoformat(),
                       class_id=klass_b.id)
    assert admin.post(f"/quan-tri/hoc-sinh/{student.id}", data=data).status_code == 302
    # Saving the same form again changes nothing: no event.
    assert admin.post(f"/quan-tri/hoc-sinh/{student.id}", data=data).status_code == 302
    with db() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.id > before_count).order_by(AuditEvent.id)).all()
    changes = [e for e in events if e.action == "admin.changed"]
    assert len(changes) == 1
    event = changes[0]
    assert (event.object_type, event.object_id, event.student_id) == ("students", str(student.id), student.id)
    assert event.actor_name and event.ip
    before, after = json.loads(event.before), json.loads(event.after)
    assert before["full_name"] == student.full_name and after["full_name"] == "Nguyễn Văn Đổi Tên"
    assert (before["class_id"], after["class_id"]) == (klass_a.id, klass_b.id)
    assert "student_code" not in after  # only what changed
    with app.app_context():
        assert audit.verify(engine_for(app)).ok


def test_a_refused_admin_change_records_nothing(admin, db):
    from portal.models import AuditEvent

    with db() as s:
        before = len(s.exec(select(AuditEvent).where(AuditEvent.action == "admin.changed")).all())
    response = admin.post("/quan-tri/hoc-sinh/moi", data=new_student(full_name="", date_of_birth="31/02/2013"))
    assert response.status_code == 400
    with db() as s:
        assert len(s.exec(select(AuditEvent).where(AuditEvent.action == "admin.changed")).all()) == before
