"""Review services: flags (add, resolve, list), the department overview, class and school summaries."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import event
from sqlmodel import select

from portal import curriculum
from portal.errors import Conflict, Forbidden, NotFound
from portal.gradebook.service import load_sheet, student_result
from portal.models import Enrollment, Flag, Grade, SchoolClass, Subject, TeachingAssignment
from portal.review import service
from tests.factories import make_student, make_user
from tests.review.helpers import actor, current_class, fill_student, roster, subject


@pytest.fixture
def class_6a1(session):
    return current_class(session, "6A1")


def _flag(session, klass, code="toan", term="hk1", **kwargs):
    args = {"note": "Điểm TX1 cần xem lại.", **kwargs}
    flag = service.add_flag(session=session, actor=actor(session, "vinhtd"), class_id=klass.id,
                            subject_id=subject(session, klass, code).id, term=term, **args)
    session.commit()
    return flag


# --- Flags ---------------------------------------------------------------------------------------------


def test_add_flag_on_a_cell_stores_who_what_and_where(session, class_6a1):
    student = roster(session, class_6a1)[2]
    flag = _flag(session, class_6a1, student_id=student.id, slot="tx1", note="  Điểm TX1   thấp bất thường.  ")
    stored = session.get(Flag, flag.id)
    assert (stored.class_id, stored.subject_id, stored.term) == (class_6a1.id, subject(session, class_6a1, "toan").id,
                                                                "hk1")
    assert (stored.student_id, stored.slot, stored.status) == (student.id, "tx1", "open")
    assert stored.note == "Điểm TX1 thấp bất thường."
    assert stored.created_by == actor(session, "vinhtd").id


@pytest.mark.parametrize("kwargs, message", [
    ({"note": ""}, "Vui lòng nhập nội dung ghi chú"),
    ({"note": "   \n  "}, "Vui lòng nhập nội dung ghi chú"),
    ({"note": "x" * 1001}, "vượt quá 1000 ký tự"),
    ({"slot": "tx1"}, "Hãy chọn học sinh"),
])
def test_add_flag_refuses_bad_input_in_vietnamese_and_writes_nothing(session, class_6a1, kwargs, message):
    with pytest.raises(service.FlagRefused, match=message) as exc:
        _flag(session, class_6a1, **kwargs)
    assert exc.value.status == 422
    session.rollback()
    assert session.exec(select(Flag)).all() == []


def test_add_flag_accepts_exactly_1000_characters(session, class_6a1):
    assert len(_flag(session, class_6a1, note="y" * 1000).note) == 1000


def test_add_flag_refuses_a_slot_the_sheet_does_not_have(session, class_6a1):
    student = roster(session, class_6a1)[0]
    # Tin học has 35 periods a year: two regular assessments, no TX3.
    with pytest.raises(service.FlagRefused, match="Ô điểm"):
        _flag(session, class_6a1, code="tinhoc", student_id=student.id, slot="tx3")


def test_add_flag_refuses_a_student_of_another_class(session, class_6a1):
    other = roster(session, current_class(session, "9A2"))[0]
    with pytest.raises(NotFound):
        _flag(session, class_6a1, student_id=other.id)


@pytest.mark.parametrize("username, code", [("vinhtd", "van"), ("hieutruong", "toan"), ("hoant", "toan")])
def test_only_the_subjects_department_head_may_flag(session, class_6a1, username, code):
    with pytest.raises(Forbidden):
        service.add_flag(session=session, actor=actor(session, username), class_id=class_6a1.id,
                         subject_id=subject(session, class_6a1, code).id, term="hk1", note="Xem lại")


def test_the_assigned_teacher_resolves_a_flag(session, class_6a1):
    flag = _flag(session, class_6a1)
    done = service.resolve_flag(session=session, actor=actor(session, "hoant"), flag_id=flag.id,
                                resolution="Đã sửa điểm TX1.")
    session.commit()
    assert done.status == "resolved"
    assert done.resolved_by == actor(session, "hoant").id
    assert done.resolved_at is not None
    assert done.resolution == "Đã sửa điểm TX1."


def test_the_department_head_may_close_his_flag_without_a_resolution(session, class_6a1):
    flag = _flag(session, class_6a1)
    done = service.resolve_flag(session=session, actor=actor(session, "vinhtd"), flag_id=flag.id)
    assert (done.status, done.resolution) == ("resolved", None)


@pytest.mark.parametrize("username", ["tuanlm", "dungpv", "hieutruong", "lanhtt"])
def test_other_people_cannot_resolve(session, class_6a1, username):
    # tuanlm teaches Tin học to 6A1 and dungpv teaches Toán to other classes: neither teaches Toán 6A1.
    flag = _flag(session, class_6a1)
    with pytest.raises(Forbidden):
        service.resolve_flag(session=session, actor=actor(session, username), flag_id=flag.id)
    session.rollback()
    assert session.get(Flag, flag.id).status == "open"


def test_a_flag_is_resolved_once(session, class_6a1):
    flag = _flag(session, class_6a1)
    service.resolve_flag(session=session, actor=actor(session, "hoant"), flag_id=flag.id)
    session.commit()
    with pytest.raises(Conflict):
        service.resolve_flag(session=session, actor=actor(session, "vinhtd"), flag_id=flag.id)


def test_resolve_flag_validates(session, class_6a1):
    flag = _flag(session, class_6a1)
    with pytest.raises(service.FlagRefused):
        service.resolve_flag(session=session, actor=actor(session, "hoant"), flag_id=flag.id, resolution="z" * 1001)
    with pytest.raises(NotFound):
        service.resolve_flag(session=session, actor=actor(session, "hoant"), flag_id=flag.id + 999)


def test_open_flags_lists_a_sheets_open_flags_oldest_first(session, class_6a1):
    first = _flag(session, class_6a1, note="Một")
    second = _flag(session, class_6a1, note="Hai")
    closed = _flag(session, class_6a1, note="Ba")
    _flag(session, class_6a1, term="hk2", note="Kì khác")
    _flag(session, class_6a1, code="tinhoc", note="Môn khác")
    service.resolve_flag(session=session, actor=actor(session, "hoant"), flag_id=closed.id)
    session.commit()
    flags = service.open_flags(session, class_id=class_6a1.id, subject_id=subject(session, class_6a1, "toan").id,
                               term="hk1")
    assert [f.id for f in flags] == [first.id, second.id]


def test_describe_flags_names_the_target(session, class_6a1):
    student = roster(session, class_6a1)[0]
    cell = _flag(session, class_6a1, student_id=student.id, slot="gk")
    row = _flag(session, class_6a1, student_id=student.id)
    whole = _flag(session, class_6a1)
    views = {v.flag.id: v for v in service.describe_flags(session, [cell, row, whole])}
    assert views[cell.id].target == f"{student.full_name} · ô GK"
    assert views[row.id].target == student.full_name
    assert views[whole.id].target == "Cả bảng điểm"
    assert views[cell.id].author == "Trịnh Đức Vinh"


# --- Department overview --------------------------------------------------------------------------------


def test_department_overview_lists_the_departments_subjects_by_class_with_completeness(session, class_6a1):
    students = roster(session, class_6a1)
    fill_student(session, class_6a1, students[0])
    _flag(session, class_6a1)
    _flag(session, class_6a1, term="hk2")
    year, views = service.department_overview(session, actor=actor(session, "vinhtd"))
    assert [v.department.name for v in views] == ["Tổ Toán – Tin"]
    groups = {g.name: g for g in views[0].groups}
    assert set(groups) == {"Toán", "Tin học"}
    assert [p.klass.name for p in groups["Toán"].pairs] == ["6A1", "6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]
    pair = groups["Toán"].pairs[0]
    assert pair.teacher == "Nguyễn Thị Hoa"
    assert pair.open_flags == 2
    for term in ("hk1", "hk2"):
        sheet = load_sheet(session, class_id=class_6a1.id, subject_id=pair.subject.id, term=term)
        assert (pair.filled[term], pair.total[term]) == (sheet.filled, sheet.total) == (6, 180)
    tin = groups["Tin học"].pairs[0]
    assert (tin.filled["hk1"], tin.total["hk1"]) == (4, 120)  # 35 periods: TX1, TX2, GK, CK
    assert groups["Toán"].pairs[1].filled["hk1"] == 0


def test_department_overview_is_empty_for_someone_heading_nothing(session):
    _, views = service.department_overview(session, actor=actor(session, "hoant"))
    assert views == []


# --- Summaries -------------------------------------------------------------------------------------------


@pytest.fixture
def filled_6a1(session, class_6a1):
    """Four students of 6A1 with a whole year entered; the other 26 have nothing."""
    s = roster(session, class_6a1)
    fill_student(session, class_6a1, s[0], score="9", conduct=("T", "T"))  # Tốt, Xuất sắc
    fill_student(session, class_6a1, s[1], score="7", conduct=("K", "K"), absences=(2, 1, 0, 3))  # Khá
    fill_student(session, class_6a1, s[2], score="4", conduct=("T", "D"))  # Chưa đạt → kiểm tra lại
    fill_student(session, class_6a1, s[3], score="8", conduct=("T", None))  # no conduct for HK II
    return class_6a1, s


def test_class_counts_match_the_engine_student_by_student(session, filled_6a1):
    klass, students = filled_6a1
    results = service.class_results(session, klass=klass)
    assert [line.student.id for line in results.lines] == [s.id for s in students]
    by_engine = [student_result(session, student_id=s.id, klass=klass) for s in students]
    for line, engine in zip(results.lines, by_engine, strict=True):
        assert line.result == engine
    for term in ("hk1", "hk2", "year"):
        counts = service.count_class(results, term)
        assert counts.size == 30
        assert counts.learning == Counter(r["learning"][term] for r in by_engine)
    year = service.count_class(results, "year")
    assert year.conduct == Counter(r["conduct"]["year"] for r in by_engine)
    assert year.decision == Counter(r["decision"] for r in by_engine)
    assert year.award == Counter(r["award"] for r in by_engine if r["award"])


def test_class_counts_per_level(session, filled_6a1):
    klass, _ = filled_6a1
    results = service.class_results(session, klass=klass)
    year = service.count_class(results, "year")
    assert dict(year.learning) == {"T": 2, "K": 1, "CD": 1, None: 26}
    assert dict(year.conduct) == {"T": 1, "K": 2, None: 27}  # T/D gives K for the year
    assert dict(year.decision) == {"len_lop": 2, "kiem_tra_lai": 1, None: 27}
    assert dict(year.award) == {"xuat_sac": 1}
    hk1 = service.count_class(results, "hk1")
    assert dict(hk1.conduct) == {"T": 3, "K": 1, None: 26}
    assert dict(hk1.learning) == {"T": 2, "K": 1, "CD": 1, None: 26}
    assert not hk1.decision and not hk1.award  # decided for the year only
    hk2 = service.count_class(results, "hk2")
    assert dict(hk2.conduct) == {"T": 1, "K": 1, "D": 1, None: 27}
    line = results.lines[1]
    assert line.absences("hk1") == (2, 1) and line.absences("year") == (2, 4)
    assert results.lines[4].absences("year") == (None, None)
    assert line.subject("toan", "year") == "7.0" and line.subject("gdtc", "hk1") == "D"


def test_school_summary_totals_per_grade_and_school(session, filled_6a1):
    summary = service.school_summary(session, term="year")
    assert [g.grade.number for g in summary.grades] == [6, 7, 8, 9]
    assert [c.klass.name for c in summary.grades[0].classes] == ["6A1", "6A2"]
    assert summary.total.size == 240
    six = summary.grades[0].total
    assert six.size == 60
    assert dict(six.learning) == {"T": 2, "K": 1, "CD": 1, None: 56}
    assert summary.total.learning[None] == 236
    assert summary.total.award["xuat_sac"] == 1
    assert summary.total_of(summary.secondary).size == 240 and summary.primary == []


def test_school_summary_loads_each_class_in_a_few_queries(app, session, filled_6a1):
    """Not 240 students × per-student queries: a bounded number of statements per class."""
    from portal.db import engine_for

    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        service.school_summary(session, term="year")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 8 * 4 + 10, len(statements)


@pytest.fixture
def primary_class(session, app_ctx):
    """A grade-5 class (Circular 27) in this year, one teacher for every subject, three students."""
    year_id = current_class(session, "6A1").school_year_id
    grade = Grade(number=5)
    session.add(grade)
    session.flush()
    teacher = make_user(session, full_name="Cô Giáo Tiểu Học")
    klass = SchoolClass(school_year_id=year_id, grade_id=grade.id, name="5A1", homeroom_teacher_id=teacher.id)
    session.add(klass)
    session.flush()
    for position, item in enumerate(curriculum.subjects_for_grade(5)):
        subj = Subject(grade_id=grade.id, code=item.code, name=item.name, periods_per_year=item.periods_per_year,
                       kind=item.kind, has_periodic_test=item.has_periodic_test, position=position)
        session.add(subj)
        session.flush()
        session.add(TeachingAssignment(class_id=klass.id, subject_id=subj.id, teacher_id=teacher.id))
    session.commit()
    students = []
    for n in range(3):
        student = make_student(session, date_of_birth=date(2015, 1, 1))
        session.add(Enrollment(student_id=student.id, class_id=klass.id, number=n + 1))
        students.append(student)
    session.commit()
    return klass, students


def test_primary_classes_count_the_overall_result(session, primary_class):
    klass, students = primary_class
    fill_student(session, klass, students[0], level="HTT", test="10", rating="T")  # Hoàn thành xuất sắc
    fill_student(session, klass, students[1], level="HT", test="6", rating="D")  # Hoàn thành
    summary = service.school_summary(session, term="year")
    assert [g.grade.number for g in summary.primary] == [5]
    counts = summary.primary[0].total
    assert dict(counts.overall) == {"HTXS": 1, "HT": 1, None: 1}
    assert dict(counts.award) == {"xuat_sac": 1}
    assert summary.total_of(summary.secondary).size == 240
    assert service.summary_tables("hk1", primary=True) == []


def test_default_term_follows_the_calendar(session):
    year = service.current_year(session)
    start = year.start_date
    assert service.default_term(session, year, date(start.year, 10, 1)) == "hk1"
    assert service.default_term(session, year, date(start.year + 1, 3, 1)) == "hk2"
    assert service.default_term(session, year, date(start.year + 1, 7, 1)) == "year"


def test_decision_labels_in_a_final_grade():
    assert service.decision_label("len_lop", 9) == "Hoàn thành chương trình THCS"
    assert service.decision_label("len_lop", 8) == "Được lên lớp"
    assert service.decision_label(None) == "Chưa xác định"
