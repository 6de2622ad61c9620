"""Queries over classes and students shared by the school views."""

from __future__ import annotations

import json

from sqlalchemy import or_
from sqlmodel import Session, select

from portal.models import (
    Enrollment,
    Grade,
    Guardian,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentGuardian,
    TransferredDocument,
    User,
)


def year_classes(session: Session, year: SchoolYear | None):
    """Return (class, grade, homeroom teacher or None) for every class of the year, in grade order."""
    if year is None:
        return []
    return session.exec(
        select(SchoolClass, Grade, User)
        .join(Grade, Grade.id == SchoolClass.grade_id)
        .outerjoin(User, User.id == SchoolClass.homeroom_teacher_id)
        .where(SchoolClass.school_year_id == year.id)
        .order_by(Grade.number, SchoolClass.name)
    ).all()


def class_students(session: Session, class_id: int):
    """Return (enrollment, student) of the students currently in the class, by number then name."""
    return session.exec(
        select(Enrollment, Student)
        .join(Student, Student.id == Enrollment.student_id)
        .where(Enrollment.class_id == class_id, Enrollment.left_on.is_(None))
        .order_by(Enrollment.number, Student.full_name)
    ).all()


def search_students(session: Session, *, query: str, limit: int):
    """Find students by code, personal id or part of the name; return (student, current class name)."""
    current = select(SchoolYear.id).where(SchoolYear.is_current).scalar_subquery()
    placed = (
        select(Enrollment.student_id.label("student_id"), SchoolClass.name.label("class_name"))
        .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(SchoolClass.school_year_id == current, Enrollment.left_on.is_(None))
        .subquery()
    )
    stmt = (
        select(Student, placed.c.class_name)
        .outerjoin(placed, placed.c.student_id == Student.id)
        .order_by(placed.c.class_name.nulls_last(), Student.full_name)
        .limit(limit)
    )
    if query:
        like = f"%{query}%"
        stmt = stmt.where(
            or_(Student.full_name.ilike(like), Student.student_code == query, Student.personal_id == query)
        )
    return session.exec(stmt).all()


def student_history(session: Session, student_id: int):
    """Return (year, class) of every enrollment of the student, oldest first."""
    return session.exec(
        select(SchoolYear, SchoolClass)
        .join(SchoolClass, SchoolClass.school_year_id == SchoolYear.id)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .where(Enrollment.student_id == student_id)
        .order_by(SchoolYear.start_date)
    ).all()


def learning_history(session: Session, student_id: int, transferred: list[dict]) -> list[dict]:
    """The years the student studied, oldest first: at other schools (from the transcripts they brought, each
    year and class once) and here (enrollments): {year, class_name, school}."""
    here = session.exec(select(School.name)).first() or ""
    rows = {(d["year"], d["class_name"], d["school"]): None for d in transferred}
    rows.update({(year.name, klass.name, here): None for year, klass in student_history(session, student_id)})
    return [{"year": year, "class_name": class_name, "school": school}
            for year, class_name, school in sorted(rows, key=lambda row: row[0])]


def student_guardians(session: Session, student_id: int):
    return session.exec(
        select(Guardian).join(StudentGuardian, StudentGuardian.guardian_id == Guardian.id)
        .where(StudentGuardian.student_id == student_id)
    ).all()


def transferred_documents(session: Session, student_id: int) -> list[dict]:
    """The signed transcripts the student brought from other schools (without their bytes), oldest year first."""
    rows = session.exec(
        select(TransferredDocument.id, TransferredDocument.school_year, TransferredDocument.class_name,
               TransferredDocument.source_school, TransferredDocument.version, TransferredDocument.pdf_sha256,
               TransferredDocument.imported_at, TransferredDocument.report)
        .where(TransferredDocument.student_id == student_id)
        .order_by(TransferredDocument.school_year, TransferredDocument.version)).all()
    out = []
    for doc_id, year, class_name, school, version, sha, imported_at, report in rows:
        try:
            checked = json.loads(report or "{}")
        except ValueError:
            checked = {}
        out.append({"id": doc_id, "year": year, "class_name": class_name, "school": school, "version": version,
                    "sha256": sha, "imported_at": imported_at, "revoked": checked.get("status") == "revoked",
                    "verified": checked.get("ok") is True})
    return out
