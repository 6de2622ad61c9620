"""A complete school year of plausible assessments for a class, for the demo school and the tests.

`fill_class_year` writes every cell the law needs (regular, mid-term and end-of-term assessments of every
subject, HK I and HK II), the homeroom records (conduct, absences, TT27 qualities and competencies),
subject comments and a homeroom comment, deterministically from a seed. It writes rows directly (it is a
data generator for a past year, not a teacher's edit), so it skips the period locks on purpose.
"""

from __future__ import annotations

import random

from sqlmodel import Session, select

from portal.gradebook import rules
from portal.gradebook.service import class_roster
from portal.models import Assessment, Grade, SchoolClass, StudentRecord, Subject, SubjectComment, TeachingAssignment

GOOD = ["Tiếp thu bài tốt, tích cực phát biểu xây dựng bài.",
        "Có ý thức tự học, hoàn thành tốt các nhiệm vụ học tập.",
        "Nắm vững kiến thức cơ bản, vận dụng linh hoạt vào bài tập.",
        "Chăm chỉ, cẩn thận, tiến bộ rõ rệt trong học kì II."]
FAIR = ["Nắm được kiến thức cơ bản, cần rèn thêm kĩ năng trình bày.", "Có cố gắng, cần chủ động hơn khi học nhóm.",
        "Tiến bộ so với học kì I, cần luyện tập thêm ở nhà."]
HOMEROOM = ["Ngoan, lễ phép, đoàn kết với bạn bè; học tập chăm chỉ, có tinh thần trách nhiệm.",
            "Chấp hành tốt nội quy lớp học, tích cực tham gia các hoạt động của trường.",
            "Hòa đồng, trung thực; cần mạnh dạn hơn khi phát biểu ý kiến."]


def _score(rng: random.Random, base: float) -> str:
    value = max(3.0, min(10.0, rng.gauss(base, 0.9)))
    return str(round(value * 2) / 2).removesuffix(".0")


def fill_class_year(session: Session, klass: SchoolClass, *, seed: int = 2025) -> int:
    """Fill the class's whole year for every student on its roll; return the number of students filled."""
    rng = random.Random(seed + klass.id)
    grade = session.get(Grade, klass.grade_id)
    subjects = session.exec(select(Subject).where(Subject.grade_id == grade.id).order_by(Subject.position)).all()
    teachers = {a.subject_id: a.teacher_id for a in session.exec(
        select(TeachingAssignment).where(TeachingAssignment.class_id == klass.id))}
    writer = klass.homeroom_teacher_id or next(iter(teachers.values()))
    roster = class_roster(session, klass.id, include_left=True)
    year_id = klass.school_year_id
    for _enrollment, student in roster:
        base = rng.uniform(6.3, 9.3)
        strong = base >= 8.0

        def cell(subject, term, slot, value, *, _student=student):
            session.add(Assessment(student_id=_student.id, subject_id=subject.id, school_year_id=year_id,
                                   class_id=klass.id, term=term, slot=slot, value=value,
                                   updated_by=teachers.get(subject.id, writer)))

        def record(term, key, value, *, _student=student):
            session.add(StudentRecord(student_id=_student.id, school_year_id=year_id, class_id=klass.id, term=term,
                                      key=key, value=value, updated_by=writer))

        for subject in subjects:
            for term in ("hk1", "hk2"):
                for slot in rules.term_slots(subject_kind=subject.kind, periods_per_year=subject.periods_per_year,
                                             grade=grade.number, subject_code=subject.code,
                                             has_periodic_test=subject.has_periodic_test, term=term):
                    if slot.kind == "score":
                        value = _score(rng, base)
                    elif slot.kind == "comment":
                        value = "D"
                    elif slot.kind == "level":
                        value = "HTT" if strong or rng.random() < 0.3 else "HT"
                    else:  # periodic test: integer 1–10
                        value = str(max(5, min(10, round(rng.gauss(base, 1.0)))))
                    cell(subject, term, slot.code, value)
                if grade.number >= 6 or term == "hk2":
                    session.add(SubjectComment(student_id=student.id, subject_id=subject.id, school_year_id=year_id,
                                               class_id=klass.id, term=term,
                                               text=rng.choice(GOOD if strong else FAIR),
                                               updated_by=teachers.get(subject.id, writer)))
        for term in ("hk1", "hk2"):
            if grade.number >= 6:
                record(term, "conduct", "T" if strong or rng.random() < 0.6 else "K")
            else:
                for key in (*rules.QUALITY_LABELS, *rules.COMPETENCY_LABELS):
                    record(term, key, "T" if strong or rng.random() < 0.4 else "D")
            record(term, "absences_excused", str(rng.choice([0, 0, 0, 1, 2])))
            record(term, "absences_unexcused", str(rng.choice([0, 0, 0, 0, 1])))
        record("year", "homeroom_comment", rng.choice(HOMEROOM))
        if grade.number <= 5:
            record("year", "comment_qualities", "Ngoan ngoãn, lễ phép, biết giúp đỡ bạn bè.")
            record("year", "comment_general", "Tự giác học tập, biết hợp tác trong nhóm.")
            record("year", "comment_specific", "Đọc lưu loát, tính toán nhanh và chính xác.")
    session.flush()
    return len(roster)


def release_demo_class(app, *, class_name: str = "6A1", limit: int | None = None, echo=None) -> int:
    """Fill last year's class with a complete year (if empty), then prepare, sign in the legal order and release
    its transcripts, when that class has none. Used by `flask setup` for the demo school; returns the number of
    transcripts released now.
    """
    from portal.authz import Actor
    from portal.db import new_session, write_session
    from portal.models import SchoolYear, Transcript, User, UserRole
    from portal.transcripts import service

    with app.app_context():
        with new_session(write=False, app=app) as session:
            previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))
                                    .order_by(SchoolYear.start_date.desc())).first()
            klass = previous and session.exec(select(SchoolClass).where(
                SchoolClass.school_year_id == previous.id, SchoolClass.name == class_name)).first()
            if klass is None or session.exec(select(Transcript.id).where(Transcript.class_id == klass.id)).first():
                return 0
            filled = session.exec(select(Assessment.id).where(Assessment.class_id == klass.id)).first()
            principal_id = session.exec(select(UserRole.user_id).where(UserRole.role == "principal")).first()
            students = [s.id for _, s in class_roster(session, klass.id, include_left=True)][:limit]
            locked, _why = service.year_locked(session, klass)
        if principal_id is None or not locked:
            return 0
        if not filled:
            with write_session(app) as session:
                fill_class_year(session, session.get(SchoolClass, klass.id))
        released = 0
        for index, student_id in enumerate(students, start=1):
            with write_session(app) as session:
                actor = Actor(session, session.get(User, principal_id))
                transcript_id = service.prepare(session, actor=actor, student_id=student_id,
                                                school_year_id=klass.school_year_id, app=app).transcript.id
            sign_in_order(app, transcript_id)
            with write_session(app) as session:
                actor = Actor(session, session.get(User, principal_id))
                service.release(session, actor=actor, transcript_id=transcript_id, app=app)
            released += 1
            if echo:
                echo(f"  học bạ {index}/{len(students)} lớp {class_name} năm {previous.name}: đã ký và phát hành")
        return released


def sign_in_order(app, transcript_id: int) -> None:
    """Have every signer sign, stage by stage, as each would from their signing queue (demo and benchmarks)."""
    from portal.db import new_session
    from portal.transcripts import service

    while True:
        with new_session(write=False, app=app) as session:
            waiting = service.waiting_for(service.signatures_of(session, transcript_id))
        if not waiting:
            return
        for user_id in dict.fromkeys(s.user_id for s in waiting if s.user_id is not None):
            service.sign_for(user_id=user_id, transcript_id=transcript_id, app=app)
