"""Homeroom read models: the class's year in a few queries, equal to the engine's per-student result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from portal.authz import Actor
from portal.db import engine_for
from portal.gradebook import rules
from portal.gradebook import service as gradebook
from portal.homeroom import service
from portal.models import Enrollment, Grade, SchoolClass, Subject, Term, User
from tests.factories import make_student, make_user
from tests.homeroom.data import demo_year, fill_subjects, set_record, set_retake, set_year


@pytest.fixture
def counted(app):
    """Count the SQL statements run on the app's engine."""
    statements = []

    def _count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "ROLLBACK", "COMMIT", "SAVEPOINT")):
            statements.append(statement)

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", _count)
    yield statements
    event.remove(engine, "before_cursor_execute", _count)


def test_class_year_equals_each_students_result(app_ctx, session, klass, roster):
    demo_year(session, klass, roster)
    book = service.load_class_year(session, class_id=klass.id)
    assert [item.student.id for item in book.students] == [s.id for s in roster]
    assert len(book.subjects) == 13 and not book.primary
    for item in book.students:
        assert item.result == gradebook.student_result(session, student_id=item.student.id, klass=klass)
    assert [book.students[i].result["decision"] for i in range(4)] == ["len_lop", "kiem_tra_lai", "o_lai", None]


def test_class_year_takes_a_few_queries_whatever_the_class_size(app_ctx, session, klass, roster, counted):
    demo_year(session, klass, roster)
    session.expire_all()
    counted.clear()
    service.load_class_year(session, class_id=klass.id)
    assert 3 <= len(counted) <= 8, counted


def test_overview_marks_what_is_missing(app_ctx, session, klass, roster):
    demo_year(session, klass, roster)
    set_record(session, klass, roster[5], "hk1", "conduct", "T")
    book = service.load_class_year(session, class_id=klass.id)
    view = service.build_overview(book, scope="year")
    good, retake, absent, empty = view.rows[:4]
    assert [c.text for c in good.subjects][:3] == ["9,5", "9,0", "8,0"]
    assert not any(c.missing for c in good.subjects)
    assert (good.learning.text, good.conduct.text, good.absences.text, good.decision.text) == (
        "Tốt", "Tốt", "3", "Được lên lớp")
    assert retake.learning.low and retake.subjects[0].low and retake.decision.text == "Kiểm tra lại"
    assert absent.absences.low and absent.decision.text == "Không được lên lớp" and absent.decision.low
    assert empty.gaps == 13 and empty.learning.missing == ["kết quả 13 môn học"]
    assert empty.subjects[0].title == ("Còn thiếu: đánh giá thường xuyên, giữa kì, cuối kì (HK I); "
                                       "đánh giá thường xuyên, giữa kì, cuối kì (HK II).")
    assert "số buổi nghỉ HK I, HK II" in empty.absences.missing
    assert "mức rèn luyện HK I" in empty.conduct.missing and "mức rèn luyện HK II" in empty.conduct.missing
    assert dict(view.learning_counts) == {"Tốt": 2, "Khá": 0, "Đạt": 0, "Chưa đạt": 1, "Chưa đủ dữ liệu": 27}
    assert dict(view.conduct_counts)["Chưa đủ dữ liệu"] == 27
    assert [(s.code, n) for s, _, n in view.subject_gaps][:2] == [("van", 27), ("toan", 27)]
    # A term: its own averages, the conduct as entered, only that term's absences.
    hk1 = service.build_overview(book, scope="hk1")
    assert (hk1.rows[0].conduct.text, hk1.rows[0].absences.text) == ("Khá", "1")
    assert hk1.rows[5].conduct.text == "Tốt" and not hk1.rows[5].conduct.missing
    assert hk1.rows[3].subjects[0].title == "Còn thiếu: đánh giá thường xuyên, giữa kì, cuối kì (HK I)."


def test_year_end_rows_follow_retakes_and_summer_training(app_ctx, session, klass, roster):
    demo_year(session, klass, roster)
    fill_subjects(session, klass, roster[4])
    set_year(session, klass, roster[4], conduct=("K", "CD"))
    book = service.load_class_year(session, class_id=klass.id)
    rows = service.build_year_end(book)
    assert [r.status for r in rows[:5]] == ["len_lop", "kiem_tra_lai", "o_lai", "thieu", "ren_luyen_he"]
    assert [(r.subject.code, r.year_value, r.value, r.teacher.username) for r in rows[1].retakes] == [
        ("van", "3,0", "", "lanhtt"), ("anh", "4,0", "", "ngocbt")]
    assert rows[4].training_due and rows[4].retrained.key == "conduct_retrained" and rows[4].conduct == "CD"
    assert rows[0].retrained is None and rows[0].award == "gioi"

    set_retake(session, klass, roster[1], "van", "4")
    row = service.year_end_row(book, service.load_class_year(session, class_id=klass.id).students[1])
    assert row.decision is None and [r.subject.code for r in row.retakes_pending] == ["anh"]
    assert row.status == "kiem_tra_lai"
    set_retake(session, klass, roster[1], "anh", "3")
    row = service.year_end_row(book, service.load_class_year(session, class_id=klass.id).students[1])
    assert row.learning_after_retake == "CD" and row.decision == "o_lai" and row.status == "o_lai"

    set_record(session, klass, roster[4], "year", "conduct_retrained", "K")
    row = service.year_end_row(book, service.load_class_year(session, class_id=klass.id).students[4])
    assert row.conduct_after_training == "K" and row.decision == "len_lop" and row.status == "len_lop"


def test_term_sheet_and_completeness(app_ctx, session, klass, roster):
    set_year(session, klass, roster[0])
    set_record(session, klass, roster[1], "hk1", "conduct", "D")
    book = service.load_class_year(session, class_id=klass.id)
    rows = service.build_term_sheet(book, term="hk1")
    assert [(e.key, e.kind) for e in rows[0].entries] == [
        ("conduct", "conduct"), ("absences_excused", "count"), ("absences_unexcused", "count")]
    assert [(e.value, e.version) for e in rows[1].entries] == [("D", 1), ("", 0), ("", 0)]
    assert rows[0].entries[0].dom_id == f"hr-{roster[0].id}-hk1-conduct"
    assert rows[0].entries[0].label.startswith("Rèn luyện Học kì I của ")
    complete = service.term_completeness(session, klass=klass, term="hk1")
    assert (complete.ratings, complete.absences, complete.total) == (2, 1, 30)
    assert service.term_completeness(session, klass=klass, term="hk2").ratings == 1


def test_current_term_follows_the_calendar(app_ctx, session, klass):
    terms = {t.code: t for t in session.exec(select(Term).where(Term.school_year_id == klass.school_year_id))}
    assert service.current_term(session, klass, terms["hk1"].start_date) == "hk1"
    assert service.current_term(session, klass, terms["hk2"].start_date) == "hk2"
    assert service.current_term(session, klass, terms["hk2"].end_date + timedelta(days=30)) == "hk2"
    assert service.current_term(session, klass, terms["hk1"].start_date - timedelta(days=30)) == "hk1"


# --- Primary (Circular 27) -------------------------------------------------------------------------------


@pytest.fixture
def primary(app, session, klass):
    """A grade 3 class (TT27) with two subjects and one student, led by a new homeroom teacher."""
    grade = Grade(number=3)
    session.add(grade)
    session.flush()
    session.add(Subject(grade_id=grade.id, code="toan", name="Toán", periods_per_year=175, kind="level",
                        has_periodic_test=True, position=1))
    session.add(Subject(grade_id=grade.id, code="dao_duc", name="Đạo đức", periods_per_year=35, kind="level",
                        position=2))
    with app.app_context():  # password hashing reads the app's settings
        teacher = make_user(session, username="gvtieuhoc", full_name="Trần Thị Tiểu Học")
    three = SchoolClass(school_year_id=klass.school_year_id, grade_id=grade.id, name="3A",
                        homeroom_teacher_id=teacher.id)
    session.add(three)
    session.commit()
    student = make_student(session)
    session.add(Enrollment(student_id=student.id, class_id=three.id, number=1))
    session.commit()
    return three, student, teacher


def test_primary_class_uses_qualities_and_competencies(app_ctx, session, primary):
    three, student, teacher = primary
    book = service.load_class_year(session, class_id=three.id)
    assert book.primary
    assert [k for k, _ in service.term_keys(book)] == [*rules.QUALITIES, *rules.COMPETENCIES,
                                                      "absences_excused", "absences_unexcused"]
    actor = Actor(session, session.get(User, teacher.id))
    for key in (*rules.QUALITIES, *rules.COMPETENCIES):
        gradebook.save_record(session=session, actor=actor, class_id=three.id, student_id=student.id, term="hk2",
                              key=key, raw="T", version=0)
    session.commit()
    book = service.load_class_year(session, class_id=three.id)
    row = service.build_overview(book, scope="year").rows[0]
    assert row.conduct.text == "Đủ 15 mục" and not row.conduct.missing
    assert row.subjects[0].missing == ["mức đạt được cuối năm", "điểm kiểm tra cuối năm"]
    assert row.learning.missing and row.decision.missing
    end = service.year_end_row(book, book.students[0])
    assert end.primary and end.retakes == [] and not end.training_due and end.retrained is None


def test_primary_views(login_as, session, primary):
    three, student, teacher = primary
    client = login_as(username="gvtieuhoc", password="Mat-khau-rat-kho-2026")
    page = client.get(f"/chu-nhiem/{three.id}/ren-luyen/hk1").get_data(as_text=True)
    assert "Lớp 3A · Phẩm chất, năng lực Học kì I" in page
    assert "Yêu nước" in page and "Giải quyết vấn đề và sáng tạo" in page
    assert page.count('hx-trigger="change"') == 17
    assert '<option value="CCG">CCG</option>' in page
    response = client.post(f"/chu-nhiem/{three.id}/ghi", headers={"HX-Request": "true"}, data={
        "student_id": student.id, "term": "hk1", "key": "yeu_nuoc", "value": "CCG", "version": 0})
    assert response.status_code == 200
    assert '<option value="CCG" selected>CCG</option>' in response.get_data(as_text=True)
    response = client.post(f"/chu-nhiem/{three.id}/ghi", headers={"HX-Request": "true"}, data={
        "student_id": student.id, "term": "hk1", "key": "conduct", "value": "T", "version": 0})
    assert response.status_code == 404  # no conduct level in primary
    assert client.get(f"/chu-nhiem/{three.id}").status_code == 200
    assert "Hoàn thành chương trình" in client.get(f"/chu-nhiem/{three.id}/cuoi-nam").get_data(as_text=True)
