"""Read the audit trail for the principal: filtered pages (newest first), names for ids, CSV, chain check."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, select

from portal import audit
from portal.audit_trail import rules
from portal.audit_trail.rules import Filters
from portal.models import PERIODS, AuditEvent, SchoolClass, SchoolYear, Student, Subject, User

CSV_COLUMNS = (*audit.FIELDS, "prev_hash", "hash")
CSV_CHUNK = 2_000
MATCH_LIMIT = 1_000  # people or students a search may name; more means the search is too wide


def parse_filters(args) -> Filters:
    return rules.parse_filters(args, periods=PERIODS, actions=audit.ACTIONS)


def _conditions(f: Filters) -> list:
    """WHERE clauses of the filters (people and students matched by name or code through sub-selects)."""
    conditions = []
    if f.person:
        like = f"%{f.person}%"
        people = (select(User.id).where(or_(User.full_name.ilike(like), User.username == f.person.lower()))
                  .limit(MATCH_LIMIT))
        conditions.append(AuditEvent.actor_id.in_(people))
    if f.student:
        like = f"%{f.student}%"
        students = (select(Student.id).where(or_(Student.full_name.ilike(like), Student.student_code == f.student))
                    .limit(MATCH_LIMIT))
        conditions.append(AuditEvent.student_id.in_(students))
    if f.class_id is not None:
        conditions.append(AuditEvent.class_id == f.class_id)
    if f.period:
        conditions.append(AuditEvent.period == f.period)
    if f.action:
        conditions.append(AuditEvent.action == f.action)
    start, end = rules.day_bounds_utc(f.since, f.until)
    if start:
        conditions.append(AuditEvent.at >= start)
    if end:
        conditions.append(AuditEvent.at < end)
    return conditions


@dataclass
class Page:
    events: list[AuditEvent]
    older: int | None  # the cursor of the next (older) page, None on the last one
    newer: int | None  # the cursor of the previous (newer) page, None on the first one


def _exists(session: Session, conditions: list, *extra) -> bool:
    return session.exec(select(AuditEvent.id).where(*conditions, *extra).limit(1)).first() is not None


def find_events(session: Session, *, filters: Filters, before: int | None = None, after: int | None = None,
                size: int = rules.PAGE_SIZE) -> Page:
    """One page of matching events, newest first, by keyset: older than `before` or newer than `after`."""
    conditions = _conditions(filters)
    stmt = select(AuditEvent).where(*conditions)
    if after is not None:
        rows = list(session.exec(stmt.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(size)))
        rows.reverse()
    else:
        if before is not None:
            stmt = stmt.where(AuditEvent.id < before)
        rows = list(session.exec(stmt.order_by(AuditEvent.id.desc()).limit(size)))
    if not rows:
        return Page([], None, None)
    newest, oldest = rows[0].id, rows[-1].id
    older = oldest if _exists(session, conditions, AuditEvent.id < oldest) else None
    newer = newest if _exists(session, conditions, AuditEvent.id > newest) else None
    return Page(rows, older, newer)


@dataclass
class Names:
    """Display names of the ids a list of events mentions (one query per kind)."""

    classes: dict[int, str]
    students: dict[int, tuple[str, str]]
    subjects: dict[int, str]

    def klass(self, class_id):
        return self.classes.get(class_id, f"#{class_id}") if class_id else ""

    def student(self, student_id):
        if not student_id:
            return ""
        name, code = self.students.get(student_id, (f"#{student_id}", ""))
        return f"{name} ({code})" if code else name

    def subject(self, subject_id):
        return self.subjects.get(subject_id, f"#{subject_id}") if subject_id else ""


def names_for(session: Session, events: list[AuditEvent]) -> Names:
    def ids(attr):
        return {getattr(e, attr) for e in events if getattr(e, attr)}

    class_ids, student_ids, subject_ids = ids("class_id"), ids("student_id"), ids("subject_id")
    classes = {}
    if class_ids:
        rows = session.exec(select(SchoolClass.id, SchoolClass.name, SchoolYear.name)
                            .join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
                            .where(SchoolClass.id.in_(class_ids)))
        classes = {cid: f"{name} ({year})" for cid, name, year in rows}
    students = {}
    if student_ids:
        rows = session.exec(select(Student.id, Student.full_name, Student.student_code)
                            .where(Student.id.in_(student_ids)))
        students = {sid: (name, code) for sid, name, code in rows}
    subjects = {}
    if subject_ids:
        subjects = dict(session.exec(select(Subject.id, Subject.name).where(Subject.id.in_(subject_ids))).all())
    return Names(classes, students, subjects)


def class_options(session: Session) -> list[tuple[str, list[tuple[int, str]]]]:
    """Classes for the filter, grouped by school year (newest year first)."""
    rows = session.exec(select(SchoolClass.id, SchoolClass.name, SchoolYear.name)
                        .join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
                        .order_by(SchoolYear.start_date.desc(), SchoolClass.name)).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for class_id, name, year in rows:
        groups.setdefault(year, []).append((class_id, name))
    return list(groups.items())


# --- CSV ------------------------------------------------------------------------------------------------


def csv_rows(session: Session, *, filters: Filters) -> Iterator[str]:
    """The CSV text of the matching events in chain order, a chunk at a time: BOM, header, then rows."""
    conditions = _conditions(filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, "action_label", "at_vietnam"])
    yield "\ufeff" + buffer.getvalue()
    last = 0
    while True:
        chunk = session.exec(select(AuditEvent).where(*conditions, AuditEvent.id > last)
                             .order_by(AuditEvent.id).limit(CSV_CHUNK)).all()
        if not chunk:
            return
        buffer.seek(0)
        buffer.truncate()
        for event in chunk:
            writer.writerow([*(rules.csv_cell(getattr(event, name)) for name in CSV_COLUMNS),
                             audit.ACTIONS.get(event.action, ""),
                             rules.local_time(event.at).strftime("%d/%m/%Y %H:%M:%S")])
        yield buffer.getvalue()
        last = chunk[-1].id


# --- Chain check ------------------------------------------------------------------------------------------


def verify_chain(*, engine) -> audit.Verdict:
    """Check the whole chain and record that it was checked (with the verdict) as an audit.verified event."""
    verdict = audit.verify(engine)
    if verdict.ok:
        note = f"Chuỗi nguyên vẹn: {verdict.count} sự kiện; hash đầu chuỗi {verdict.head}"
    else:
        note = f"Chuỗi bị hỏng tại sự kiện {verdict.bad_id}: {verdict.problem}"
    audit.record_now("audit.verified", object_type="audit_chain", object_id=verdict.bad_id or "",
                     after={"ok": verdict.ok, "count": verdict.count, "head": verdict.head,
                            "bad_id": verdict.bad_id, "problem": verdict.problem},
                     note=note)
    return verdict
