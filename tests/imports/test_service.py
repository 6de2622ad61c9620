"""Services against the seeded demo database: preview writes nothing, commit writes all rows or none."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from portal.auth.passwords import verify_password
from portal.imports import service
from portal.imports.service import FileRejected, ImportRejected
from portal.models import (
    Department,
    Enrollment,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    User,
    UserRole,
)
from tests.factories import current_class, make_student, make_user
from tests.imports.files import (
    ASSIGNMENT_HEADER,
    STUDENT_HEADER,
    TEACHER_HEADER,
    assignment,
    counts,
    csv_bytes,
    student,
    teacher,
    xlsx_bytes,
)

BUILDERS = {"csv": csv_bytes, "xlsx": xlsx_bytes}


@pytest.fixture(autouse=True)
def app_context(app):
    """The services read the app's configuration (size and row limits, Argon2 cost)."""
    with app.app_context():
        yield


def preview(session, kind, data, filename="tep.csv"):
    result = service.preview_import(session=session, kind=kind, filename=filename, data=data)
    session.rollback()  # end the read transaction, as a request would
    return result


def commit(session, kind, data, actor="quantri"):
    actor_id = session.exec(select(User.id).where(User.username == actor)).one()
    return service.commit_import(session=session, actor_id=actor_id, kind=kind, data=data)


def errors_of(result_or_exc):
    return [(e.row, e.column, e.message) for e in result_or_exc.errors]


# --- Students -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_students_import_creates_and_enrols(app, session, fmt):
    rows = [student("3710123499001", "001213000001", "Nguyễn Minh Anh", klass="6A1"),
            student("3710123499002", "001213000002", "Lê Quang Huy", dob="7/1/2013", sex="Nam", klass="6a2",
                    **{"Dân tộc": "Mường"})]
    if fmt == "xlsx":
        rows[0]["Ngày sinh"] = datetime(2013, 9, 5)  # a real Excel date cell
    data = BUILDERS[fmt](STUDENT_HEADER, rows)
    before = counts(app)

    shown = preview(session, "students", data)
    assert shown.ok and shown.fmt == fmt
    assert shown.counts == {"create": 2}
    assert counts(app) == before  # the preview wrote nothing

    result = commit(session, "students", data)
    assert result.counts == {"create": 2}
    after = counts(app)
    assert after["students"] == before["students"] + 2
    assert after["enrollments"] == before["enrollments"] + 2

    anh = session.exec(select(Student).where(Student.student_code == "3710123499001")).one()
    assert (anh.personal_id, anh.full_name, anh.date_of_birth, anh.sex) == ("001213000001", "Nguyễn Minh Anh",
                                                                           date(2013, 9, 5), 2)
    assert (anh.ethnicity, anh.nationality, anh.father_name, anh.mother_occupation) == ("01", "VN", "Nguyễn Văn Hùng",
                                                                                        "Giáo viên")
    huy = session.exec(select(Student).where(Student.student_code == "3710123499002")).one()
    assert (huy.sex, huy.ethnicity, huy.date_of_birth) == (1, "06", date(2013, 1, 7))
    enrolment = session.exec(select(Enrollment).where(Enrollment.student_id == huy.id)).one()
    assert enrolment.class_id == current_class(session, "6A2").id
    assert enrolment.number == 31 and enrolment.left_on is None  # after the 30 demo students


def test_existing_student_code_updates_profile_and_moves_class(app, session):
    existing = make_student(session, class_name="6A1", full_name="Tên Cũ", student_code="HSCU0001",
                            personal_id="001213000009")
    data = csv_bytes(STUDENT_HEADER, [student("HSCU0001", "001213000009", "Tên Mới", klass="6A2",
                                              **{"Nơi sinh": "", "Họ tên cha": ""})])
    before = counts(app)
    shown = preview(session, "students", data)
    assert shown.ok and shown.counts == {"update": 1}
    assert "chuyển lớp 6A1 → 6A2" in shown.rows[0].note and "họ và tên" in shown.rows[0].note

    commit(session, "students", data)
    session.refresh(existing)
    assert existing.full_name == "Tên Mới"
    assert counts(app)["students"] == before["students"]
    enrolments = session.exec(select(Enrollment).where(Enrollment.student_id == existing.id)).all()
    by_class = {e.class_id: e for e in enrolments}
    six_a2 = current_class(session, "6A2").id
    assert by_class[six_a2].left_on is None
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    old = by_class.get(current_class(session, "6A1").id)
    if date.today() < year.start_date:  # before the year starts a move corrects the placement in place
        assert old is None and len(enrolments) == 1
    else:
        assert old.left_on == date.today() and by_class[six_a2].joined_on == date.today()


@pytest.mark.parametrize("offset", [-10, 30], ids=["before-the-year-starts", "during-the-year"])
def test_class_move_before_and_during_the_year(session, monkeypatch, offset):
    from datetime import timedelta

    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
    today = year.start_date + timedelta(days=offset)

    class FixedDate(date):
        @classmethod
        def today(cls):
            return today

    monkeypatch.setattr(service, "date", FixedDate)
    moved = make_student(session, class_name="6A1", student_code="HSCL0001", personal_id="001213000012")
    session.exec(select(Enrollment).where(Enrollment.student_id == moved.id)).one()
    commit(session, "students", csv_bytes(STUDENT_HEADER, [student("HSCL0001", "001213000012", klass="7A1")]))
    rows = {e.class_id: e for e in session.exec(select(Enrollment).where(Enrollment.student_id == moved.id))}
    six, seven = current_class(session, "6A1").id, current_class(session, "7A1").id
    assert rows[seven].left_on is None
    if offset < 0:
        assert list(rows) == [seven] and rows[seven].joined_on is None
    else:
        assert rows[six].left_on == today and rows[seven].joined_on == today
    # Moving back reopens the first enrolment instead of duplicating it.
    commit(session, "students", csv_bytes(STUDENT_HEADER, [student("HSCL0001", "001213000012", klass="6A1")]))
    rows = {e.class_id: e for e in session.exec(select(Enrollment).where(Enrollment.student_id == moved.id))}
    assert rows[six].left_on is None and len(rows) == (1 if offset < 0 else 2)


def test_blank_optional_cells_keep_existing_values(session):
    existing = make_student(session, class_name="6A1", student_code="HSGIU001", personal_id="001213000010",
                            birthplace="Hà Nội", ethnicity="06")
    data = csv_bytes(STUDENT_HEADER, [student("HSGIU001", "001213000010", existing.full_name, dob="01/01/2014",
                                              sex="Nam", **{"Nơi sinh": "", "Dân tộc": ""})])
    commit(session, "students", data)
    session.refresh(existing)
    assert (existing.birthplace, existing.ethnicity) == ("Hà Nội", "06")


def test_unchanged_rows_are_counted_as_such(session):
    data = csv_bytes(["Mã học sinh", "Số định danh", "Họ và tên", "Ngày sinh", "Giới tính", "Lớp"],
                     [{"Mã học sinh": "HSKD0001", "Số định danh": "001213000011", "Họ và tên": "Học Sinh Thử",
                       "Ngày sinh": "01/01/2014", "Giới tính": "Nam", "Lớp": "6A1"}])
    make_student(session, class_name="6A1", student_code="HSKD0001", personal_id="001213000011",
                 full_name="Học Sinh Thử", date_of_birth=date(2014, 1, 1), sex=1)
    assert preview(session, "students", data).counts == {"unchanged": 1}


def test_duplicate_student_codes_in_file_and_personal_id_of_another_student(app, session):
    other = make_student(session, class_name="6A1", personal_id="001213000020")
    rows = [student("3710123499101", "001213000021"),
            student("3710123499101", "001213000022"),  # same code as row 2
            student("3710123499103", "001213000020")]  # the personal id of another student in the DB
    data = csv_bytes(STUDENT_HEADER, rows)
    before = counts(app)
    shown = preview(session, "students", data)
    assert errors_of(shown) == [
        (3, "Mã học sinh", "Trùng Mã học sinh «3710123499101» với dòng 2."),
        (4, "Số định danh", f"Số định danh «001213000020» đã thuộc học sinh khác: {other.full_name} "
                            f"(mã {other.student_code})."),
    ]
    with pytest.raises(ImportRejected) as rejected:
        commit(session, "students", data)
    assert len(rejected.value.errors) == 2
    assert counts(app) == before  # the valid row 2 was not written either


def test_unknown_class_and_bad_dates_are_row_errors(app, session):
    rows = [student("3710123499201", "001213000031", klass="6A9"),
            student("3710123499202", "001213000032", dob="31/02/2013"),
            student("3710123499203", "001213000033", dob="2013/09/05")]
    data = csv_bytes(STUDENT_HEADER, rows)
    shown = preview(session, "students", data)
    cells = {(row, column) for row, column, _ in errors_of(shown)}
    assert cells == {(2, "Lớp"), (3, "Ngày sinh"), (4, "Ngày sinh")}
    messages = dict(((r, c), m) for r, c, m in errors_of(shown))
    assert "Không có lớp «6A9»" in messages[(2, "Lớp")] and "6A1" in messages[(2, "Lớp")]
    assert "31/02/2013" in messages[(3, "Ngày sinh")]
    before = counts(app)
    with pytest.raises(ImportRejected):
        commit(session, "students", data)
    assert counts(app) == before


def test_personal_id_that_lost_its_leading_zero_in_excel(app, session):
    row = student("3710123499301", "x")
    row["Số định danh"] = 37215621266  # typed into a General-format cell: Excel dropped the leading 0
    data = xlsx_bytes(STUDENT_HEADER, [row])
    shown = preview(session, "students", data, "hs.xlsx")
    [(line, column, message)] = errors_of(shown)
    assert (line, column) == (2, "Số định danh")
    assert "mất số 0 ở đầu" in message and "37215621266" in message and "Văn bản (Text)" in message
    before = counts(app)
    with pytest.raises(ImportRejected):
        commit(session, "students", data)
    assert counts(app) == before


def test_missing_required_column_names_it(app, session):
    header = [h for h in STUDENT_HEADER if h != "Ngày sinh"]
    data = csv_bytes(header, [student("3710123499401", "001213000041")])
    shown = preview(session, "students", data)
    assert errors_of(shown) == [(1, "Ngày sinh", "Thiếu cột bắt buộc «Ngày sinh».")]
    assert not shown.rows


def test_commit_revalidates_against_changes_made_after_the_preview(app, session):
    data = csv_bytes(STUDENT_HEADER, [student("3710123499501", "001213000051"),
                                      student("3710123499502", "001213000052")])
    assert preview(session, "students", data).ok
    # Meanwhile somebody records another student with the personal id of row 3.
    make_student(session, personal_id="001213000052")
    before = counts(app)
    with pytest.raises(ImportRejected) as rejected:
        commit(session, "students", data)
    assert [(e.row, e.column) for e in rejected.value.errors] == [(3, "Số định danh")]
    assert counts(app) == before
    assert session.exec(select(Student).where(Student.student_code == "3710123499501")).first() is None


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "không phải CSV hoặc Excel"),
     (b"PK\x03\x04" + b"\x00" * 64, "không phải CSV hoặc Excel")],
)
def test_files_that_are_not_tables_are_refused(app, session, data, message):
    before = counts(app)
    with pytest.raises(FileRejected, match=message):
        service.preview_import(session=session, kind="students", filename="hs.xlsx", data=data)
    with pytest.raises(FileRejected, match=message):
        commit(session, "students", data)
    assert counts(app) == before


def test_oversize_file_is_refused(app, session):
    app.config["IMPORT_MAX_BYTES"] = 1000
    data = csv_bytes(STUDENT_HEADER, [student(f"37101234996{i:02d}", f"0012130006{i:02d}") for i in range(10)])
    assert len(data) > 1000
    with pytest.raises(FileRejected, match="Tệp quá lớn"):
        service.preview_import(session=session, kind="students", filename="hs.csv", data=data)
    with pytest.raises(FileRejected, match="Tệp quá lớn"):
        commit(session, "students", data)


def test_too_many_rows_is_refused(app, session):
    app.config["IMPORT_MAX_ROWS"] = 3
    data = csv_bytes(STUDENT_HEADER, [student(f"37101234997{i:02d}", f"0012130007{i:02d}") for i in range(4)])
    with pytest.raises(FileRejected, match="hơn 3 dòng"):
        service.preview_import(session=session, kind="students", filename="hs.csv", data=data)


def test_a_failure_while_writing_leaves_nothing(app, session, monkeypatch):
    data = csv_bytes(STUDENT_HEADER, [student("3710123499801", "001213000081"),
                                      student("3710123499802", "001213000082")])
    before = counts(app)

    def explode(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "_place", explode)
    with pytest.raises(RuntimeError):
        commit(session, "students", data)
    assert counts(app) == before


# --- Teachers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_teachers_import_creates_accounts_with_temporary_passwords(app, session, fmt):
    rows = [teacher("tranthibinh", "001188000001"),
            teacher("levanc", "001185000002", "Lê Văn Cường", **{"Giới tính": "Nam", "Tổ chuyên môn": "toán - tin",
                                                                 "Chức vụ": "", "Email": "", "Điện thoại": ""})]
    data = BUILDERS[fmt](TEACHER_HEADER, rows)
    before = counts(app)
    shown = preview(session, "teachers", data)
    assert shown.ok and shown.counts == {"create": 2}
    assert counts(app) == before

    result = commit(session, "teachers", data)
    assert {u for u, _, _ in result.passwords} == {"tranthibinh", "levanc"}
    after = counts(app)
    assert after["users"] == before["users"] + 2 and after["profiles"] == before["profiles"] + 2
    department = session.exec(select(Department).where(Department.name == "Tổ Toán – Tin")).one()
    for username, full_name, password in result.passwords:
        user = session.exec(select(User).where(User.username == username)).one()
        assert user.full_name == full_name and user.must_change_password and user.active
        assert verify_password(user.password_hash, password)
        roles = set(session.exec(select(UserRole.role).where(UserRole.user_id == user.id)))
        assert roles == {"teacher"}
        profile = session.get(TeacherProfile, user.id)
        assert profile.department_id == department.id
    binh = session.exec(select(User).where(User.username == "tranthibinh")).one()
    profile = session.get(TeacherProfile, binh.id)
    assert (profile.personal_id, profile.date_of_birth, profile.sex, profile.title) == (
        "001188000001", date(1988, 4, 12), 2, "Giáo viên")
    assert (binh.email, binh.phone) == ("tranthibinh@thcshoalu.edu.vn", "0912345678")
    assert session.get(TeacherProfile, session.exec(select(User.id).where(User.username == "levanc")).one()).sex == 1


def test_existing_teacher_is_updated_without_a_new_password(app, session):
    hoa = session.exec(select(User).where(User.username == "hoant")).one()
    old_hash = hoa.password_hash
    pid = session.get(TeacherProfile, hoa.id).personal_id
    data = csv_bytes(TEACHER_HEADER, [teacher("HoaNT", pid, "Nguyễn Thị Hoa", **{"Chức vụ": "Tổ phó chuyên môn",
                                                                              "Điện thoại": "0987654321"})])
    shown = preview(session, "teachers", data)
    assert shown.ok and shown.counts == {"update": 1}
    before = counts(app)
    result = commit(session, "teachers", data)
    assert result.passwords == []
    session.refresh(hoa)
    assert hoa.password_hash == old_hash and not hoa.must_change_password
    assert hoa.phone == "0987654321" and session.get(TeacherProfile, hoa.id).title == "Tổ phó chuyên môn"
    assert counts(app) == before


def test_teacher_errors(app, session):
    taken = session.get(TeacherProfile, session.exec(select(User.id).where(User.username == "dungpv")).one())
    rows = [teacher("moi.mot", taken.personal_id),  # personal id of another teacher
            teacher("phuhuynh1", "001188000003"),  # a parent account
            teacher("moi.hai", "001188000004", **{"Tổ chuyên môn": "Tổ Thể dục"}),
            teacher("moi.ba", "001188000005", **{"Ngày sinh": "12/4/88", "Điện thoại": "12"}),
            teacher("moi.mot", "001188000006")]
    data = csv_bytes(TEACHER_HEADER, rows)
    shown = preview(session, "teachers", data)
    cells = [(r, c) for r, c, _ in errors_of(shown)]
    assert cells == [(2, "Số định danh"), (3, "Tên đăng nhập"), (4, "Tổ chuyên môn"), (5, "Ngày sinh"),
                     (5, "Điện thoại"), (6, "Tên đăng nhập")]
    messages = [m for _, _, m in errors_of(shown)]
    assert "Phạm Văn Dũng (dungpv)" in messages[0] and "phụ huynh" in messages[1]
    assert "Tổ Toán – Tin" in messages[2]  # lists the departments that exist
    before = counts(app)
    with pytest.raises(ImportRejected):
        commit(session, "teachers", data)
    assert counts(app) == before


# --- Assignments --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_assignments_replace_the_teacher_of_a_class_subject(app, session, fmt):
    six_a1 = current_class(session, "6A1")
    math = session.exec(select(Subject).where(Subject.grade_id == six_a1.grade_id, Subject.code == "toan")).one()
    dung = session.exec(select(User).where(User.username == "dungpv")).one()
    hoa = session.exec(select(User).where(User.username == "hoant")).one()
    rows = [assignment("6A1", "toan", "dungpv"),  # was hoant
            assignment("6A1", "", "tuanlm", "Tin học"),  # by name, unchanged
            assignment("6A2", "TOAN", "hoant", "Toán")]  # unchanged
    data = BUILDERS[fmt](ASSIGNMENT_HEADER, rows)
    shown = preview(session, "assignments", data)
    assert shown.ok and shown.counts == {"update": 1, "unchanged": 2}
    assert shown.rows[0].note == f"thay {hoa.full_name}"
    before = counts(app)
    result = commit(session, "assignments", data)
    assert result.counts == {"update": 1, "unchanged": 2}
    assert counts(app) == before
    row = session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == six_a1.id,
                                                        TeachingAssignment.subject_id == math.id)).one()
    assert row.teacher_id == dung.id


def test_new_assignment_is_created(app, session):
    newcomer = make_user(session, username="giaovienmoi", full_name="Giáo Viên Mới")
    six_a1 = current_class(session, "6A1")
    music = session.exec(select(Subject).where(Subject.grade_id == six_a1.grade_id, Subject.code == "amnhac")).one()
    session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == six_a1.id,
                                                  TeachingAssignment.subject_id == music.id)).one()
    session.delete(session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == six_a1.id,
                                                                 TeachingAssignment.subject_id == music.id)).one())
    session.commit()
    data = csv_bytes(ASSIGNMENT_HEADER + ["Họ tên giáo viên"],
                     [dict(assignment("6A1", "amnhac", "giaovienmoi"), **{"Họ tên giáo viên": "Giáo Viên Mới"})])
    before = counts(app)
    assert commit(session, "assignments", data).counts == {"create": 1}
    assert counts(app)["assignments"] == before["assignments"] + 1
    row = session.exec(select(TeachingAssignment).where(TeachingAssignment.class_id == six_a1.id,
                                                        TeachingAssignment.subject_id == music.id)).one()
    assert row.teacher_id == newcomer.id


def test_assignment_errors(app, session):
    rows = [assignment("6A9", "toan", "hoant"),
            assignment("6A1", "hoa", "hoant"),  # no such subject in grade 6
            assignment("6A1", "toan", "vanthu"),  # not a teacher
            assignment("6A1", "van", "khongco"),  # no such account
            assignment("6A1", "van", "hoant", "Toán"),  # code and name disagree
            assignment("6A2", "van", "haivd"),
            assignment("6A2", "", "hoant", "Ngữ văn")]  # same class and subject as the row above
    data = csv_bytes(ASSIGNMENT_HEADER, rows)
    shown = preview(session, "assignments", data)
    assert [(r, c) for r, c, _ in errors_of(shown)] == [
        (2, "Lớp"), (3, "Mã môn"), (4, "Tên đăng nhập giáo viên"), (5, "Tên đăng nhập giáo viên"), (6, "Môn học"),
        (8, "Môn học")]
    assert "dòng 7" in errors_of(shown)[-1][2]
    before = service_assignments = counts(app)
    with pytest.raises(ImportRejected):
        commit(session, "assignments", data)
    assert counts(app) == before == service_assignments


def test_teacher_name_must_match_the_account(session):
    data = csv_bytes(ASSIGNMENT_HEADER + ["Họ tên giáo viên"],
                     [dict(assignment("6A1", "toan", "hoant"), **{"Họ tên giáo viên": "Phạm Văn Dũng"})])
    [(row, column, message)] = errors_of(preview(session, "assignments", data))
    assert (row, column) == (2, "Họ tên giáo viên") and "Nguyễn Thị Hoa" in message


# --- Templates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["students", "teachers", "assignments"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_have_the_exact_headers_and_preview_cleanly(session, kind, fmt):
    from portal.imports import rules

    data = service.template_bytes(kind, fmt, service.template_examples(session, kind))
    sheet = rules.read_sheet(data, rules.detect_format(data), max_rows=10)
    assert sheet.rows[0][1] == rules.header_row_values(rules.KINDS[kind])
    shown = preview(session, kind, data, f"mau.{fmt}")
    assert shown.ok, shown.errors
    assert len(shown.rows) == 1


def test_school_without_current_year(app, session):
    for year in session.exec(select(SchoolYear)).all():
        year.is_current = False
        session.add(year)
    session.commit()
    shown = preview(session, "students", csv_bytes(STUDENT_HEADER, [student("3710123499901", "001213000091")]))
    assert any(e.row is None and "năm học hiện tại" in e.message for e in shown.errors)
    assert not shown.rows


def test_class_names_match_loosely(session):
    klass = session.exec(select(SchoolClass).where(SchoolClass.name == "6A1")).first()
    data = csv_bytes(STUDENT_HEADER, [student("3710123499911", "001213000092", klass=" 6 a1 ")])
    shown = preview(session, "students", data)
    assert shown.ok and shown.rows[0].label.endswith(klass.name)
