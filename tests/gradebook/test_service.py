"""The gradebook's single write path and its sheet read model, on the demo school, without HTTP."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlmodel import func, select

from portal.authz import Actor
from portal.db import new_session
from portal.errors import Conflict, Forbidden, NotFound
from portal.gradebook import service
from portal.gradebook.service import CellRefused
from portal.home.service import current_year
from portal.models import Assessment, Enrollment, Subject, SubjectComment, TeachingAssignment, User
from tests.factories import current_class

ROW_HK1 = {"tx1": "8", "tx2": "7,5", "tx3": "9", "tx4": "8", "gk": "7,5", "ck": "8"}  # → 7.9 (ASSESSMENT.md)
ROW_HK2 = {"tx1": "6", "tx2": "6", "tx3": "6", "tx4": "6", "gk": "6", "ck": "6"}  # → 6.0; year (7.9 + 12) / 3 → 6.6


@pytest.fixture
def db(app):
    """A write session, as a POST request has (BEGIN IMMEDIATE on SQLite)."""
    with app.app_context(), new_session(write=True, app=app) as s:
        yield s


def actor(db, username: str) -> Actor:
    return Actor(db, db.exec(select(User).where(User.username == username)).one())


def pair_ids(db, class_name: str, code: str) -> dict:
    klass = current_class(db, class_name)
    subject = db.exec(select(Subject).where(Subject.grade_id == klass.grade_id, Subject.code == code)).one()
    return {"class_id": klass.id, "subject_id": subject.id}


def first_student(db, class_id: int) -> int:
    return service.class_roster(db, class_id)[0][1].id


def count_cells(app) -> int:
    with new_session(write=False, app=app) as s:
        return s.exec(select(func.count()).select_from(Assessment)).one()


def stored(app, student_id: int, subject_id: int, term: str, slot: str) -> Assessment | None:
    with new_session(write=False, app=app) as s:
        return s.exec(select(Assessment).where(Assessment.student_id == student_id, Assessment.subject_id == subject_id,
                                               Assessment.term == term, Assessment.slot == slot)).first()


# --- The columns of a sheet --------------------------------------------------------------------------------


@pytest.mark.parametrize(("class_name", "code", "codes", "kind"), [
    ("6A1", "toan", ["tx1", "tx2", "tx3", "tx4", "gk", "ck"], "score"),  # 140 periods → 4 regular
    ("6A1", "tinhoc", ["tx1", "tx2", "gk", "ck"], "score"),  # 35 periods → 2 regular
    ("8A1", "congnghe", ["tx1", "tx2", "tx3", "gk", "ck"], "score"),  # 52 periods → 3 regular
    ("6A1", "hdtn", ["tx1", "tx2", "tx3", "tx4", "gk", "ck"], "comment"),  # Đ/CĐ, 105 periods
])
def test_sheet_has_the_circulars_columns(db, class_name, code, codes, kind):
    sheet = service.load_sheet(db, **pair_ids(db, class_name, code), term="hk1")
    assert [s.code for s in sheet.slots] == codes
    assert {s.kind for s in sheet.slots} == {kind}
    assert len(sheet.rows) == 30 and sheet.total == 30 * len(codes) and sheet.filled == 0


# --- save_cell -------------------------------------------------------------------------------------------


def test_decimal_comma_is_stored_with_a_point_and_versions_count_up(app, db):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    cell = service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="tx1", raw="8,5",
                             version=0)
    db.commit()
    assert (cell.value, cell.version) == ("8.5", 1)
    cell = service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="tx1", raw=" 10 ",
                             version=1)
    db.commit()
    assert (cell.value, cell.version) == ("10", 2)
    assert stored(app, student, ids["subject_id"], "hk1", "tx1").value == "10"


@pytest.mark.parametrize(("raw", "message"), [
    ("11", "ngoài khoảng 0–10"),
    ("-1", "ngoài khoảng 0–10"),
    ("8.25", "quá một chữ số thập phân"),
    ("8,25", "quá một chữ số thập phân"),
    ("tám", "không phải là điểm hợp lệ"),
    ("Đ", "không phải là điểm hợp lệ"),  # a comment result in a score subject
])
def test_refused_scores_leave_the_saved_value(app, db, raw, message):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="gk", raw="8,5", version=0)
    db.commit()
    with pytest.raises(CellRefused, match=message) as refused:
        service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="gk", raw=raw, version=1)
    db.rollback()
    assert refused.value.status == 422
    cell = stored(app, student, ids["subject_id"], "hk1", "gk")
    assert (cell.value, cell.version) == ("8.5", 1)


@pytest.mark.parametrize(("raw", "value"), [("Đ", "D"), ("d", "D"), ("đạt", "D"), ("CĐ", "CD"), ("cd", "CD"),
                                            ("chưa đạt", "CD"), ("", "")])
def test_comment_subject_takes_dat_and_chua_dat(db, raw, value):
    ids = pair_ids(db, "6A1", "hdtn")
    student = first_student(db, ids["class_id"])
    cell = service.save_cell(session=db, actor=actor(db, "hoant"), **ids, term="hk1", student_id=student,
                             slot="tx1", raw=raw, version=0)
    assert cell.value == value


@pytest.mark.parametrize("raw", ["8", "T", "xong"])
def test_comment_subject_refuses_scores_and_other_words(db, raw):
    ids = pair_ids(db, "6A1", "hdtn")
    with pytest.raises(CellRefused, match="Đ \\(Đạt\\) hoặc CĐ \\(Chưa đạt\\)"):
        service.save_cell(session=db, actor=actor(db, "hoant"), **ids, term="hk1",
                          student_id=first_student(db, ids["class_id"]), slot="tx1", raw=raw, version=0)


def test_stale_version_is_refused_and_names_who_wrote_what(app, db):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="ck", raw="7", version=0)
    db.commit()
    # A second device saw the empty cell (version 0) and saves over it.
    with pytest.raises(Conflict, match="Nguyễn Thị Hoa vừa sửa ô này thành “7”") as stale:
        service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="ck", raw="9",
                          version=0)
    db.rollback()
    assert stale.value.status == 409
    # …and with an old version of an existing row.
    service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="ck", raw="7,5", version=1)
    db.commit()
    with pytest.raises(Conflict, match="“7,5”"):
        service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="ck", raw="9",
                          version=1)
    db.rollback()
    cell = stored(app, student, ids["subject_id"], "hk1", "ck")
    assert (cell.value, cell.version) == ("7.5", 2)


def test_concurrent_writers_of_one_cell_one_wins_the_other_is_told(app):
    """Two requests with the same version at the same moment: exactly one is stored, never both silently."""
    with app.app_context(), new_session(write=False, app=app) as s:
        ids = pair_ids(s, "6A1", "toan")
        student = first_student(s, ids["class_id"])
    barrier = threading.Barrier(2)
    outcomes = []

    def write(raw):
        with app.app_context(), new_session(write=True, app=app) as s:
            hoa = actor(s, "hoant")
            _ = hoa.teaching_pairs
            s.commit()
            barrier.wait()
            try:
                service.save_cell(session=s, actor=hoa, **ids, term="hk1", student_id=student, slot="tx2", raw=raw,
                                  version=0)
                s.commit()
                outcomes.append(("ok", raw))
            except Conflict:
                s.rollback()
                outcomes.append(("conflict", raw))

    threads = [threading.Thread(target=write, args=(raw,)) for raw in ("6", "9")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(kind for kind, _ in outcomes) == ["conflict", "ok"]
    winner = next(raw for kind, raw in outcomes if kind == "ok")
    cell = stored(app, student, ids["subject_id"], "hk1", "tx2")
    assert (cell.value, cell.version) == (winner, 1)


# --- Scope ---------------------------------------------------------------------------------------------


def test_teacher_cannot_write_a_pair_not_assigned(app, db):
    before = count_cells(app)
    ids = pair_ids(db, "6A1", "toan")  # hoant's
    with pytest.raises(Forbidden, match="không được phân công"):
        service.save_cell(session=db, actor=actor(db, "tuanlm"), **ids, term="hk1",
                          student_id=first_student(db, ids["class_id"]), slot="tx1", raw="5", version=0)
    with pytest.raises(Forbidden):
        service.save_comment(session=db, actor=actor(db, "tuanlm"), **ids, term="hk1",
                             student_id=first_student(db, ids["class_id"]), text="x", version=0)
    db.rollback()
    assert count_cells(app) == before


def test_student_of_another_class_is_not_found(app, db):
    ids = pair_ids(db, "6A1", "toan")
    outsider = first_student(db, current_class(db, "9A2").id)
    with pytest.raises(NotFound, match="không thuộc lớp"):
        service.save_cell(session=db, actor=actor(db, "hoant"), **ids, term="hk1", student_id=outsider, slot="tx1",
                          raw="5", version=0)


def test_student_who_left_the_class_is_not_found(app, db):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    enrollment = db.exec(select(Enrollment).where(Enrollment.student_id == student,
                                                  Enrollment.class_id == ids["class_id"])).one()
    enrollment.left_on = date.today()
    db.add(enrollment)
    db.flush()
    with pytest.raises(NotFound):
        service.save_cell(session=db, actor=actor(db, "hoant"), **ids, term="hk1", student_id=student, slot="tx1",
                          raw="5", version=0)


@pytest.mark.parametrize(("code", "slot", "term"), [("tinhoc", "tx3", "hk1"), ("toan", "tx5", "hk1"),
                                                    ("toan", "tx1", "hk3"), ("toan", "", "hk1")])
def test_unknown_slot_or_term_is_not_found(db, code, slot, term):
    ids = pair_ids(db, "6A1", code)
    teacher = "tuanlm" if code == "tinhoc" else "hoant"
    with pytest.raises(NotFound):
        service.save_cell(session=db, actor=actor(db, teacher), **ids, term=term,
                          student_id=first_student(db, ids["class_id"]), slot=slot, raw="5", version=0)


def test_subject_of_another_grade_is_not_found(db):
    klass = current_class(db, "6A1")
    toan9 = db.exec(select(Subject).join(TeachingAssignment, TeachingAssignment.subject_id == Subject.id)
                    .where(Subject.code == "toan", Subject.grade_id != klass.grade_id)).first()
    with pytest.raises(NotFound):
        service.save_cell(session=db, actor=actor(db, "hoant"), class_id=klass.id, subject_id=toan9.id, term="hk1",
                          student_id=first_student(db, klass.id), slot="tx1", raw="5", version=0)


# --- Results on the sheet --------------------------------------------------------------------------------


def fill(db, who: Actor, ids: dict, student: int, term: str, values: dict[str, str]) -> None:
    for slot, raw in values.items():
        service.save_cell(session=db, actor=who, **ids, term=term, student_id=student, slot=slot, raw=raw, version=0)
    db.commit()


def test_sheet_computes_term_and_year_averages(db):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    fill(db, hoa, ids, student, "hk1", dict(list(ROW_HK1.items())[:5]))
    row = service.load_sheet(db, **ids, term="hk1").rows[0]
    assert (row.student.id, row.average, row.missing) == (student, None, 1)  # CK missing: no average, never 0
    fill(db, hoa, ids, student, "hk1", {"ck": ROW_HK1["ck"]})
    sheet = service.load_sheet(db, **ids, term="hk1")
    assert (sheet.rows[0].average, sheet.rows[0].year, sheet.rows[0].missing) == ("7.9", None, 0)
    assert sheet.filled == 6
    fill(db, hoa, ids, student, "hk2", ROW_HK2)
    row = service.load_sheet(db, **ids, term="hk2").rows[0]
    assert (row.average, row.year) == ("6.0", "6.6")


def test_comment_subject_result_is_dat_only_when_every_assessment_is(db):
    ids = pair_ids(db, "6A1", "hdtn")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    fill(db, hoa, ids, student, "hk1", {s: "d" for s in ("tx1", "tx2", "tx3", "tx4", "gk", "ck")})
    assert service.load_sheet(db, **ids, term="hk1").rows[0].average == "D"
    service.save_cell(session=db, actor=hoa, **ids, term="hk1", student_id=student, slot="gk", raw="cd", version=1)
    db.commit()
    assert service.load_sheet(db, **ids, term="hk1").rows[0].average == "CD"


# --- save_comment ----------------------------------------------------------------------------------------


def test_comment_is_stored_trimmed_and_versioned(db):
    ids = pair_ids(db, "6A1", "toan")
    student = first_student(db, ids["class_id"])
    hoa = actor(db, "hoant")
    comment = service.save_comment(session=db, actor=hoa, **ids, term="hk1", student_id=student,
                                   text="  Chăm chỉ,\n tiến bộ  ", version=0)
    db.commit()
    assert (comment.text, comment.version) == ("Chăm chỉ, tiến bộ", 1)
    with pytest.raises(Conflict):
        service.save_comment(session=db, actor=hoa, **ids, term="hk1", student_id=student, text="khác", version=0)
    db.rollback()
    with pytest.raises(CellRefused, match="1000"):
        service.save_comment(session=db, actor=hoa, **ids, term="hk1", student_id=student, text="x" * 1001,
                             version=1)
    db.rollback()
    assert db.exec(select(SubjectComment.text).where(SubjectComment.student_id == student)).one() == "Chăm chỉ, tiến bộ"


def test_teacher_pairs_are_this_years_assignments(db):
    year = current_year(db)
    pairs = service.teacher_pairs(db, actor=actor(db, "hoant"), year=year)
    assert [(c.name, s.code) for c, s in pairs] == [
        ("6A1", "toan"), ("6A1", "hdtn"), ("6A2", "toan"), ("7A1", "toan"), ("7A2", "toan")]
    assert len(service.teacher_pairs(db, actor=actor(db, "tuanlm"), year=year)) == 8
