"""Build import files in memory (CSV and XLSX) and count the rows an import may touch."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from portal.db import new_session
from portal.models import Enrollment, Student, TeacherProfile, TeachingAssignment, User, UserRole

STUDENT_HEADER = ["Mã học sinh", "Số định danh", "Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc", "Quốc tịch",
                  "Nơi sinh", "Quê quán", "Chỗ ở hiện tại", "Họ tên cha", "Nghề nghiệp cha", "Họ tên mẹ",
                  "Nghề nghiệp mẹ", "Họ tên người giám hộ", "Nghề nghiệp người giám hộ", "Lớp"]
TEACHER_HEADER = ["Tên đăng nhập", "Họ và tên", "Số định danh", "Ngày sinh", "Giới tính", "Tổ chuyên môn", "Chức vụ",
                  "Email", "Điện thoại"]
ASSIGNMENT_HEADER = ["Lớp", "Mã môn", "Môn học", "Tên đăng nhập giáo viên"]


def student(code: str, pid: str, name: str = "Nguyễn Minh Anh", dob="05/09/2013", sex="Nữ", klass="6A1",
            **extra) -> dict:
    row = {"Mã học sinh": code, "Số định danh": pid, "Họ và tên": name, "Ngày sinh": dob, "Giới tính": sex,
           "Dân tộc": "Kinh", "Quốc tịch": "Việt Nam", "Nơi sinh": "Trạm y tế xã Gia Viễn, tỉnh Ninh Bình",
           "Quê quán": "Xã Gia Hưng, tỉnh Ninh Bình", "Chỗ ở hiện tại": "Thôn Đông, xã Gia Viễn, tỉnh Ninh Bình",
           "Họ tên cha": "Nguyễn Văn Hùng", "Nghề nghiệp cha": "Nông dân", "Họ tên mẹ": "Trần Thị Lan",
           "Nghề nghiệp mẹ": "Giáo viên", "Lớp": klass}
    row.update(extra)
    return row


def teacher(username: str, pid: str, name: str = "Trần Thị Bình", **extra) -> dict:
    row = {"Tên đăng nhập": username, "Họ và tên": name, "Số định danh": pid, "Ngày sinh": "12/04/1988",
           "Giới tính": "Nữ", "Tổ chuyên môn": "Tổ Toán – Tin", "Chức vụ": "Giáo viên",
           "Email": f"{username}@thcshoalu.edu.vn", "Điện thoại": "0912345678"}
    row.update(extra)
    return row


def assignment(klass: str, code: str, username: str, name: str = "") -> dict:
    return {"Lớp": klass, "Mã môn": code, "Môn học": name, "Tên đăng nhập giáo viên": username}


def _matrix(header: list[str], rows: list[dict]) -> list[list]:
    return [header] + [[row.get(h) for h in header] for row in rows]


def csv_bytes(header: list[str], rows: list[dict], *, delimiter: str = ",", bom: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for line in _matrix(header, rows):
        writer.writerow(["" if v is None else v for v in line])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def xlsx_bytes(header: list[str], rows: list[dict], *, before: list[list] | None = None) -> bytes:
    """An .xlsx whose first sheet holds the header and rows (values keep their Python types)."""
    book = Workbook()
    sheet = book.active
    for line in before or []:
        sheet.append(line)
    for line in _matrix(header, rows):
        sheet.append(line)
    book.create_sheet("Ghi chú").append(["Trang này không được đọc"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


COUNTED = {"students": Student, "enrollments": Enrollment, "users": User, "roles": UserRole,
           "profiles": TeacherProfile, "assignments": TeachingAssignment}


def counts(app) -> dict[str, int]:
    """Count the rows of every table an import may write, in a fresh session."""
    with app.app_context(), new_session(write=False, app=app) as session:
        return {name: session.exec(select(func.count()).select_from(model)).one() for name, model in COUNTED.items()}


def assignment_teachers(app) -> dict[tuple[int, int], int]:
    with app.app_context(), new_session(write=False, app=app) as session:
        return {(a.class_id, a.subject_id): a.teacher_id for a in session.exec(select(TeachingAssignment)).all()}
