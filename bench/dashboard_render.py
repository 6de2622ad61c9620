#!/usr/bin/env python3
"""Render time of the progress dashboard (and the principal's home) on the demo school, empty and full.

    .venv/bin/python bench/dashboard_render.py --repeat 20

Makes a temporary instance with the demo school (8 classes × 30 students × 13 subjects), signs the
principal in with Flask's test client and times GET /tien-do (each of the five periods) and GET / — first on
the empty demo, then after filling every cell of both terms and every homeroom entry of the year with one
bulk INSERT (about 31 000 assessment rows; no audit events: this measures reading, not writing) and moving
mid-term I's deadline to yesterday (so the home screen looks for overdue items too). Prints the median and
the maximum of --repeat requests per page, in milliseconds, and the size of each page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import select  # noqa: E402

from portal import create_app, migrate, seed  # noqa: E402
from portal.db import new_session  # noqa: E402
from portal.gradebook import rules  # noqa: E402
from portal.models import (  # noqa: E402
    Assessment,
    Enrollment,
    Grade,
    GradePeriod,
    SchoolClass,
    SchoolYear,
    StudentRecord,
    Subject,
    User,
)

PASSWORD = "Hocbaso@2026"
PAGES = ["/tien-do", "/tien-do?ky=gk1", "/tien-do?ky=ck1", "/tien-do?ky=cn", "/"]


def fill_everything(app) -> int:
    """Insert a value into every cell and every homeroom entry of the current year; return the cells added."""
    with app.app_context(), new_session(write=True, app=app) as s:
        year = s.exec(select(SchoolYear).where(SchoolYear.is_current)).one()
        author = s.exec(select(User.id)).first()
        cells, records = [], []
        for klass in s.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id)):
            grade = s.get(Grade, klass.grade_id).number
            students = s.exec(select(Enrollment.student_id).where(Enrollment.class_id == klass.id,
                                                                  Enrollment.left_on.is_(None))).all()
            for subject in s.exec(select(Subject).where(Subject.grade_id == klass.grade_id)):
                for term in ("hk1", "hk2"):
                    for slot in rules.term_slots(subject_kind=subject.kind, periods_per_year=subject.periods_per_year,
                                                 grade=grade, subject_code=subject.code,
                                                 has_periodic_test=subject.has_periodic_test, term=term):
                        value = "8" if slot.kind == "score" else "D"
                        cells += [dict(student_id=st, subject_id=subject.id, school_year_id=year.id, class_id=klass.id,
                                       term=term, slot=slot.code, value=value, updated_by=author) for st in students]
            keys = [(t, k, v) for t in ("hk1", "hk2") for k, v in
                    (("conduct", "T"), ("absences_excused", "0"), ("absences_unexcused", "0"))]
            keys.append(("year", "homeroom_comment", "Chăm ngoan, học tốt."))
            records += [dict(student_id=st, school_year_id=year.id, class_id=klass.id, term=t, key=k, value=v,
                             updated_by=author) for st in students for t, k, v in keys]
        s.exec(insert(Assessment), params=cells)
        s.exec(insert(StudentRecord), params=records)
        midterm = s.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id,
                                                   GradePeriod.code == "gk1")).one()
        midterm.deadline = date.today() - timedelta(days=1)
        s.add(midterm)
        s.commit()
        return len(cells)


def measure(client, repeat: int) -> None:
    for url in PAGES:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(f"  GET {url:<18} median {statistics.median(times):6.1f} ms   max {max(times):6.1f} ms   "
              f"{len(response.data) / 1024:6.1f} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="portal-bench-")
    try:
        app = create_app({"TESTING": True, "INSTANCE_PATH": folder, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "DATABASE_URL": "sqlite:///" + os.path.join(folder, "portal.db")})
        migrate.upgrade(app)
        seed.seed_demo_if_empty(app, today=date.today())
        client = app.test_client()
        assert client.post("/dang-nhap", data={"username": "hieutruong", "password": PASSWORD}).status_code == 302
        client.get("/tien-do")  # warm up: templates compiled, caches filled
        print("Demo school, nothing entered:")
        measure(client, args.repeat)
        added = fill_everything(app)
        print(f"Every cell and homeroom entry of the year entered ({added} cells), mid-term I overdue:")
        measure(client, args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
