"""The admin points a signer at another PKCS#11 token, key and certificate (a real certificate from another CA):
checked before anything is saved, then used instead of the demo key."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import select

from portal.models import SignerKey, TeacherProfile, User
from portal.pki import ca, tokens
from portal.transcripts import checks

OTHER = "the-khac"


@pytest.fixture
def other_token(app, session):
    """A second token with its own CA (a stand-in for a commercial CA), a key for hoant and another key; the
    certificates the cases need are issued up front and the token session is closed (logged out)."""
    instance = app.instance_path
    tokens.init_softhsm_token(instance, OTHER)
    pin = tokens.pin_for(instance, OTHER)
    hoa = session.exec(select(User).where(User.username == "hoant")).one()
    personal_id = session.get(TeacherProfile, hoa.id).personal_id
    with tokens.open_session(tokens.SOFTHSM_MODULE, OTHER, pin, rw=True) as token:
        root = ca.create_ca(token, "CA thương mại thử nghiệm")
        tokens.generate_rsa_key(token, "gv-hoa")
        tokens.generate_rsa_key(token, "khoa-khac")

        def issue(label, serial):
            return ca.issue(token, root, ca.build_csr(token, label, ca.Holder("Nguyễn Thị Hoa", serial_number=serial)))

        certs = {"good": issue("gv-hoa", personal_id), "wrong_holder": issue("gv-hoa", "001099000001"),
                 "other_key": issue("khoa-khac", personal_id)}
    return {"root": root, "pin": pin, "certs": certs, "user": hoa}


def _post(client, **fields):
    data = {"signer": fields.pop("signer"), "module": tokens.SOFTHSM_MODULE, "token_label": OTHER,
            "key_label": fields.pop("key_label", "gv-hoa"), "pin": fields.pop("pin", "")}
    data["certificate"] = (io.BytesIO(fields.pop("certificate")), "gv.pem")
    if "trust_root" in fields:
        data["trust_root"] = (io.BytesIO(fields.pop("trust_root")), "root.pem")
    return client.post("/quan-tri/khoa-ky/moi", data=data, content_type="multipart/form-data")


def test_admin_imports_a_certificate_on_another_token(app, session, login_as, other_token):
    hoa = other_token["user"]
    before = session.exec(select(SignerKey).where(SignerKey.user_id == hoa.id, SignerKey.active)).one()
    cert = other_token["certs"]["good"]
    client = login_as("admin")
    assert client.get("/quan-tri/khoa-ky").status_code == 200
    assert "Gán khóa ký số cho người ký" in client.get("/quan-tri/khoa-ky/moi").get_data(as_text=True)
    response = _post(client, signer=str(hoa.id), certificate=ca.to_pem(cert), trust_root=ca.to_pem(other_token["root"]))
    assert response.status_code == 302, re.findall(r"<li>(.*?)</li>", response.get_data(as_text=True))
    session.expire_all()
    active = session.exec(select(SignerKey).where(SignerKey.user_id == hoa.id, SignerKey.active)).one()
    assert (active.token_label, active.key_label, active.serial) == (OTHER, "gv-hoa", str(cert.serial_number))
    assert session.get(SignerKey, before.id).active is False
    roots = checks.trust_roots(app.instance_path)
    assert any(r.dump() == other_token["root"].dump() for r in roots)
    assert "gv-hoa" in client.get("/quan-tri/khoa-ky").get_data(as_text=True)


@pytest.mark.parametrize(("case", "message"), [
    ("wrong_holder", "không đứng tên Nguyễn Thị Hoa"),
    ("other_key", "Khóa trên token không khớp với chứng thư số"),
    ("untrusted", "không chuỗi về chứng thư gốc tin cậy"),
    ("wrong_pin", "Mã PIN của token"),
    ("garbage", "Tệp chứng thư số không đọc được"),
])
def test_a_refused_import_says_why_and_saves_nothing(session, login_as, other_token, case, message):
    certs = other_token["certs"]
    fields = {"signer": str(other_token["user"].id), "trust_root": ca.to_pem(other_token["root"]),
              "certificate": ca.to_pem(certs["good"])}
    if case in ("wrong_holder", "other_key"):
        fields["certificate"] = ca.to_pem(certs[case])
    elif case == "untrusted":
        del fields["trust_root"]
    elif case == "wrong_pin":
        fields["pin"] = "0000"
    elif case == "garbage":
        fields["certificate"] = b"khong phai chung thu"
    before = session.exec(select(SignerKey.id, SignerKey.active)).all()
    response = _post(login_as("admin"), **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    session.expire_all()
    assert session.exec(select(SignerKey.id, SignerKey.active)).all() == before
