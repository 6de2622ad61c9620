"""Imports of students, teachers and teaching assignments do not touch period data, so locks do not apply to them.

Period data is what a period lock guards: assessments, subject comments and homeroom entries (written only
through the gradebook's single write path, which checks the lock), and the periods, locks and unlock requests
themselves. An import (admin, /quan-tri/nhap-du-lieu) writes students, enrollments, users, roles, teacher
profiles and teaching assignments only. These tests check it twice: the import modules name none of the
period-data models nor the gradebook's write path, and a real import of each kind while every period is
locked succeeds and leaves every row of period data — and the data audit events — exactly as it was. A
teacher an import newly assigns to a pair is refused by the lock like anyone else.
"""

from __future__ import annotations

import io
import pathlib
import re

from sqlmodel import select

import portal.imports
from portal.models import PERIODS, Assessment, GradePeriod, PeriodLock, StudentRecord, SubjectComment, UnlockRequest
from tests.enforcement import helpers
from tests.enforcement.helpers import data_events, reading
from tests.enforcement.paths import GridCell, HomeroomField, SubjectCommentField
from tests.imports.files import (
    ASSIGNMENT_HEADER,
    STUDENT_HEADER,
    TEACHER_HEADER,
    assignment,
    counts,
    csv_bytes,
    student,
    teacher,
)

PERIOD_DATA = (Assessment, SubjectComment, StudentRecord, GradePeriod, PeriodLock, UnlockRequest)


def period_data(app) -> dict[str, list[tuple]]:
    """Every row of every period-data table, as tuples of all its columns."""
    with reading(app) as session:
        return {model.__tablename__: [tuple(row.model_dump().values()) for row in
                                      session.exec(select(model).order_by(model.id))]
                for model in PERIOD_DATA}


def test_the_import_modules_name_no_period_data():
    names = "|".join(m.__name__ for m in PERIOD_DATA) + r"|gradebook|periods|save_cell|save_comment|save_record"
    folder = pathlib.Path(portal.imports.__file__).parent
    for source in sorted(folder.glob("*.py")):
        found = re.findall(rf"\b({names})\b", source.read_text(encoding="utf-8"))
        assert not found, f"{source.name} names {sorted(set(found))}"


def test_imports_of_every_kind_land_while_every_period_is_locked_and_touch_no_period_data(app, clock, client,
                                                                                           login_as):
    # Some period data, a grant and a pending request, then every period locked for the whole school.
    cell, comment, record = (GridCell(app, client, login_as), SubjectCommentField(app, client, login_as),
                             HomeroomField(app, client, login_as))
    for path in (cell, comment, record):
        assert path.write(path.values[0], path.students[0]).status == 200
    for code in PERIODS:
        helpers.lock(app, code, "school", "6A1")
    helpers.grant(app, clock, code="ck1", class_name="6A1", subject_code="toan", requester="hoant",
                  student_id=cell.students[1])
    helpers.request(app, code="ck2", class_name="6A1", subject_code="tinhoc", requester="tuanlm")
    before, events, rows = period_data(app), data_events(app), counts(app)

    admin = login_as("admin")
    files = {
        "students": csv_bytes(STUDENT_HEADER, [student("3710123497001", "001213197001", "Đỗ Thị Hồng", klass="6A1")]),
        "teachers": csv_bytes(TEACHER_HEADER, [teacher("giaovien.moi", "001190097001", "Hà Thu Trang")]),
        "assignments": csv_bytes(ASSIGNMENT_HEADER, [assignment("6A1", "tinhoc", "hoant")]),  # was tuanlm's
    }
    for kind, data in files.items():
        preview = admin.post("/quan-tri/nhap-du-lieu/xem-truoc", content_type="multipart/form-data",
                             data={"kind": kind, "file": (io.BytesIO(data), f"{kind}.csv")})
        html = preview.get_data(as_text=True)
        form = dict(re.findall(r'<input type="hidden" name="(kind|token|sha256)" value="([^"]*)"', html))
        done = admin.post("/quan-tri/nhap-du-lieu/ghi", data=form)
        assert done.status_code == 200, f"{kind}: the lock does not stop an import"

    after = counts(app)
    assert (after["students"], after["users"]) == (rows["students"] + 1, rows["users"] + 1)
    assert period_data(app) == before
    assert data_events(app) == events

    # The newly assigned teacher meets the lock like anyone (423); the one it replaced may not write at all.
    hoa_tin = GridCell(app, client, login_as, subject_code="tinhoc", slot="tx1", teacher="hoant")
    refused = hoa_tin.write("9", hoa_tin.students[0])
    assert refused.status == 423 and "Cuối học kì I" in refused.message
    tuan = login_as(username="tuanlm")
    response = tuan.post(f"/giang-day/{hoa_tin.class_id}/{hoa_tin.subject_id}/hk1/o", headers=helpers.HX,
                         data={"student_id": hoa_tin.students[0], "slot": "tx1", "value": "9", "version": 0})
    assert response.status_code == 403
    assert period_data(app) == before
