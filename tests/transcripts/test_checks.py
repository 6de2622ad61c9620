"""Pre-signing checks of certificates, and the legal order of signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509
from sqlmodel import select

from portal.models import SignerKey, TeacherProfile, TranscriptSignature
from portal.pki import ca, tokens
from portal.transcripts import checks, service


def _sig(position, stage, role, user_id, status="pending"):
    return TranscriptSignature(transcript_id=1, position=position, stage=stage, role=role, user_id=user_id,
                               signer_name=f"N{position}", field_name=f"F{position}", status=status)


CHAIN = [(1, 1, "subject", 11), (2, 1, "subject", 12), (3, 1, "subject", 13), (4, 2, "homeroom", 11),
         (5, 3, "principal", 2), (6, 4, "school", None)]


@pytest.mark.parametrize(("signed", "user", "expected"), [
    ((), 12, [2]),  # subject teachers sign in any order
    ((), 11, [1]),  # the homeroom teacher's own subject first; the homeroom signature waits for the others
    ((1, 2), 11, []),  # subject 3 still missing: nothing for 11 now
    ((1, 2, 3), 11, [4]),
    ((1, 2, 3), 2, []),  # the principal waits for the homeroom teacher
    ((1, 2, 3, 4), 2, [5, 6]),  # the principal's signature brings the school seal with it
    ((1, 2, 3, 4, 5, 6), 2, []),
    ((), 99, []),
])
def test_due_signatures_follow_the_legal_order(signed, user, expected):
    sigs = [_sig(p, st, r, u, "signed" if p in signed else "pending") for p, st, r, u in CHAIN]
    assert [s.position for s in service.due_signatures(sigs, user)] == expected


def test_waiting_for_names_the_first_incomplete_stage():
    sigs = [_sig(p, st, r, u, "signed" if p in (1, 3) else "pending") for p, st, r, u in CHAIN]
    assert [s.position for s in service.waiting_for(sigs)] == [2]
    assert service.waiting_for([_sig(p, st, r, u, "signed") for p, st, r, u in CHAIN]) == []


@pytest.fixture
def token(app):
    pin = tokens.pin_for(app.instance_path, tokens.DEFAULT_TOKEN)
    with tokens.open_session(tokens.SOFTHSM_MODULE, tokens.DEFAULT_TOKEN, pin, rw=True) as session:
        yield session


def _key_and_profile(session):
    key = session.exec(select(SignerKey).where(SignerKey.kind == "person", SignerKey.active)).first()
    return key, session.get(TeacherProfile, key.user_id)


def test_a_provisioned_certificate_passes(app, session):
    key, profile = _key_and_profile(session)
    roots = checks.trust_roots(app.instance_path)
    assert checks.check_key(key, roots=roots, at=datetime.now(UTC), expected_id=profile.personal_id,
                            holder_label="GV") == []


def test_expired_not_yet_valid_wrong_holder_and_untrusted_are_listed_in_vietnamese(app, session):
    key, profile = _key_and_profile(session)
    cert = x509.Certificate.load(key.certificate)
    roots = checks.trust_roots(app.instance_path)
    later = datetime.now(UTC) + timedelta(days=366 * 10)
    assert any("đã hết hạn" in p for p in checks.check_certificate(
        cert, roots=roots, at=later, expected_id=profile.personal_id, holder_label="GV"))
    assert any("chưa có hiệu lực" in p for p in checks.check_certificate(
        cert, roots=roots, at=datetime(2000, 1, 1, tzinfo=UTC), expected_id=profile.personal_id, holder_label="GV"))
    problems = checks.check_certificate(cert, roots=roots, at=datetime.now(UTC), expected_id="012345678901",
                                        holder_label="Nguyễn Văn A")
    assert problems == [f"Chứng thư số không đứng tên Nguyễn Văn A: số định danh trên chứng thư là "
                        f"“{profile.personal_id}”, trên hồ sơ là “012345678901”."]
    seal = session.exec(select(SignerKey).where(SignerKey.kind == "school")).one()
    foreign_root = [x509.Certificate.load(seal.certificate)]
    assert any("không chuỗi về chứng thư gốc" in p for p in checks.check_certificate(
        cert, roots=foreign_root, at=datetime.now(UTC), expected_id=profile.personal_id, holder_label="GV"))
    assert checks.check_key(None, roots=roots, at=datetime.now(UTC), expected_id="1", holder_label="Lê Văn B") == [
        "Lê Văn B chưa có khóa ký số (quản trị viên cần cấp hoặc nhập chứng thư số)."]


def test_a_certificate_without_non_repudiation_is_refused(app, session, token):
    key, profile = _key_and_profile(session)
    root = ca.read_ca(app.instance_path)
    request = ca.build_csr(token, key.key_label, ca.Holder("Giáo viên thử", serial_number=profile.personal_id))
    cert = ca.issue(token, root, request, usage={"digital_signature"})
    problems = checks.check_certificate(cert, roots=[root], at=datetime.now(UTC), expected_id=profile.personal_id,
                                        holder_label="GV")
    assert problems == ["Chứng thư số của GV không cho phép chống chối bỏ (nonRepudiation)."]
