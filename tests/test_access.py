"""Every registered route × every role (and anonymous) against an allow table kept here.

A route that is not in the table fails `test_every_route_is_in_the_table`. For each case, an allowed
role must not get 403 (nor be sent to the login page), a refused role must get exactly 403, and an
anonymous visitor of a protected route is sent to the login page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from portal.models import Guardian, SchoolClass, SchoolYear, Student, StudentGuardian, User
from tests.conftest import DEMO_PASSWORD, ROLE_USERS

ROLES = tuple(ROLE_USERS)
STAFF = ("admin", "principal", "vice_principal", "department_head", "homeroom", "teacher", "office")
SIGNED_IN = (*ROLES,)
LEADERS = ("principal", "vice_principal")
TEACHERS = ("department_head", "homeroom", "teacher")  # every demo user who teaches a class
ADMIN = ("admin",)
PUBLIC = ("anonymous", *ROLES)


@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    allowed: tuple[str, ...]
    args: str = ""  # key of the named objects in `targets`
    note: str = ""


# Named objects (see `targets`): own_class = 6A1 this year (homeroom: hoant; teacher tuanlm teaches it);
# other_class = 9A2 (hoant neither teaches nor leads it); child = phuhuynh1's child, in 6A1;
# other_student = a 9A2 student who is nobody's child in the demo; tin_6a1 = Tin học in 6A1 (taught by tuanlm,
# in vinhtd's Tổ Toán – Tin), toan_6a1 = Toán in 6A1 (taught by hoant), van_9a2 = Ngữ văn in 9A2 (none of
# them teaches it, outside vinhtd's department); flag_* = an open flag on that sheet.
CASES = [
    Case("auth.login", "GET", PUBLIC),
    Case("auth.login", "POST", PUBLIC),
    Case("auth.logout", "POST", SIGNED_IN),
    Case("auth.change_password", "GET", SIGNED_IN),
    Case("auth.change_password", "POST", SIGNED_IN),
    Case("home.index", "GET", SIGNED_IN),
    Case("school.classes", "GET", (*LEADERS, "office")),
    Case("school.class_detail", "GET", (*LEADERS, "office", "homeroom", "teacher"), "own_class"),
    Case("school.class_detail", "GET", (*LEADERS, "office", "teacher"), "other_class"),
    Case("school.students", "GET", (*LEADERS, "office")),
    Case("school.student_detail", "GET", (*LEADERS, "office", "homeroom", "parent"), "child"),
    Case("school.student_detail", "GET", (*LEADERS, "office"), "other_student"),
    Case("school.student_photo", "GET", (*LEADERS, "office", "homeroom", "parent"), "child"),
    Case("school.student_photo", "GET", (*LEADERS, "office"), "other_student"),
    # Gradebook: a subject teacher reaches only their assigned (class, subject) pairs.
    Case("gradebook.index", "GET", TEACHERS),
    Case("gradebook.grid", "GET", ("teacher",), "tin_6a1"),
    Case("gradebook.grid", "GET", ("homeroom",), "toan_6a1"),
    Case("gradebook.grid", "GET", (), "van_9a2"),
    Case("gradebook.save_cell", "POST", ("teacher",), "tin_6a1"),
    Case("gradebook.save_cell", "POST", (), "van_9a2"),
    Case("gradebook.save_comment", "POST", ("homeroom",), "toan_6a1"),
    Case("gradebook.save_comment", "POST", (), "van_9a2"),
    Case("gradebook.xlsx_template", "GET", ("teacher",), "tin_6a1"),
    Case("gradebook.xlsx_template", "GET", (), "van_9a2"),
    Case("gradebook.xlsx_upload", "GET", ("teacher",), "tin_6a1"),
    Case("gradebook.xlsx_upload", "POST", ("teacher",), "tin_6a1"),
    Case("gradebook.xlsx_upload", "POST", (), "van_9a2"),
    Case("gradebook.xlsx_commit", "POST", ("teacher",), "tin_6a1"),
    Case("gradebook.xlsx_commit", "POST", (), "van_9a2"),
    # Homeroom: the homeroom teacher of the class writes; leadership reads.
    Case("homeroom.overview", "GET", (*LEADERS, "homeroom"), "own_class"),
    Case("homeroom.overview", "GET", LEADERS, "other_class"),
    Case("homeroom.conduct", "GET", (*LEADERS, "homeroom"), "own_class"),
    Case("homeroom.conduct", "GET", (*LEADERS, "homeroom"), "own_class_hk1"),
    Case("homeroom.conduct", "GET", LEADERS, "other_class_hk1"),
    Case("homeroom.year_end", "GET", (*LEADERS, "homeroom"), "own_class"),
    Case("homeroom.year_end", "GET", LEADERS, "other_class"),
    Case("homeroom.save_record", "POST", ("homeroom",), "own_class"),
    Case("homeroom.save_record", "POST", (), "other_class"),
    # Department head: read-only sheets of the department's subjects, flags; leadership reads every sheet.
    Case("review.department", "GET", ("department_head",)),
    Case("review.sheet", "GET", (*LEADERS, "department_head"), "tin_6a1"),
    Case("review.sheet", "GET", LEADERS, "van_9a2"),
    Case("review.add_flag", "POST", ("department_head",), "tin_6a1"),
    Case("review.add_flag", "POST", (), "van_9a2"),
    Case("review.resolve_flag", "POST", ("teacher", "department_head"), "flag_tin_6a1"),
    Case("review.resolve_flag", "POST", (), "flag_van_9a2"),
    # Summaries: leadership for the school, the homeroom teacher for their own class.
    Case("review.summary", "GET", LEADERS),
    Case("review.school_summary_xlsx", "GET", LEADERS, "term_hk1"),
    Case("review.class_summary", "GET", (*LEADERS, "homeroom"), "own_class"),
    Case("review.class_summary", "GET", LEADERS, "other_class"),
    Case("review.class_summary_xlsx", "GET", (*LEADERS, "homeroom"), "own_class_hk1"),
    Case("review.class_summary_xlsx", "GET", LEADERS, "other_class_hk1"),
    # --- periods: locks, deadlines, unlock requests and decisions ---
    Case("periods.index", "GET", LEADERS),
    Case("periods.set_deadline", "POST", LEADERS, "period_ck1"),
    Case("periods.lock", "POST", LEADERS, "period_ck1"),
    Case("periods.release_lock", "POST", LEADERS, "period_lock"),
    Case("periods.set_year_deadline", "POST", LEADERS, "year_deadline"),
    Case("periods.inbox", "GET", LEADERS),
    Case("periods.decision", "GET", LEADERS, "unlock_request"),
    Case("periods.grant", "POST", LEADERS, "unlock_request"),
    Case("periods.refuse", "POST", LEADERS, "unlock_request"),
    Case("periods.scan", "GET", LEADERS, "unlock_request"),
    # Anyone who teaches may ask (the service refuses a scope they do not teach: tests/periods).
    Case("periods.new_request", "GET", TEACHERS),
    Case("periods.create_request", "POST", TEACHERS),
    # --- audit trail ---
    Case("audit_trail.index", "GET", LEADERS),
    Case("audit_trail.detail", "GET", LEADERS, "audit_event"),
    Case("audit_trail.export_csv", "GET", LEADERS),
    Case("audit_trail.verify", "POST", LEADERS),
    # --- progress dashboard ---
    Case("dashboard.index", "GET", LEADERS),
    # --- public verification: no sign-in, every role alike (an empty upload is refused with 400) ---
    Case("public.index", "GET", PUBLIC),
    Case("public.check_file", "POST", PUBLIC),
    Case("public.check_code", "POST", PUBLIC),
    Case("public.code", "GET", PUBLIC, "verify_code"),
    # --- transcripts (staff) ---
    # Last year's 6A1: tr_signing is signed by tuanlm (teacher) then the principal; tr_released was signed by the
    # principal only and is readable by hoant, the class's homeroom teacher that year; tr_job is tuanlm's batch.
    Case("transcripts.index", "GET", (*LEADERS, "office")),
    Case("transcripts.class_page", "GET", (*LEADERS, "office"), "tr_class"),
    Case("transcripts.prepare_class", "POST", (*LEADERS, "office"), "tr_class"),
    Case("transcripts.release_class", "POST", ("principal",), "tr_class"),
    Case("transcripts.detail", "GET", (*LEADERS, "office", "teacher"), "tr_signing"),
    Case("transcripts.detail", "GET", (*LEADERS, "office", "homeroom"), "tr_released"),
    Case("transcripts.pdf", "GET", (*LEADERS, "office", "teacher"), "tr_signing"),
    Case("transcripts.pdf", "GET", (*LEADERS, "office", "homeroom"), "tr_released"),
    Case("transcripts.xml", "GET", (*LEADERS, "office", "teacher"), "tr_signing"),
    Case("transcripts.xml", "GET", (*LEADERS, "office", "homeroom"), "tr_released"),
    Case("transcripts.release", "POST", ("principal",), "tr_signing"),
    Case("transcripts.revoke", "POST", ("principal",), "tr_released"),
    Case("transcripts.student", "GET", (*LEADERS, "office", "homeroom"), "child"),
    Case("transcripts.student", "GET", (*LEADERS, "office"), "other_student"),
    Case("transcripts.queue", "GET", (*LEADERS, *TEACHERS)),
    Case("transcripts.sign", "POST", (*LEADERS, *TEACHERS)),
    Case("transcripts.sign_progress", "GET", ("principal", "teacher"), "tr_job"),
    # --- delivery ---
    # Sending dashboard, resends and the backfill of missed submissions: leadership (dl_submission: a failed
    # submission of tr_released); the receiver API authenticates by bearer token (no endpoint configured here: 404
    # JSON, never a login page).
    Case("delivery.index", "GET", LEADERS),
    Case("delivery.resend", "POST", LEADERS, "dl_submission"),
    Case("delivery.resend_all", "POST", LEADERS),
    Case("delivery.backfill", "POST", LEADERS),
    Case("delivery.receive_api", "POST", PUBLIC),
    Case("delivery.received", "GET", LEADERS),
    # --- parents ---
    # A parent reaches their own child only (tr_child: a released transcript of phuhuynh1's child); claim codes are
    # handed out by leadership, the office and the student's homeroom teacher of this year; the principal publishes.
    Case("parents.index", "GET", ("parent",)),
    Case("parents.child", "GET", ("parent",), "child"),
    Case("parents.child", "GET", (), "other_student"),
    Case("parents.transcript_pdf", "GET", ("parent",), "tr_child"),
    Case("parents.transcript_pdf", "GET", (), "tr_other"),
    Case("parents.claim", "GET", ("parent",)),
    Case("parents.claim", "POST", ("parent",)),
    Case("parents.register", "GET", PUBLIC),  # a parent without an account creates one with a code
    Case("parents.register", "POST", PUBLIC),
    Case("parents.codes", "GET", (*LEADERS, "office", "homeroom"), "child"),
    Case("parents.codes", "GET", (*LEADERS, "office"), "other_student"),
    Case("parents.issue_code", "POST", (*LEADERS, "office", "homeroom"), "child"),
    Case("parents.issue_code", "POST", (*LEADERS, "office"), "other_student"),
    Case("parents.publications", "GET", LEADERS),
    Case("parents.publish", "POST", ("principal",), "own_class_hk1"),
    Case("parents.unpublish", "POST", ("principal",), "own_class_hk1"),
    # --- transfer ---
    # Export: leadership and the office; receive: the principal and the office; a transferred document (tf_doc_*)
    # also goes to the student's homeroom teacher of this year (tf_doc_child: phuhuynh1's child, in hoant's 6A1).
    Case("transfer.index", "GET", (*LEADERS, "office")),
    Case("transfer.export", "POST", (*LEADERS, "office"), "child"),
    Case("transfer.receive", "GET", ("principal", "office")),
    Case("transfer.check", "POST", ("principal", "office")),
    Case("transfer.accept", "POST", ("principal", "office")),
    Case("transfer.document", "GET", (*LEADERS, "office", "homeroom"), "tf_doc_child"),
    Case("transfer.document", "GET", (*LEADERS, "office"), "tf_doc_other"),
]

# Administration and imports: every route of these blueprints is for the admin role only. Their URL
# arguments are filled with ids of real demo rows by `admin_args`.
ADMIN_ONLY_BLUEPRINTS = ("admin", "imports")


def targets(session) -> dict[str, dict]:
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()

    def klass(name):
        return session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                      SchoolClass.name == name)).one()

    parent = session.exec(select(User).where(User.username == "phuhuynh1")).one()
    child = session.exec(
        select(Student).join(StudentGuardian).join(Guardian).where(Guardian.user_id == parent.id)
    ).one()
    linked = select(StudentGuardian.student_id)
    from portal.models import Enrollment, Flag, Subject

    def pair(class_name, subject_name):
        klass_ = klass(class_name)
        subject = session.exec(select(Subject).where(Subject.name == subject_name,
                                                     Subject.grade_id == klass_.grade_id)).one()
        return {"class_id": klass_.id, "subject_id": subject.id, "term": "hk1"}

    def flag(sheet):
        author = session.exec(select(User).where(User.username == ROLE_USERS["department_head"])).one()
        row = Flag(class_id=sheet["class_id"], subject_id=sheet["subject_id"], term="hk1", note="Kiểm tra lại.",
                   created_by=author.id)
        session.add(row)
        session.commit()
        return {"flag_id": row.id}

    other = session.exec(
        select(Student).join(Enrollment).where(Enrollment.class_id == klass("9A2").id, ~Student.id.in_(linked))
    ).first()
    return {
        "": {},
        "verify_code": {"code": "HB-2345-6789-ABCD"},
        "own_class": {"class_id": klass("6A1").id},
        "other_class": {"class_id": klass("9A2").id},
        "child": {"student_id": child.id},
        "other_student": {"student_id": other.id},
        "own_class_hk1": {"class_id": klass("6A1").id, "term": "hk1"},
        "other_class_hk1": {"class_id": klass("9A2").id, "term": "hk1"},
        "term_hk1": {"term": "hk1"},
        "tin_6a1": pair("6A1", "Tin học"),
        "toan_6a1": pair("6A1", "Toán"),
        "van_9a2": pair("9A2", "Ngữ văn"),
        "flag_tin_6a1": flag(pair("6A1", "Tin học")),
        "flag_van_9a2": flag(pair("9A2", "Ngữ văn")),
        **audit_targets(session),
        **periods_targets(session, year, klass),
        **transcripts_targets(session),
        **delivery_targets(session),
        **transfer_targets(session, child, other),
        **parents_targets(session, child, other),
    }


def periods_targets(session, year, klass) -> dict[str, dict]:
    """A period, a year deadline, a principal's lock (9A2, mid-term II), a pending request (hoant, Toán 6A1)."""
    from portal.models import GradePeriod, PeriodLock, Subject, UnlockRequest, YearDeadline

    def period(code):
        return session.exec(select(GradePeriod).where(GradePeriod.school_year_id == year.id,
                                                      GradePeriod.code == code)).one()

    def user(role):
        return session.exec(select(User).where(User.username == ROLE_USERS[role])).one()

    lock = PeriodLock(period_id=period("gk2").id, scope="class", class_id=klass("9A2").id,
                      locked_by=user("principal").id)
    toan = session.exec(select(Subject).where(Subject.code == "toan",
                                              Subject.grade_id == klass("6A1").grade_id)).one()
    request = UnlockRequest(period_id=period("ck1").id, class_id=klass("6A1").id, subject_id=toan.id,
                            reason="Nhập nhầm điểm cuối kì của một em.", requested_by=user("homeroom").id)
    session.add_all([lock, request])
    session.commit()
    deadline = session.exec(select(YearDeadline).where(YearDeadline.school_year_id == year.id,
                                                       YearDeadline.code == "sending")).one()
    return {
        "period_ck1": {"period_id": period("ck1").id},
        "year_deadline": {"deadline_id": deadline.id},
        "period_lock": {"lock_id": lock.id},
        "unlock_request": {"request_id": request.id},
    }


def transcripts_targets(session) -> dict[str, dict]:
    """Two transcript rows of last year's 6A1 (one in signing, one released), their signatures and a batch."""
    from datetime import date

    from portal.models import Enrollment, Job, Transcript, TranscriptSignature
    from portal.transcripts import data

    previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
    klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                   SchoolClass.name == "6A1")).one()
    first, second = session.exec(select(Enrollment.student_id).where(Enrollment.class_id == klass.id)
                                 .order_by(Enrollment.number)).all()[:2]
    users = {role: session.exec(select(User.id).where(User.username == ROLE_USERS[role])).one()
             for role in ("principal", "teacher")}
    record = data.Record(table=data.SECONDARY_TABLE, regime="tt22", bangdiem=[], quatrinhhoctap=[],
                         hocba={f"key{data.SECONDARY_TABLE}": "0" * 32})
    rows = []
    for number, student_id in enumerate((first, second), start=1):
        row = Transcript(student_id=student_id, school_year_id=previous.id, class_id=klass.id,
                         record_id=f"00000000-0000-4000-8000-00000000000{number}",
                         verify_code=f"HB-TEST-ACCS-000{number}", regime="tt22", data_json=record.canonical_json(),
                         data_sha256="0" * 64, xml=b"<hocba/>",
                         pdf=b"%PDF-1.7\n%%EOF\n", pdf_sha256="0" * 64, issue_date=date.today(),
                         issue_place="Ninh Bình", prepared_by=users["principal"])
        session.add(row)
        session.flush()
        signers = [("teacher", "subject", 1)] if number == 1 else []
        for position, (who, role, stage) in enumerate([*signers, ("principal", "principal", 3)], start=1):
            session.add(TranscriptSignature(transcript_id=row.id, position=position, stage=stage, role=role,
                                            user_id=users[who], signer_name=who, field_name=f"ChuKy{position:02d}"))
        rows.append(row)
    session.flush()
    rows[1].status = "released"  # after its signature rows: those of a released transcript are frozen
    job = Job(kind="jobs.transcripts.sign_batch", created_by=users["teacher"])
    session.add_all([rows[1], job])
    session.commit()
    return {
        "tr_class": {"class_id": klass.id},
        "tr_signing": {"transcript_id": rows[0].id},
        "tr_released": {"transcript_id": rows[1].id},
        "tr_job": {"job_id": job.id},
    }


def parents_targets(session, child, other) -> dict[str, dict]:
    """A released transcript of phuhuynh1's child (a fake one, last year), and the other student with another's."""
    from datetime import date

    from portal.models import Transcript
    from portal.transcripts import data

    previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
    klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                   SchoolClass.name == "6A1")).one()
    principal = session.exec(select(User.id).where(User.username == ROLE_USERS["principal"])).one()
    record = data.Record(table=data.SECONDARY_TABLE, regime="tt22", bangdiem=[], quatrinhhoctap=[],
                         hocba={f"key{data.SECONDARY_TABLE}": "0" * 32})
    row = Transcript(student_id=child.id, school_year_id=previous.id, class_id=klass.id,
                     record_id="00000000-0000-4000-8000-0000000000c1", verify_code="HB-TEST-ACCS-00C1", regime="tt22",
                     data_json=record.canonical_json(), data_sha256="0" * 64, xml=b"<hocba/>",
                     pdf=b"%PDF-1.7\n%%EOF\n", pdf_sha256="0" * 64, issue_date=date.today(), issue_place="Ninh Bình",
                     prepared_by=principal, status="released")
    session.add(row)
    session.commit()
    released = session.exec(select(Transcript.id).where(Transcript.status == "released",
                                                        Transcript.student_id != child.id)).first()
    return {"tr_child": {"student_id": child.id, "transcript_id": row.id},
            "tr_other": {"student_id": other.id, "transcript_id": released}}


# Every route a parent reaches: their account, the home page, public verification, their child's profile (portal/school)
# and the parents' pages. A new route that names the parent role must be added here on purpose.
PARENT_ROUTES = {"auth.login", "auth.logout", "auth.change_password", "home.index", "public.index", "public.check_file",
                 "public.check_code", "public.code", "school.student_detail", "school.student_photo", "parents.index",
                 "parents.child", "parents.transcript_pdf", "parents.claim", "parents.register",
                 "delivery.receive_api"}  # public: a sending portal authenticates with its bearer token


def test_parents_reach_nothing_else(app):
    assert {c.endpoint for c in CASES if "parent" in c.allowed} == PARENT_ROUTES
    # Whatever the table says: the views whose policy names the parent role are exactly the parents' ones.
    named = {endpoint for endpoint, view in app.view_functions.items()
             if isinstance(getattr(view, "_policy", None), dict) and "parent" in view._policy}
    assert named == {"school.student_detail", "school.student_photo", "parents.index", "parents.child",
                     "parents.transcript_pdf", "parents.claim"}
    assert named <= PARENT_ROUTES
    # Each route a parent reaches through their child is refused for another child.
    for endpoint in ("school.student_detail", "school.student_photo", "parents.child", "parents.transcript_pdf"):
        assert any(c.endpoint == endpoint and "parent" not in c.allowed for c in CASES), endpoint


def transfer_targets(session, child, other) -> dict[str, dict]:
    """A transcript brought from another school by phuhuynh1's child, and one by the other student."""
    from portal.models import TransferredDocument

    principal = session.exec(select(User.id).where(User.username == ROLE_USERS["principal"])).one()
    rows = [TransferredDocument(student_id=student.id, source_school="Trường THCS Khác", source_school_code="01000001",
                                school_year="2020-2021", class_name="6A", version=1,
                                madinhdanhhocba=f"00000000-0000-4000-8000-0000000000f{n}", pdf=b"%PDF-1.7\n%%EOF\n",
                                pdf_sha256=f"{n}" * 64, xml=b"<hocba/>", imported_by=principal)
            for n, student in enumerate((child, other), start=1)]
    session.add_all(rows)
    session.commit()
    return {"tf_doc_child": {"document_id": rows[0].id, "kind": "pdf"},
            "tf_doc_other": {"document_id": rows[1].id, "kind": "pdf"}}


def delivery_targets(session) -> dict[str, dict]:
    """A failed submission of the released transcript of transcripts_targets (HB-TEST-ACCS-0002)."""
    from portal.models import Submission, Transcript

    released = session.exec(select(Transcript).where(Transcript.verify_code == "HB-TEST-ACCS-0002")).one()
    row = Submission(transcript_id=released.id, endpoint="bo", idbanghi=released.record_id, sukien="NEW",
                     phienban=1, thoigiancapnhat="2026-06-01 08:00:00", status="failed", attempts=1,
                     last_error="Không kết nối được tới Bộ GD&ĐT.")
    session.add(row)
    session.commit()
    return {"dl_submission": {"submission_id": row.id}}


def audit_targets(session) -> dict[str, dict]:
    """An audit event to open (the trail may hold none yet for an anonymous visitor)."""
    from portal import audit

    event = audit.record(session, "export", note="test_access")
    session.commit()
    return {"audit_event": {"event_id": event.id}}


def admin_args(app, session, rule) -> dict:
    """Fill an admin route's arguments with the id of an existing row of the right kind."""
    from portal import models

    by_name = {
        "class_id": models.SchoolClass, "student_id": models.Student, "user_id": models.User,
        "year_id": models.SchoolYear, "school_year_id": models.SchoolYear, "subject_id": models.Subject,
        "department_id": models.Department, "grade_id": models.Grade, "guardian_id": models.Guardian,
        "term_id": models.Term, "teacher_id": models.User,
    }
    args = {}
    for name in rule.arguments:
        if name in by_name:
            args[name] = session.exec(select(by_name[name].id)).first()
        elif name == "grade":
            args[name] = 6
        elif name in ("kind",):
            args[name] = "students"
        elif name in ("token", "fmt", "ext", "filename"):
            args[name] = {"token": "x" * 32, "fmt": "csv", "ext": "csv", "filename": "x.csv"}[name]
        else:
            raise AssertionError(f"test_access.admin_args does not know the argument {name!r} of {rule.rule}")
    return args


def all_cases(app, session):
    """The table's cases plus one case per (admin/imports route, method), each with its URL."""
    named = targets(session)
    cases = []
    with app.test_request_context():
        from flask import url_for

        for case in CASES:
            cases.append((case, url_for(case.endpoint, **named[case.args])))
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] in ADMIN_ONLY_BLUEPRINTS:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    url = url_for(rule.endpoint, **admin_args(app, session, rule))
                    cases.append((Case(rule.endpoint, method, ADMIN), url))
    return cases


def test_every_route_is_in_the_table(app):
    declared = {(c.endpoint, c.method) for c in CASES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.split(".")[0] in ADMIN_ONLY_BLUEPRINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in declared:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "routes missing from the allow table in tests/test_access.py:\n" + "\n".join(missing)


def test_every_view_declares_a_policy(app):
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert hasattr(view, "_policy"), endpoint


def _request(client, method, url):
    return client.open(url, method=method, data={})


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_route_by_role(app, session, role):
    client = app.test_client()

    def sign_in():
        if role != "anonymous":
            response = client.post("/dang-nhap", data={"username": ROLE_USERS[role], "password": DEMO_PASSWORD})
            assert response.status_code == 302

    sign_in()
    problems = []
    for case, url in all_cases(app, session):
        response = _request(client, case.method, url)
        status = response.status_code
        to_login = status == 302 and "/dang-nhap" in response.headers.get("Location", "")
        if role in case.allowed:
            if status == 403 or (to_login and case.endpoint != "auth.logout"):
                problems.append(f"{role} should reach {case.method} {url} ({case.endpoint}) but got {status}")
        elif role == "anonymous":
            if not to_login:
                problems.append(f"anonymous should be sent to login by {case.method} {url} but got {status}")
        elif status != 403:
            problems.append(f"{role} should get 403 on {case.method} {url} ({case.endpoint}) but got {status}")
        if case.method != "GET" and role != "anonymous":
            # A POST may have signed the user out or changed state: start again signed in.
            client = app.test_client()
            sign_in()
    assert not problems, "\n".join(problems)
