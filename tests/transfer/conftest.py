"""Fixtures for transfers: two instances in one test, each with its own instance folder and database.

The sending school is the usual fixture app (the demo school with the signed template of tests/transcripts:
signers on a SoftHSM2 token, last year's 6A1 filled). `sent_package` builds, once per test session, a package
from a separate copy of that template (one version released, revoked and reissued, so the package carries a
revoked version too). The receiving school (`make_receiver`) is a fresh database of its own (migrated, one
school, the current year with a class, an office account and a principal, a CA of its own) in another
instance folder; with ``trust=True`` the sending instance's ``pki/ca.pem`` is copied into its ``pki/trust/``.
The session fixtures `sent_package` and `receiver_template` are defined once, in tests/session_templates.py,
and built by the functions here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import select

from portal import create_app
from portal.db import engine_for, new_session
from portal.models import Grade, School, SchoolClass, SchoolYear, User, UserRole
from portal.seed import school_year_bounds
from tests.conftest import (
    DEMO_PASSWORD,
    TODAY,
    SessionAwareClient,
    _worker,
    base_config,
    settle,
)
from tests.public.conftest import (  # noqa: F401 - fixtures
    database_url,
    previous_class,
    principal_actor,
    release_student,
    released,
    sign_and_release,
)
from tests.transcripts.conftest import copy_signed_instance

RECEIVER_SCHOOL = "Trường THCS Lê Quý Đôn (trường nhận)"
RECEIVER_CODE = "01209876"
RECEIVER_CLASS = "7A3"


def build_sent_package(signed_template, tmp_path_factory) -> dict:
    """A package exported by a sending instance: its bytes, the instance's CA and what went into it.

    The first student of last year's 6A1: version 1 released, then revoked, version 2 released."""
    from portal.gradebook.service import class_roster
    from portal.models import Student, Transcript
    from portal.transcripts import service as transcripts
    from portal.transfer import service

    instance = tmp_path_factory.mktemp("transfer-sender") / "instance"
    url = copy_signed_instance(signed_template, instance, pg_name=f"portal_tfsend_{_worker()}")
    app = create_app(base_config(instance, url))
    with app.app_context(), new_session(write=True, app=app) as session:
        previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
        klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                       SchoolClass.name == "6A1")).one()
        student_id = class_roster(session, klass.id, include_left=True)[0][1].id
        actor = principal_actor(session)
        first = transcripts.prepare(session, actor=actor, student_id=student_id, school_year_id=previous.id,
                                    app=app).transcript
        session.commit()
        first = sign_and_release(app, session, first.id)
        second = transcripts.revoke(session, actor=principal_actor(session), transcript_id=first.id,
                                    reason="Sai sót khi nhập nhận xét môn học.", minutes_number="12/QĐ-THCS",
                                    minutes_date=date.today(), approver="Nguyễn Văn Thành", app=app).transcript
        session.commit()
        second = sign_and_release(app, session, second.id)
        name, data = service.export_package(session, actor=principal_actor(session), student_id=student_id)
        session.commit()
        rows = session.exec(select(Transcript).where(Transcript.student_id == student_id)
                            .order_by(Transcript.version)).all()
        student = session.get(Student, student_id)
        school = session.exec(select(School)).first()
        result = {"name": name, "data": data, "ca_pem": (instance / "pki" / "ca.pem").read_bytes(),
                  "pdfs": [r.pdf for r in rows], "xmls": [r.xml for r in rows],
                  "statuses": [r.status for r in rows], "student_code": student.student_code,
                  "personal_id": student.personal_id, "full_name": student.full_name,
                  "school_name": school.name, "school_code": school.ministry_code, "province": school.province_name,
                  "year_name": previous.name}
    engine_for(app).dispose()
    return result


def build_receiver_template(tmp_path_factory):
    """A migrated database with one small school of its own (SQLite, whatever the suite runs on) and the
    certificate of its own CA (instance/pki/ca.pem, as `flask setup` makes one)."""
    from portal import migrate
    from portal.auth.passwords import hash_password

    instance = tmp_path_factory.mktemp("transfer-receiver-template")
    url = "sqlite:///" + str(instance / "portal.db")
    app = create_app(base_config(instance, url))
    migrate.upgrade(app)
    start, end = school_year_bounds(TODAY)
    with app.app_context(), new_session(write=True, app=app) as session:
        session.add(School(ministry_code=RECEIVER_CODE, name=RECEIVER_SCHOOL, level="thcs", department_code="01",
                           department_name="Sở Giáo dục và Đào tạo Hà Nội", province_name="Hà Nội",
                           province_code="01", release_place="Hà Nội"))
        year = SchoolYear(name=f"{start}-{end}", start_date=date(start, 9, 5), end_date=date(end, 5, 31),
                          is_current=True)
        grade = Grade(number=7)
        session.add_all([year, grade])
        session.flush()
        session.add(SchoolClass(school_year_id=year.id, grade_id=grade.id, name=RECEIVER_CLASS))
        password = hash_password(DEMO_PASSWORD)
        for username, full_name, role in (("vanthu2", "Đỗ Thị Lan", "office"),
                                          ("hieutruong2", "Phan Văn Đức", "principal"),
                                          ("giaovien2", "Vũ Minh Châu", "teacher")):
            user = User(username=username, full_name=full_name, password_hash=password)
            session.add(user)
            session.flush()
            session.add(UserRole(user_id=user.id, role=role))
        session.commit()
    settle(app)
    (instance / "ca.pem").write_bytes(own_ca_pem())
    return instance


def own_ca_pem() -> bytes:
    """A CA certificate of the receiving school's own (it trusts itself, not the sender, until told to)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA thử nghiệm – THCS Lê Quý Đôn")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Receiver:
    app: object
    session: object
    instance: object

    def client(self, username: str = "vanthu2"):
        client = self.app.test_client()
        response = client.post("/dang-nhap", data={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, f"login of {username} failed"
        return client

    def trust(self, ca_pem: bytes) -> None:
        trust = self.instance / "pki" / "trust"
        trust.mkdir(parents=True, exist_ok=True)
        (trust / "truong-gui.pem").write_bytes(ca_pem)

    def school(self) -> School:
        return self.session.exec(select(School)).one()

    def year(self) -> SchoolYear:
        return self.session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()

    def klass(self) -> SchoolClass:
        return self.session.exec(select(SchoolClass).where(SchoolClass.name == RECEIVER_CLASS)).one()


@pytest.fixture
def make_receiver(receiver_template, tmp_path, sent_package):
    """make_receiver(trust=True): the receiving instance, trusting the sending instance's CA or not."""
    made = []

    def _make(*, trust: bool = True) -> Receiver:
        instance = tmp_path / f"other{len(made) or ''}" / "instance"
        instance.mkdir(parents=True)
        shutil.copyfile(receiver_template / "portal.db", instance / "portal.db")
        (instance / "pki").mkdir()
        shutil.copyfile(receiver_template / "ca.pem", instance / "pki" / "ca.pem")
        app = create_app(base_config(instance, "sqlite:///" + str(instance / "portal.db")))
        app.test_client_class = SessionAwareClient
        session = new_session(write=False, app=app)
        app.extensions["test_sessions"] = [session]
        receiver = Receiver(app, session, instance)
        if trust:
            receiver.trust(sent_package["ca_pem"])
        made.append(receiver)
        return receiver

    yield _make
    for receiver in made:
        receiver.session.close()
        engine_for(receiver.app).dispose()
