"""The demo certification authority and signer certificates, every key operation inside the token.

The demo CA's key lives on the school's token (label `demo-ca`); `instance/pki/ca.pem` is its self-signed
certificate, the trust root of the demo. A signer's key pair is generated on the token, its certificate
request (PKCS#10) is signed on the token by that key, and the CA signs the certificate on the token: no
private key ever leaves it. The DER structures are built with asn1crypto (the library pyHanko uses); the
`cryptography` package cannot sign with a token key.

Signer certificates carry keyUsage digitalSignature + nonRepudiation (pyHanko requires nonRepudiation by
default), the holder's name as CN and, for people, their 12-digit personal ID as serialNumber; the
school's organisation certificate (the seal) names the school as O and CN.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import csr, keys, pem, x509

from portal.pki import tokens

CA_LABEL = "demo-ca"
CA_YEARS = 10
SIGNER_YEARS = 3
SIG_ALGO = {"algorithm": "sha256_rsa"}


@dataclass(frozen=True)
class Holder:
    """Who a certificate names."""

    common_name: str
    serial_number: str | None = None  # 12-digit personal ID (CCCD) of a person
    organization: str | None = None
    title: str | None = None


def pki_dir(instance_path: str) -> str:
    path = os.path.join(instance_path, "pki")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def ca_path(instance_path: str) -> str:
    return os.path.join(pki_dir(instance_path), "ca.pem")


def _name(holder: Holder) -> x509.Name:
    fields = {"country_name": "VN", "common_name": holder.common_name}
    if holder.organization:
        fields["organization_name"] = holder.organization
    if holder.title:
        fields["title"] = holder.title
    if holder.serial_number:
        fields["serial_number"] = holder.serial_number
    return x509.Name.build(fields, use_printable=False)


def _key_id(public: keys.PublicKeyInfo) -> bytes:
    return hashlib.sha1(public["public_key"].dump()).digest()  # noqa: S324 - RFC 5280 §4.2.1.2 method 1


def build_csr(session, label: str, holder: Holder) -> csr.CertificationRequest:
    """A PKCS#10 request for the token key `label`, signed on the token by that key."""
    info = csr.CertificationRequestInfo({
        "version": "v1", "subject": _name(holder), "subject_pk_info": tokens.find_public_key(session, label),
        "attributes": [],
    })
    signature = tokens.sign_sha256_rsa(session, label, info.dump())
    return csr.CertificationRequest({"certification_request_info": info, "signature_algorithm": SIG_ALGO,
                                     "signature": signature})


def _validity(not_before: datetime, years: int) -> dict:
    not_after = not_before + timedelta(days=365 * years)
    return {"not_before": x509.Time({"utc_time": not_before}), "not_after": x509.Time({"utc_time": not_after})}


def _sign_tbs(session, ca_label: str, tbs: x509.TbsCertificate) -> x509.Certificate:
    signature = tokens.sign_sha256_rsa(session, ca_label, tbs.dump())
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": SIG_ALGO, "signature_value": signature})


def create_ca(session, school_name: str, *, now: datetime | None = None) -> x509.Certificate:
    """Generate the CA key on the token (if missing) and its self-signed certificate."""
    if not tokens.has_key(session, CA_LABEL):
        tokens.generate_rsa_key(session, CA_LABEL, bits=3072)
    public = tokens.find_public_key(session, CA_LABEL)
    name = _name(Holder(common_name=f"CA thử nghiệm – {school_name}"[:64], organization=school_name[:64]))
    now = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(minutes=5)
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": secrets.randbits(63), "signature": SIG_ALGO, "issuer": name,
        "validity": _validity(now, CA_YEARS), "subject": name, "subject_public_key_info": public,
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True, "path_len_constraint": 0}},
            {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}},
            {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(public)},
        ],
    })
    return _sign_tbs(session, CA_LABEL, tbs)


def issue(session, ca_cert: x509.Certificate, request: csr.CertificationRequest, *,
          now: datetime | None = None, years: int = SIGNER_YEARS, usage: set[str] | None = None) -> x509.Certificate:
    """Check a request's own signature and issue a signing certificate for it, signed by the CA on the token."""
    info = request["certification_request_info"]
    _check_csr_signature(request)
    public = info["subject_pk_info"]
    now = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(minutes=5)
    usage = usage or {"digital_signature", "non_repudiation"}
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": secrets.randbits(63), "signature": SIG_ALGO,
        "issuer": ca_cert.subject, "validity": _validity(now, years), "subject": info["subject"],
        "subject_public_key_info": public,
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
            {"extn_id": "key_usage", "critical": True, "extn_value": usage},
            {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(public)},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": ca_cert.key_identifier}},
        ],
    })
    return _sign_tbs(session, CA_LABEL, tbs)


def _check_csr_signature(request: csr.CertificationRequest) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    info = request["certification_request_info"]
    public = serialization.load_der_public_key(info["subject_pk_info"].dump())
    try:
        public.verify(request["signature"].native, info.dump(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise tokens.TokenError("Yêu cầu cấp chứng thư có chữ ký không hợp lệ.") from None


def to_pem(cert: x509.Certificate) -> bytes:
    return pem.armor("CERTIFICATE", cert.dump())


def load_pem(data: bytes) -> x509.Certificate:
    if pem.detect(data):
        _type, _headers, data = pem.unarmor(data)
    return x509.Certificate.load(data)


def write_ca(instance_path: str, cert: x509.Certificate) -> str:
    path = ca_path(instance_path)
    with open(path + ".tmp", "wb") as f:
        f.write(to_pem(cert))
    os.replace(path + ".tmp", path)
    return path


def read_ca(instance_path: str) -> x509.Certificate | None:
    try:
        with open(ca_path(instance_path), "rb") as f:
            return load_pem(f.read())
    except FileNotFoundError:
        return None
