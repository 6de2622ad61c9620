"""Import screens: upload → preview → commit, refusals, the one-time passwords, access."""

from __future__ import annotations

import io
import os
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from portal.db import new_session
from portal.imports.rules import KINDS, header_row_values
from portal.models import Student, User
from tests.conftest import ROLE_USERS
from tests.factories import make_student
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

BASE = "/quan-tri/nhap-du-lieu"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 512


def upload(client, kind, data, filename="tep.csv"):
    return client.post(f"{BASE}/xem-truoc", data={"kind": kind, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def commit_form(html: str) -> dict:
    fields = dict(re.findall(r'<input type="hidden" name="(kind|token|sha256)" value="([^"]*)"', html))
    assert set(fields) == {"kind", "token", "sha256"}, "no commit form on the page"
    return fields


def stored_uploads(app) -> list[str]:
    folder = os.path.join(app.instance_path, "imports")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def admin(login_as):
    return login_as("admin")


def test_index_lists_kinds_columns_and_templates(admin):
    page = admin.get(f"{BASE}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nhập dữ liệu từ tệp" in html and 'enctype="multipart/form-data"' in html
    for kind in KINDS.values():
        assert kind.label in html and kind.policy in html
        for header in header_row_values(kind):
            assert f"<strong>{header}</strong>" in html
        assert f"{BASE}/mau/{kind.key}.xlsx" in html and f"{BASE}/mau/{kind.key}.csv" in html


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_template_downloads(admin, kind):
    xlsx = admin.get(f"{BASE}/mau/{kind}.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="{KINDS[kind].file_stem}.xlsx"' in xlsx.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == header_row_values(KINDS[kind]) and len(rows) == 2
    assert sheet.cell(row=2, column=1).number_format == "@"
    csv_file = admin.get(f"{BASE}/mau/{kind}.csv")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    text = csv_file.data.decode("utf-8-sig").splitlines()
    assert text[0] == ",".join(header_row_values(KINDS[kind])) and len(text) == 2
    assert admin.get(f"{BASE}/mau/{kind}.exe").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_students_preview_then_commit(app, admin, fmt):
    rows = [student("3710123498001", "001213100001", "Đỗ Thị Hồng", klass="7A1"),
            student("3710123498002", "001213100002", "Vũ Đức Long", sex="Nam", klass="7A1")]
    data = csv_bytes(STUDENT_HEADER, rows) if fmt == "csv" else xlsx_bytes(STUDENT_HEADER, rows)
    before = counts(app)

    page = upload(admin, "students", data, f"hoc-sinh.{fmt}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Không có lỗi" in html and "Đỗ Thị Hồng" in html and "Ghi dữ liệu" in html
    assert counts(app) == before  # the preview wrote nothing
    assert len(stored_uploads(app)) == 2  # the bytes and their metadata, until the commit

    form = commit_form(html)
    done = admin.post(f"{BASE}/ghi", data=form)
    assert done.status_code == 200
    assert "Đã ghi xong: 2 thêm mới, 0 cập nhật" in done.get_data(as_text=True)
    after = counts(app)
    assert after["students"] == before["students"] + 2 and after["enrollments"] == before["enrollments"] + 2
    assert stored_uploads(app) == []  # deleted after the commit

    again = admin.post(f"{BASE}/ghi", data=form)  # a reload or a second click writes nothing more
    assert again.status_code == 400 and "tải tệp lên lại" in again.get_data(as_text=True)
    assert counts(app) == after


def test_teachers_commit_shows_temporary_passwords_once(app, admin):
    data = csv_bytes(TEACHER_HEADER, [teacher("giaovien.moi", "001190000001", "Hà Thu Trang")])
    html = upload(admin, "teachers", data).get_data(as_text=True)
    result = admin.post(f"{BASE}/ghi", data=commit_form(html))
    assert result.status_code == 200
    assert result.headers["Cache-Control"] == "no-store"
    page = result.get_data(as_text=True)
    assert "chỉ hiện một lần" in page
    password = re.search(r'<code class="import-secret">([^<]+)</code>', page).group(1)
    with app.app_context(), new_session(write=False, app=app) as session:
        user = session.exec(select(User).where(User.username == "giaovien.moi")).one()
        assert user.must_change_password and user.password_hash != password
    # The new teacher signs in with it and is sent to change it first.
    fresh = app.test_client()
    response = fresh.post("/dang-nhap", data={"username": "giaovien.moi", "password": password})
    assert response.status_code == 302
    assert fresh.get("/").headers["Location"].endswith("/doi-mat-khau")


def test_assignments_commit(app, admin):
    data = csv_bytes(ASSIGNMENT_HEADER, [assignment("9A2", "toan", "hoant")])
    html = upload(admin, "assignments", data).get_data(as_text=True)
    assert "thay Phạm Văn Dũng" in html
    assert admin.post(f"{BASE}/ghi", data=commit_form(html)).status_code == 200


def test_missing_column_is_named_and_nothing_can_be_committed(app, admin):
    header = [h for h in STUDENT_HEADER if h != "Lớp"]
    before = counts(app)
    page = upload(admin, "students", csv_bytes(header, [student("3710123498101", "001213100101")]))
    html = page.get_data(as_text=True)
    assert "Thiếu cột bắt buộc «Lớp»." in html
    assert 'name="token"' not in html and "Ghi dữ liệu" not in html
    assert stored_uploads(app) == []
    assert counts(app) == before


def test_bad_dates_and_duplicates_are_listed_by_row_and_column(app, admin):
    make_student_row = [student("3710123498201", "001213100201", dob="31/02/2013"),
                        student("3710123498201", "001213100202"),
                        student("3710123498203", "001213100203", dob="2013.13.01")]
    before = counts(app)
    html = upload(admin, "students", csv_bytes(STUDENT_HEADER, make_student_row)).get_data(as_text=True)
    assert "Có 3 lỗi ở 3 dòng" in html
    table = html[html.index('id="import-errors"'):]
    cells = re.findall(r'<tr><td class="num">(\d+)</td><td class="import-col">([^<]+)</td><td>([^<]+)</td></tr>',
                       table)
    assert [(r, c) for r, c, _ in cells] == [("2", "Ngày sinh"), ("3", "Mã học sinh"), ("4", "Ngày sinh")]
    assert "31/02/2013" in cells[0][2] and "dòng 2" in cells[1][2]
    assert 'name="token"' not in html
    assert counts(app) == before


def test_duplicate_code_against_the_database(app, admin):
    with app.app_context(), new_session(write=True, app=app) as session:
        other = make_student(session, class_name="6A1", personal_id="001213100300")
    data = csv_bytes(STUDENT_HEADER, [student("3710123498301", "001213100300")])
    html = upload(admin, "students", data).get_data(as_text=True)
    assert f"đã thuộc học sinh khác: {other.full_name} (mã {other.student_code})" in html


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [(EXE, "hoc-sinh.csv", "Tệp không phải CSV hoặc Excel (.xlsx) hợp lệ"),
     (EXE, "hoc-sinh.xlsx", "Tệp không phải CSV hoặc Excel (.xlsx) hợp lệ"),
     (None, "hoc-sinh.xlsx", "không phải bảng tính Excel"),
     (b"", "hoc-sinh.csv", "Tệp rỗng")],
    ids=["exe-as-csv", "exe-as-xlsx", "zip-not-xlsx", "empty"],
)
def test_files_that_are_not_tables_are_refused(app, admin, data, filename, message):
    if data is None:
        import zipfile

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("hoc-sinh.csv", "Mã học sinh\n1\n")
        data = out.getvalue()
    before = counts(app)
    page = upload(admin, "students", data, filename)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert message in html and 'class="alert alert-error"' in html
    assert stored_uploads(app) == [] and counts(app) == before


def test_oversize_upload_is_refused(app, admin):
    app.config["IMPORT_MAX_BYTES"] = 2000
    data = csv_bytes(STUDENT_HEADER, [student(f"37101234984{i:02d}", f"0012131004{i:02d}") for i in range(20)])
    page = upload(admin, "students", data)
    assert page.status_code == 400
    assert "Tệp quá lớn. Dung lượng tối đa là 2 KB." in page.get_data(as_text=True)


def test_body_beyond_max_content_length_gets_the_upload_page(app, admin):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    page = upload(admin, "students", b"a" * 10_000)
    assert page.status_code == 413
    html = page.get_data(as_text=True)
    assert "Tệp quá lớn" in html and 'enctype="multipart/form-data"' in html


def test_missing_kind_or_file(admin):
    assert admin.post(f"{BASE}/xem-truoc", data={}).status_code == 400
    page = admin.post(f"{BASE}/xem-truoc", data={"kind": "students"}, content_type="multipart/form-data")
    assert page.status_code == 400 and "Hãy chọn tệp" in page.get_data(as_text=True)
    assert admin.post(f"{BASE}/ghi", data={}).status_code == 400


def test_commit_revalidates_and_writes_nothing_when_the_database_changed(app, admin):
    data = csv_bytes(STUDENT_HEADER, [student("3710123498501", "001213100501"),
                                      student("3710123498502", "001213100502")])
    form = commit_form(upload(admin, "students", data).get_data(as_text=True))
    with app.app_context(), new_session(write=True, app=app) as session:
        make_student(session, student_code="3710123498599", personal_id="001213100502")
    before = counts(app)
    page = admin.post(f"{BASE}/ghi", data=form)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "Không có dòng nào được ghi" in html and "001213100502" in html
    assert counts(app) == before
    with app.app_context(), new_session(write=False, app=app) as session:
        assert session.exec(select(Student).where(Student.student_code == "3710123498501")).first() is None


def test_commit_refuses_a_tampered_or_foreign_upload(app, admin, login_as):
    data = csv_bytes(STUDENT_HEADER, [student("3710123498601", "001213100601")])
    form = commit_form(upload(admin, "students", data).get_data(as_text=True))
    before = counts(app)
    assert admin.post(f"{BASE}/ghi", data=dict(form, kind="teachers")).status_code == 400
    assert admin.post(f"{BASE}/ghi", data=dict(form, token="../../secret_key")).status_code == 400
    # The stored file changed on disk after the preview: refused, and the upload is dropped.
    folder = os.path.join(app.instance_path, "imports")
    with open(os.path.join(folder, f"{form['token']}.bin"), "ab") as f:
        f.write(csv_bytes(STUDENT_HEADER, [student("3710123498602", "001213100602")], bom=False))
    page = admin.post(f"{BASE}/ghi", data=form)
    assert page.status_code == 400 and "không khớp" in page.get_data(as_text=True)
    assert counts(app) == before and stored_uploads(app) == []


def test_wrong_sha_is_refused(app, admin):
    data = csv_bytes(STUDENT_HEADER, [student("3710123498701", "001213100701")])
    form = commit_form(upload(admin, "students", data).get_data(as_text=True))
    before = counts(app)
    assert admin.post(f"{BASE}/ghi", data=dict(form, sha256="0" * 64)).status_code == 400
    assert counts(app) == before


def test_expired_uploads_are_purged(app, admin):
    data = csv_bytes(STUDENT_HEADER, [student("3710123498801", "001213100801")])
    form = commit_form(upload(admin, "students", data).get_data(as_text=True))
    folder = os.path.join(app.instance_path, "imports")
    for name in os.listdir(folder):
        os.utime(os.path.join(folder, name), (0, 0))
    before = counts(app)
    page = admin.post(f"{BASE}/ghi", data=form)
    assert page.status_code == 400 and "quá 1 giờ" in page.get_data(as_text=True)
    assert stored_uploads(app) == [] and counts(app) == before


ROUTES = [("GET", f"{BASE}/"), ("GET", f"{BASE}/mau/students.xlsx"), ("GET", f"{BASE}/mau/teachers.csv"),
          ("POST", f"{BASE}/xem-truoc"), ("POST", f"{BASE}/ghi")]


@pytest.mark.parametrize("role", sorted(set(ROLE_USERS) - {"admin"}))
def test_other_roles_are_refused(app, login_as, role):
    client = login_as(role)
    data = csv_bytes(STUDENT_HEADER, [student("3710123498901", "001213100901")])
    before = counts(app)
    for method, url in ROUTES:
        if method == "POST":
            response = client.post(url, data={"kind": "students", "file": (io.BytesIO(data), "x.csv")},
                                   content_type="multipart/form-data")
        else:
            response = client.get(url)
        assert response.status_code == 403, (role, url)
    assert counts(app) == before


def test_anonymous_is_sent_to_login(client):
    for method, url in ROUTES:
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/dang-nhap" in response.headers["Location"]
