"""Staff screens of transcripts over HTTP, with real tokens (SoftHSM2), a real Redis and real RQ workers.

Last year's 6A1 is filled with a complete year (tests/transcripts/conftest.py) and its periods locked by
their passed deadlines. Transcripts are prepared by calling the service (the class-wide job is checked to
be enqueued); every signature goes through POST /ky-so, a Job row and an RQ worker: SimpleWorker in this
process, or several forked `rq worker --burst` processes for the concurrency test.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from portal import audit, clock, tasks
from portal.authz import Actor
from portal.db import new_session
from portal.errors import Conflict
from portal.gradebook.service import class_roster
from portal.models import (
    Assessment,
    AuditEvent,
    GradePeriod,
    Job,
    JobItem,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    Transcript,
    TranscriptSignature,
    User,
)
from portal.periods import service as periods
from portal.transcripts import checks, pades, service
from tests.conftest import DEMO_PASSWORD
from tests.factories import current_class
from tests.periods.helpers import HTMX, PDF, html, sign_in, text
from tests.test_tasks import redis_socket, run_burst_worker, worker_env  # noqa: F401 - fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def app_config(app_config, redis_socket):  # noqa: F811 - the fixture imported above
    return {**app_config, "REDIS_URL": f"unix://{redis_socket}"}


def user(session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def prepare(app, klass: SchoolClass, count: int = 1) -> list[int]:
    """Prepare the transcripts of the class's first `count` students, as the principal; return their ids."""
    ids = []
    with app.app_context(), new_session(write=True, app=app) as s:
        actor = Actor(s, user(s, "hieutruong"))
        for _, student in class_roster(s, klass.id, include_left=True)[:count]:
            ids.append(service.prepare(s, actor=actor, student_id=student.id, school_year_id=klass.school_year_id,
                                       app=app).transcript.id)
            s.commit()
    return ids


def signatures(app, transcript_id: int) -> list[TranscriptSignature]:
    with new_session(write=False, app=app) as s:
        return list(s.exec(select(TranscriptSignature).where(TranscriptSignature.transcript_id == transcript_id)
                           .order_by(TranscriptSignature.position)))


def usernames(app, user_ids) -> dict[int, str]:
    with new_session(write=False, app=app) as s:
        return dict(s.exec(select(User.id, User.username).where(User.id.in_(set(user_ids)))).all())


def job_id_of(response) -> int:
    assert response.status_code == 303, response.status_code
    return int(re.search(r"/ky-so/tien-do/(\d+)$", response.headers["Location"]).group(1))


def items_of(app, job_id: int) -> list[JobItem]:
    with new_session(write=False, app=app) as s:
        return list(s.exec(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.id)))


def count(app, model) -> int:
    with new_session(write=False, app=app) as s:
        return len(s.exec(select(model.id)).all())


def ensure_year_locked(app, session, klass) -> None:
    """The principal locks the class's whole-year period unless its passed deadline already did."""
    locked, _why = service.year_locked(session, klass)
    if not locked:
        period = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == klass.school_year_id,
                                                        GradePeriod.code == "cn")).one()
        principal = sign_in(app, "principal")
        assert principal.post(f"/ky-danh-gia/{period.id}/khoa", data={"target": f"class-{klass.id}"}).status_code == 302
        session.rollback()
    assert service.year_locked(session, klass)[0]


# --- Pages and fragments -------------------------------------------------------------------------------------


def test_index_groups_every_class_by_year_with_counts(app, session, previous_class):
    prepare(app, previous_class, 1)
    client = sign_in(app, "office")
    response = client.get("/hoc-ba/")
    years = re.findall(r"Năm học (\d{4}-\d{4})", text(response))
    assert len(years) == 2 and years[0] > years[1]  # newest first
    body = html(response)
    card = body[body.index(f'/hoc-ba/lop/{previous_class.id}"'):]
    card = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card[:card.index("</a>")]))
    assert "Lớp 6A1 30 học sinh · GVCN Nguyễn Thị Hoa" in card
    assert "29 chưa lập 1 đang ký (0/13 chữ ký) 0 đã phát hành 0 thu hồi" in card, card


def test_class_page_and_fragment_show_each_student_with_signature_progress(app, session, previous_class):
    [tid] = prepare(app, previous_class, 1)
    client = sign_in(app, "principal")
    page = client.get(f"/hoc-ba/lop/{previous_class.id}")
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    shown = text(page)
    assert f"Học bạ lớp {previous_class.name}" in shown and "đã khóa" in shown
    assert "0/13 chữ ký; đang chờ:" in shown and "Lê Minh Tuấn, " in shown and "(giáo viên môn học)" in shown
    assert "Lập học bạ cả lớp" in shown and "Phát hành các học bạ đủ chữ ký (0)" in shown
    assert f'href="/hoc-ba/{tid}/pdf"' in html(page)

    fragment = client.get(f"/hoc-ba/lop/{previous_class.id}", headers=HTMX)
    body = html(fragment).strip()
    assert body.startswith('<div id="hoc-ba-lop"') and "<html" not in body and "hx-trigger" not in body.split(">")[0]
    assert "0/13 chữ ký" in text(fragment)
    # The office prepares but does not release.
    assert "Phát hành các học bạ" not in text(sign_in(app, "office").get(f"/hoc-ba/lop/{previous_class.id}"))


def test_class_page_says_why_nothing_can_be_prepared_before_the_year_is_locked(app, session):
    klass = current_class(session, "6A1")
    page = sign_in(app, "vice_principal").get(f"/hoc-ba/lop/{klass.id}")
    shown = text(page)
    assert "Chưa thể lập, ký hay phát hành học bạ của lớp này." in shown and "chưa khóa" in shown
    assert re.search(r'<button type="submit" class="btn btn-primary" disabled>Lập học bạ cả lớp', html(page))


def test_preparing_a_class_records_a_job_and_enqueues_it(app, session, previous_class):
    client = sign_in(app, "office")
    response = client.post(f"/hoc-ba/lop/{previous_class.id}/lap")
    assert response.status_code == 303
    job_id = int(re.search(r"job=(\d+)", response.headers["Location"]).group(1))
    with new_session(write=False, app=app) as s:
        job = s.get(Job, job_id)
        office = user(s, "vanthu")
    assert (job.kind, job.status, job.created_by) == ("jobs.transcripts.prepare_class", "queued", office.id)
    with app.app_context():
        rq_job = tasks.get_queue(app).fetch_job(f"job-{job_id}")
    assert rq_job.func_name == "jobs.transcripts.prepare_class"
    assert rq_job.args == (job_id, office.id, previous_class.id)

    # While queued, the fragment polls itself; the page says so too.
    fragment = client.get(f"/hoc-ba/lop/{previous_class.id}?job={job_id}", headers=HTMX)
    root = html(fragment).strip().split(">")[0]
    assert 'hx-trigger="every 1s"' in root and f"job={job_id}" in root
    assert "Đang chờ máy chủ lập học bạ" in text(fragment)


def test_a_class_preparation_job_runs_and_reports_progress(app, session, previous_class, monkeypatch):
    """The job itself (called as a worker would), limited to three students to stay fast."""
    import jobs
    from jobs import transcripts as entry
    from portal.gradebook import service as gradebook

    monkeypatch.setattr(jobs, "_app", app)
    roster = gradebook.class_roster
    monkeypatch.setattr(gradebook, "class_roster", lambda s, c, **kw: roster(s, c, **kw)[:3])
    with new_session(write=True, app=app) as s:
        job = Job(kind="jobs.transcripts.prepare_class", created_by=user(s, "hieutruong").id)
        s.add(job)
        s.commit()
        principal_id = job.created_by
    assert entry.prepare_class(job.id, principal_id, previous_class.id) == {"students": 3, "failed": 0}
    fragment = sign_in(app, "principal").get(f"/hoc-ba/lop/{previous_class.id}?job={job.id}", headers=HTMX)
    assert "Đã lập xong: 3/3 học bạ" in text(fragment) and "hx-trigger" not in html(fragment).split(">")[0]
    assert text(fragment).count("0/13 chữ ký") == 3


def test_detail_lists_the_signatures_in_order_and_why_it_cannot_be_released(app, session, previous_class):
    [tid] = prepare(app, previous_class, 1)
    page = sign_in(app, "principal").get(f"/hoc-ba/{tid}")
    shown = text(page)
    row = session.get(Transcript, tid)
    assert row.verify_code in shown and re.search(r"Phiên bản\s*1 ", shown) and "Đang ký" in shown
    order = re.findall(r"(Giáo viên môn học|Giáo viên chủ nhiệm|Hiệu trưởng|Con dấu số của nhà trường)(?=[:\s])",
                       shown.split("Chữ ký số")[1])
    # 10 subject teachers, then the homeroom teacher (who also signs for her own subjects), principal, seal
    assert order[:10] == ["Giáo viên môn học"] * 10 and order[10:13] == [
        "Giáo viên chủ nhiệm", "Hiệu trưởng", "Con dấu số của nhà trường"]
    assert shown.count("Đến lượt ký") == 10 and "Còn thiếu chữ ký:" in shown
    assert re.search(r'<button type="submit" class="btn btn-primary" disabled>Phát hành học bạ', html(page))


def test_downloads_are_named_and_audited_and_readers_are_scoped(app, session, previous_class):
    [tid] = prepare(app, previous_class, 1)
    session.rollback()
    row = session.get(Transcript, tid)
    student_code = session.get(Student, row.student_id).student_code
    year = session.get(SchoolYear, row.school_year_id).name
    teacher = sign_in(app, "teacher")  # tuanlm signs Tin học on it
    response = teacher.get(f"/hoc-ba/{tid}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"hocba_{student_code}_{year}_v1.pdf" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF-") and response.headers["Cache-Control"] == "private, no-store"
    xml = teacher.get(f"/hoc-ba/{tid}/xml")
    assert xml.mimetype == "application/xml" and f"hocba_{student_code}_{year}_v1.xml" in xml.headers[
        "Content-Disposition"]
    events = session.exec(select(AuditEvent.note).where(AuditEvent.action == "export",
                                                        AuditEvent.object_type == "transcript")).all()
    assert len(events) == 2 and "pdf" in events[0]
    # The homeroom teacher signs it too; a department head who does not is refused; not yet released, the
    # homeroom teacher of another class of the student could not read it either.
    assert sign_in(app, "homeroom").get(f"/hoc-ba/{tid}").status_code == 200
    assert sign_in(app, "department_head").get(f"/hoc-ba/{tid}/pdf").status_code == 403


def test_wrong_password_queues_nothing_and_is_audited(app, session, previous_class):
    [tid] = prepare(app, previous_class, 1)
    client = sign_in(app, "teacher")
    queue = client.get("/ky-so")
    assert queue.status_code == 200 and f'value="{tid}"' in html(queue)
    assert "Đến lượt bạn ký 1" in text(queue) and "Tin học" in text(queue)
    response = client.post("/ky-so", data={"transcript_id": str(tid), "password": "sai-mat-khau"})
    assert response.status_code == 422
    assert "Mật khẩu không đúng: chưa có học bạ nào được gửi ký." in text(response)
    assert f'value="{tid}" checked' in html(response)  # the choice is kept
    assert count(app, Job) == 0 and count(app, JobItem) == 0
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "transcript.sign_refused")).one()
    assert event.actor_name == "Lê Minh Tuấn" and "Sai mật khẩu" in event.note
    # Nothing chosen: refused before the password is even checked.
    response = client.post("/ky-so", data={"password": DEMO_PASSWORD})
    assert response.status_code == 422 and "Hãy chọn ít nhất một học bạ" in text(response)


def test_home_counts_the_transcripts_waiting_for_the_signer(app, previous_class):
    prepare(app, previous_class, 2)
    assert "2 học bạ chờ bạn ký." in text(sign_in(app, "teacher").get("/"))
    assert "2 học bạ sẽ cần chữ ký của bạn khi người ký trước đã ký xong." in text(sign_in(app, "principal").get("/"))


# --- The whole flow ---------------------------------------------------------------------------------------------


def sign_over_http(app, username: str, data: dict) -> int:
    """POST /ky-so as the user, let an RQ worker run the batch, check the progress page and fragment; job id."""
    client = sign_in(app, username=username)
    job_id = job_id_of(client.post("/ky-so", data={**data, "password": DEMO_PASSWORD}))
    queued = client.get(f"/ky-so/tien-do/{job_id}", headers=HTMX)
    root = html(queued).strip().split(">")[0]
    assert root.startswith('<section id="tien-do-ky"') and 'hx-trigger="every 1s"' in root
    run_burst_worker(app)
    page = client.get(f"/ky-so/tien-do/{job_id}")
    assert page.status_code == 200 and "Đã xong" in text(page) and "hx-trigger" not in html(page)
    return job_id


def test_sign_in_order_release_and_download_a_valid_pdf(app, session, previous_class, worker_env):  # noqa: F811
    ensure_year_locked(app, session, previous_class)
    [tid] = prepare(app, previous_class, 1)

    # Out of order: the principal asks first; the batch fails the item with the reason in Vietnamese.
    job_id = sign_over_http(app, "hieutruong", {"transcript_id": str(tid)})
    [item] = items_of(app, job_id)
    assert item.status == "failed" and item.error.startswith("Chưa đến lượt bạn ký: còn chờ")
    page = text(sign_in(app, "principal").get(f"/ky-so/tien-do/{job_id}"))
    assert "Không ký được 1" in page and "Chưa đến lượt bạn ký" in page
    # Only the job's creator (and the principal) may watch it.
    assert sign_in(app, "teacher").get(f"/ky-so/tien-do/{job_id}").status_code == 403

    # In order: whoever's turn it is signs everything due, until nothing is pending.
    rounds = 0
    while pending := [s for s in signatures(app, tid) if s.status == "pending"]:
        rounds += 1
        assert rounds <= 20
        turn = service.waiting_for(pending)
        for username in sorted(set(usernames(app, [s.user_id for s in turn if s.user_id]).values())):
            job_id = sign_over_http(app, username, {"all": "1"})
            assert {i.status for i in items_of(app, job_id)} == {"done"}, items_of(app, job_id)
    assert rounds == 3  # subject teachers, then the homeroom teacher, then the principal with the seal

    # Release, then download: every signature validates.
    principal = sign_in(app, "principal")
    assert "Đủ chữ ký hợp lệ" in text(principal.get(f"/hoc-ba/{tid}"))
    response = principal.post(f"/hoc-ba/{tid}/phat-hanh")
    assert response.status_code == 303
    assert "Đã phát hành học bạ (phiên bản 1)" in text(principal.get(response.headers["Location"]))
    pdf = sign_in(app, "homeroom").get(f"/hoc-ba/{tid}/pdf").data
    report = pades.validate(pdf, trust_roots=checks.trust_roots(app.instance_path))
    assert report.ok, report.reason
    assert len(report.signatures) == 13
    session.rollback()
    row = session.get(Transcript, tid)
    assert row.status == "released"
    student = sign_in(app, "homeroom").get(f"/hoc-ba/hoc-sinh/{row.student_id}")
    assert f"/hoc-ba/{tid}/pdf" in html(student) and "Đã phát hành" in text(student)

    # A released transcript cannot be prepared again…
    with pytest.raises(Conflict, match="đã phát hành"), app.app_context(), new_session(write=True, app=app) as s:
        service.prepare(s, actor=Actor(s, user(s, "hieutruong")), student_id=row.student_id,
                        school_year_id=row.school_year_id, app=app)
    # …nor its cells edited through the gradebook (locked period: 423; opened by a grant: still 409)…
    tin = session.exec(select(Subject).where(Subject.grade_id == previous_class.grade_id,
                                             Subject.code == "tinhoc")).one()
    cell = session.exec(select(Assessment).where(Assessment.student_id == row.student_id,
                                                 Assessment.subject_id == tin.id, Assessment.term == "hk2",
                                                 Assessment.slot == "tx1")).one()
    # The gradebook shows a class's current roll only: put the student back on last year's roll, so that
    # nothing but the lock and then the release stands in the way.
    session.execute(sql("UPDATE enrollments SET left_on = NULL WHERE student_id = :s AND class_id = :c"),
                    {"s": row.student_id, "c": previous_class.id})
    session.commit()
    url = f"/giang-day/{previous_class.id}/{tin.id}/hk2/o"
    form = {"student_id": str(row.student_id), "slot": "tx1", "value": "5", "version": str(cell.version)}
    teacher = sign_in(app, "teacher")
    locked = teacher.post(url, data=form, headers=HTMX)
    assert locked.status_code == 423, text(locked)
    with app.app_context(), new_session(write=True, app=app) as s:
        period = s.exec(select(GradePeriod).where(GradePeriod.school_year_id == previous_class.school_year_id,
                                                  GradePeriod.code == "ck2")).one()
        request = periods.request_unlock(s, actor=Actor(s, user(s, "tuanlm")), period_id=period.id,
                                         class_id=previous_class.id, subject_id=tin.id, student_id=None,
                                         reason="Nhập nhầm điểm thường xuyên của một em.")
        periods.grant(s, actor=Actor(s, user(s, "hieutruong")), request_id=request.id, minutes_number="01/BB",
                      minutes_date=clock.now().date(), approver="Nguyễn Văn Thành",
                      ends_at=clock.now() + timedelta(hours=2), instance_path=app.instance_path)
        s.commit()
    refused = teacher.post(url, data=form, headers=HTMX)
    assert refused.status_code == 409 and "đã phát hành" in text(refused)
    # …nor by a direct UPDATE: the database trigger refuses it.
    with pytest.raises(DBAPIError, match="transcript released: its data cannot change"):
        session.execute(sql("UPDATE assessments SET value = '5' WHERE id = :i"), {"i": cell.id})
        session.flush()
    session.rollback()
    assert audit.verify(session.get_bind()).ok


def test_releasing_a_class_releases_what_is_complete_and_reports_the_rest(app, session, previous_class):
    first, second = prepare(app, previous_class, 2)
    with app.app_context():
        while pending := [s for s in signatures(app, first) if s.status == "pending"]:
            for user_id in {s.user_id for s in service.waiting_for(pending) if s.user_id}:
                service.sign_for(user_id=user_id, transcript_id=first, app=app)
    principal = sign_in(app, "principal")
    assert "Phát hành các học bạ đủ chữ ký (1)" in text(principal.get(f"/hoc-ba/lop/{previous_class.id}"))
    response = principal.post(f"/hoc-ba/lop/{previous_class.id}/phat-hanh", headers=HTMX)
    assert response.status_code == 303
    fragment = principal.get(response.headers["Location"], headers=HTMX)
    shown = text(fragment)
    assert "Đã phát hành 1 học bạ. 1 học bạ chưa phát hành được (1 học bạ còn thiếu chữ ký)." in shown
    session.rollback()
    assert (session.get(Transcript, first).status, session.get(Transcript, second).status) == ("released", "signing")


def test_revoking_needs_the_written_decision_then_prepares_the_next_version(app, session, previous_class):
    [tid] = prepare(app, previous_class, 1)
    with app.app_context():
        while pending := [s for s in signatures(app, tid) if s.status == "pending"]:
            for user_id in {s.user_id for s in service.waiting_for(pending) if s.user_id}:
                service.sign_for(user_id=user_id, transcript_id=tid, app=app)
    principal = sign_in(app, "principal")
    assert principal.post(f"/hoc-ba/{tid}/phat-hanh").status_code == 303
    refused = principal.post(f"/hoc-ba/{tid}/thu-hoi", data={"reason": "ngắn", "minutes_date": "31/02/2026"})
    assert refused.status_code == 422
    assert "Ngày quyết định không hợp lệ" in text(refused)
    refused = principal.post(f"/hoc-ba/{tid}/thu-hoi", data={"reason": "ngắn", "minutes_date": "2026-06-01"})
    assert refused.status_code == 422 and "Nhập lí do thu hồi (ít nhất 10 kí tự)." in text(refused)
    assert "Nhập số quyết định hoặc biên bản thu hồi." in text(refused)
    done = principal.post(f"/hoc-ba/{tid}/thu-hoi", content_type="multipart/form-data", data={
        "reason": "Nhập nhầm điểm cuối kì II môn Tin học.", "minutes_number": "05/QĐ-THCS",
        "minutes_date": "2026-06-01", "approver": "Nguyễn Văn Thành, Hiệu trưởng",
        "scan": (io.BytesIO(PDF), "quyet-dinh.pdf")})
    assert done.status_code == 303
    new_id = int(done.headers["Location"].rsplit("/", 1)[1])
    assert new_id != tid
    page = text(principal.get(f"/hoc-ba/{new_id}"))
    assert "Đã thu hồi học bạ. Phiên bản 2" in page and "thay thế phiên bản 1" in page
    old = text(principal.get(f"/hoc-ba/{tid}"))
    assert "Đã thu hồi" in old and "phiên bản 2" in old and "Số 05/QĐ-THCS ngày 01/06/2026" in old
    session.rollback()
    row = session.get(Transcript, tid)
    assert row.revoke_scan_path.endswith(".pdf")
    level = text(principal.get(f"/hoc-ba/hoc-sinh/{row.student_id}"))
    assert "Đã thu hồi: Nhập nhầm điểm cuối kì II môn Tin học." in level


# --- Concurrency: 20 signing jobs at once, forked workers ---------------------------------------------------


def test_twenty_signing_jobs_at_once_all_succeed(app, session, previous_class):
    """4 subject teachers × 5 transcripts, one job each, queued transcript by transcript: the three worker
    processes sign the same transcript at the same time (the PDF's compare-and-swap makes the loser sign again)."""
    ids = prepare(app, previous_class, 5)
    teachers = [s.user_id for s in signatures(app, ids[0]) if s.role == "subject"][:4]
    names = usernames(app, teachers)
    clients = {t: sign_in(app, username=names[t]) for t in teachers}
    for transcript_id in ids:
        for teacher in teachers:
            job_id_of(clients[teacher].post("/ky-so", data={"transcript_id": str(transcript_id),
                                                            "password": DEMO_PASSWORD}))
    with app.app_context():
        assert tasks.get_queue(app).count == 20

    # As `make run` starts it (portal/serve.py): a forking worker whose warm parent (jobs.worker.WarmWorker)
    # built the app from the environment; SOFTHSM2_CONF is left out: the portal points SoftHSM2 at the instance.
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    env.update(PORTAL_INSTANCE=app.instance_path, DATABASE_URL=app.config["DATABASE_URL"],
               PORTAL_REDIS_URL=app.config["REDIS_URL"], PORTAL_SECRET_KEY="test-secret-key")
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    workers = [subprocess.Popen([rq, "worker", "--burst", "--url", app.config["REDIS_URL"], "--logging_level",
                                 "WARNING", "--worker-class", "jobs.worker.WarmWorker", "default"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT) for _ in range(3)]
    deadline = time.monotonic() + 120
    try:
        for worker in workers:
            worker.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    logs = b"".join(w.stdout.read() for w in workers).decode(errors="replace")
    assert all(w.returncode == 0 for w in workers), logs

    with new_session(write=False, app=app) as s:
        failures = s.exec(select(JobItem.transcript_id, JobItem.error).where(JobItem.status != "done")).all()
        assert not failures, (failures, logs[-3000:])
        jobs_done = s.exec(select(Job.status, Job.done, Job.failed).where(Job.kind == "jobs.transcripts.sign_batch"))
        assert jobs_done.all() == [("done", 1, 0)] * 20
        signed = s.exec(select(TranscriptSignature.status).where(TranscriptSignature.transcript_id.in_(ids),
                                                                 TranscriptSignature.user_id.in_(teachers),
                                                                 TranscriptSignature.role == "subject")).all()
        assert signed == ["signed"] * 20
        pdfs = s.exec(select(Transcript.pdf).where(Transcript.id.in_(ids))).all()
    roots = checks.trust_roots(app.instance_path)
    for pdf in pdfs:
        report = pades.validate(pdf, trust_roots=roots)
        assert report.ok and len(report.signatures) == 4, report.reason
