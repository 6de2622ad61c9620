#!/usr/bin/env python3
"""Time the real transcript pipeline of the demo school in a warm process (issue: transcripts).

    .venv/bin/python bench/transcripts_pipeline.py [--students 30]

Creates a temporary instance (migrate, seed the demo school, provision the token and keys, fill last year's
6A1; ~15 s), warms up WeasyPrint, pyHanko and the token with one transcript, then for last year's class 6A1:

- per transcript: `service.prepare` (national record from the database, XML + XAdES seal, WeasyPrint render
  of the Ministry template, signature fields) and the full signature chain through `service.sign_for`
  (10 subject teachers → homeroom → principal + school seal: 13 PAdES signatures, each an incremental
  update written back to the database) — median, min, max of the per-student totals;
- the class: wall time of preparing and signing all --students transcripts one after another;
- validation (`pades.validate`) of one released 13-signature PDF, median of 15.

Targets: ≤ 0.4 s per transcript (render + full chain), ≤ 0.3 s per validation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile statistics of the timed loops to FILE")
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="bench-transcripts-")
    os.environ["PORTAL_INSTANCE"] = instance
    from sqlmodel import select

    from portal import create_app, migrate, seed
    from portal.authz import Actor
    from portal.db import new_session, write_session
    from portal.gradebook.service import class_roster
    from portal.models import SchoolClass, SchoolYear, User, UserRole
    from portal.pki import service as pki
    from portal.transcripts import checks, pades, render, service
    from portal.transcripts.demo import fill_class_year, sign_in_order

    app = create_app({"INSTANCE_PATH": instance, "DATABASE_URL": f"sqlite:///{instance}/portal.db"})
    started = time.perf_counter()
    migrate.upgrade(app)
    seed.seed_demo_if_empty(app)
    with app.app_context(), write_session(app) as session:
        pki.provision(session, instance)
        previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
        fill_class_year(session, session.exec(select(SchoolClass).where(
            SchoolClass.school_year_id == previous.id, SchoolClass.name == "6A1")).one())
    print(f"instance ready in {time.perf_counter() - started:.1f} s: {instance}")
    render.warm_up()

    with app.app_context():
        with new_session(write=False, app=app) as session:
            previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
            klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                           SchoolClass.name == "6A1")).one()
            students = [s.id for _, s in class_roster(session, klass.id, include_left=True)]
            principal_id = session.exec(select(UserRole.user_id).where(UserRole.role == "principal")).first()

        def one(student_id: int) -> tuple[float, float, float, int]:
            t0 = time.perf_counter()
            with write_session(app) as session:
                actor = Actor(session, session.get(User, principal_id))
                tid = service.prepare(session, actor=actor, student_id=student_id,
                                      school_year_id=klass.school_year_id, app=app).transcript.id
            t1 = time.perf_counter()
            sign_in_order(app, tid)
            t2 = time.perf_counter()
            return t1 - t0, t2 - t1, t2 - t0, tid

        one(students[0])  # warm-up: imports, fonts, token, first render
        count = min(args.students, len(students) - 1)
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        results = []
        class_start = time.perf_counter()
        for student_id in students[1:count + 1]:
            results.append(one(student_id))
        class_wall = time.perf_counter() - class_start
        tid = results[-1][3]
        with new_session(write=False, app=app) as session:
            from portal.models import Transcript

            pdf = session.get(Transcript, tid).pdf
        roots = checks.trust_roots(instance)
        report = pades.validate(pdf, trust_roots=roots)
        assert report.ok, report.reason
        timings = []
        for _ in range(15):
            t = time.perf_counter()
            pades.validate(pdf, trust_roots=roots)
            timings.append(time.perf_counter() - t)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)

    def line(name, values):
        print(f"{name:<44} median {statistics.median(values):.3f} s  min {min(values):.3f}  max {max(values):.3f}")

    print(f"{len(results)} transcripts, {len(report.signatures)} signatures each, PDF {len(pdf) // 1024} KB")
    line("prepare (record + XML seal + render + fields)", [r[0] for r in results])
    line("signature chain (service.sign_for, DB writes)", [r[1] for r in results])
    line("render + full chain per transcript", [r[2] for r in results])
    print(f"{'class of ' + str(len(results)) + ' (prepare + sign, sequential)':<44} {class_wall:.1f} s "
          f"({class_wall / len(results):.2f} s per transcript)")
    line(f"validate one {len(report.signatures)}-signature PDF", timings)
    if not args.keep:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
