"""The life of a transcript through the service: XML = PDF = database, the legal order, release, revoke and
reissue, and the demo school's released class (pdfsig and pyHanko with the demo CA; tampering fails)."""

from __future__ import annotations

import subprocess
import unicodedata
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import select

from portal.gradebook.service import class_roster
from portal.models import Assessment, Transcript, TranscriptSignature
from portal.transcripts import checks, data, pades, rules, service, xmlfile
from portal.transcripts.demo import release_demo_class
from tests.public.conftest import principal_actor, release_student, released, sign_and_release  # noqa: F401,F811


@pytest.fixture
def prepared(app, session, previous_class) -> Transcript:
    student = class_roster(session, previous_class.id, include_left=True)[1][1]
    with app.app_context():
        row = service.prepare(session, actor=principal_actor(session), student_id=student.id,
                              school_year_id=previous_class.school_year_id, app=app).transcript
        session.commit()
    return row


def _pdftext(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "t.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return _flat(out)


def _flat(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def test_xml_pdf_and_database_agree_field_for_field(app, session, prepared, tmp_path):
    stored = data.Record.from_json(prepared.data_json)
    fresh = data.build_record(session, student_id=prepared.student_id, school_year_id=prepared.school_year_id,
                              identity=service.identity_of(prepared))
    assert service.data_fingerprint(fresh) == prepared.data_sha256 == service.data_fingerprint(stored)
    report = pades.validate(prepared.pdf, trust_roots=checks.trust_roots(app.instance_path))
    (name, embedded), = report.embedded_files.items()
    assert name.endswith(f"_v{prepared.version}.xml") and embedded == prepared.xml
    assert xmlfile.from_xml(embedded) == stored  # the attached XML is the record, field for field
    assert xmlfile.verify_xml(embedded, trust_roots=checks.trust_roots(app.instance_path)).ok
    page = _pdftext(prepared.pdf, tmp_path)
    missing = [value for value in rules.displayed_values(stored) if _flat(value) not in page]
    assert missing == []  # every displayed field of the record is on the page


def test_the_legal_order_is_enforced_and_release_needs_every_signature(app, session, prepared):
    signatures = service.signatures_of(session, prepared.id)
    homeroom = next(s for s in signatures if s.role == "homeroom")
    principal = next(s for s in signatures if s.role == "principal")
    first_teacher = next(s for s in signatures if s.role == "subject" and s.user_id != homeroom.user_id)
    with pytest.raises(service.Conflict, match="Chưa đến lượt bạn ký"):
        service.sign_for(user_id=principal.user_id, transcript_id=prepared.id, app=app)
    with app.app_context(), pytest.raises(service.ChecksFailed) as refused:
        service.release(session, actor=principal_actor(session), transcript_id=prepared.id, app=app)
    session.rollback()
    assert any("Còn thiếu chữ ký" in p and homeroom.signer_name in p for p in refused.value.problems)
    assert service.sign_for(user_id=first_teacher.user_id, transcript_id=prepared.id, app=app).signed == ["subject"]
    with pytest.raises(service.Conflict, match="không còn chữ ký nào"):
        service.sign_for(user_id=first_teacher.user_id, transcript_id=prepared.id, app=app)
    session.commit()  # end the test's read transaction: the signature was written by another session
    session.expire_all()
    report = pades.validate(session.get(Transcript, prepared.id).pdf, trust_roots=checks.trust_roots(app.instance_path))
    assert len(report.signatures) == 1 and report.signatures[0].certification
    assert session.exec(select(TranscriptSignature.status).where(
        TranscriptSignature.id == first_teacher.id)).one() == "signed"


def test_released_transcript_cannot_be_prepared_again_or_edited(app, session, released):  # noqa: F811
    assert released.status == "released"
    with app.app_context(), pytest.raises(service.Conflict, match="đã phát hành"):
        service.prepare(session, actor=principal_actor(session), student_id=released.student_id,
                        school_year_id=released.school_year_id, app=app)
    session.rollback()
    with pytest.raises(Exception, match="cannot change"):
        session.execute(text("UPDATE assessments SET value = '10' WHERE student_id = :s AND school_year_id = :y"),
                        {"s": released.student_id, "y": released.school_year_id})
        session.flush()
    session.rollback()


def test_changed_data_blocks_release_until_prepared_again(app, session, prepared):
    fingerprint = prepared.data_sha256
    cell = session.exec(select(Assessment).where(Assessment.student_id == prepared.student_id,
                                                 Assessment.school_year_id == prepared.school_year_id,
                                                 Assessment.slot == "ck")).first()
    cell.value = "10" if cell.value != "10" else "9"
    session.add(cell)
    session.commit()
    with app.app_context():
        problems = service.release_problems(session, session.get(Transcript, prepared.id), app)
    assert "Dữ liệu học bạ trong hệ thống đã thay đổi sau khi lập: cần lập lại và ký lại." in problems
    first = next(s for s in service.signatures_of(session, prepared.id) if s.role == "subject")
    session.commit()
    service.sign_for(user_id=first.user_id, transcript_id=prepared.id, app=app)
    with app.app_context():
        again = service.prepare(session, actor=principal_actor(session), student_id=prepared.student_id,
                                school_year_id=prepared.school_year_id, app=app)
        session.commit()
    assert again.rendered and again.transcript.id == prepared.id and again.transcript.version == 1
    assert all(s.status == "pending" for s in service.signatures_of(session, prepared.id))
    assert again.transcript.data_sha256 != fingerprint


def test_revoke_needs_the_written_decision_and_reissues_version_two(app, session, released):  # noqa: F811
    actor = principal_actor(session)
    with app.app_context(), pytest.raises(service.ChecksFailed) as refused:
        service.revoke(session, actor=actor, transcript_id=released.id, reason="ngắn", minutes_number="",
                       minutes_date=None, approver="")
    session.rollback()
    assert len(refused.value.problems) == 4
    with app.app_context():
        result = service.revoke(session, actor=actor, transcript_id=released.id,
                                reason="Sai sót khi nhập điểm môn Toán", minutes_number="12/QĐ-THCS",
                                minutes_date=date(2026, 9, 10), approver="Nguyễn Văn Thành", app=app)
        session.commit()
    old = session.get(Transcript, released.id)
    new = result.transcript
    assert old.status == "revoked" and old.revoke_minutes_number == "12/QĐ-THCS"
    assert (new.version, new.supersedes_id, new.record_id, new.status) == (2, old.id, old.record_id, "signing")
    assert new.verify_code != old.verify_code
    assert data.Record.from_json(new.data_json).hocba["sukien"] == "UPDATE"
    assert service.status_for_code(session, old.verify_code).state == "revoked"
    sign_and_release(app, session, new.id)
    assert service.status_for_code(session, old.verify_code).state == "superseded"
    assert service.status_for_code(session, old.verify_code).newer_version == 2
    assert service.status_for_code(session, new.verify_code).state == "valid"


def _nssdb(tmp_path, ca_pem) -> str:
    folder = tmp_path / "nss"
    folder.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{folder}", "-n", "ca", "-t", "CT,C,C", "-i", ca_pem], check=True,
                   capture_output=True)
    return f"sql:{folder}"


def _pdfsig(nss: str, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", "-nssdir", nss, str(path)], capture_output=True, text=True).stdout


def test_demo_released_transcripts_pass_pdfsig_and_pyhanko_and_fail_after_tampering(app, session, tmp_path):
    from portal.pki import ca

    assert release_demo_class(app, limit=2) == 2
    rows = session.exec(select(Transcript).where(Transcript.status == "released")).all()
    assert len(rows) == 2
    roots = checks.trust_roots(app.instance_path)
    nss = _nssdb(tmp_path, ca.ca_path(app.instance_path))
    for row in rows:
        count = len(service.signatures_of(session, row.id))
        report = pades.validate(row.pdf, trust_roots=roots)
        assert report.ok and len(report.signatures) == count
        out = _pdfsig(nss, row.pdf, tmp_path)
        assert out.count("Signature is Valid.") == count and out.count("Certificate is Trusted.") == count, out
        tampered = bytearray(row.pdf)
        tampered[11] ^= 0x01  # inside every signature's first byte range
        assert not pades.validate(bytes(tampered), trust_roots=roots).ok
        out = _pdfsig(nss, bytes(tampered), tmp_path)
        assert "Signature is Valid." not in out
    assert release_demo_class(app, limit=2) == 0  # idempotent: the class already has transcripts
