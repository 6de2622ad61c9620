"""Provisioning of signers: the school's SoftHSM2 token, the demo CA, one key and certificate per signer.

`provision(app)` is idempotent and cheap once done: it creates the token (when missing), the demo CA
(instance/pki/ca.pem) and, for every active staff member who signs transcripts (teachers, principal, vice
principal) and has a 12-digit personal ID, a key pair on the token with a certificate naming them; plus the
school's organisation key for the seal. Rows of `signer_keys` record where each key lives; a signer
already provisioned is left alone (an admin may have pointed it at another token).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from portal.models import School, SignerKey, TeacherProfile, User, UserRole
from portal.pki import ca, tokens

SIGNING_ROLES = ("teacher", "principal", "vice_principal")
SCHOOL_KEY = "school-seal"


@dataclass
class Provisioned:
    token_created: bool = False
    ca_created: bool = False
    signers: list[str] = field(default_factory=list)


def key_label(user_id: int) -> str:
    return f"user-{user_id}"


def _signers_needed(session: Session) -> list[tuple[User, TeacherProfile]]:
    have = set(session.exec(select(SignerKey.user_id).where(SignerKey.active, SignerKey.user_id.is_not(None))))
    rows = session.exec(
        select(User, TeacherProfile).join(TeacherProfile, TeacherProfile.user_id == User.id)
        .where(User.active, User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(SIGNING_ROLES))))
        .order_by(User.id)
    ).all()
    return [(user, profile) for user, profile in rows if user.id not in have]


def _row(cert, *, user_id: int | None, kind: str, label: str, token: str) -> SignerKey:
    validity = cert["tbs_certificate"]["validity"]
    return SignerKey(user_id=user_id, kind=kind, module=tokens.SOFTHSM_MODULE, token_label=token, key_label=label,
                     certificate=cert.dump(), subject=cert.subject.human_friendly[:300],
                     issuer=cert.issuer.human_friendly[:300], serial=str(cert.serial_number),
                     not_before=validity["not_before"].native, not_after=validity["not_after"].native)


def provision(session: Session, instance_path: str, *, token: str = tokens.DEFAULT_TOKEN) -> Provisioned:
    """Create what is missing (token, CA, signer keys and certificates); the caller commits."""
    result = Provisioned()
    school = session.exec(select(School)).first()
    needed = _signers_needed(session)
    has_seal = session.exec(select(SignerKey.id).where(SignerKey.kind == "school", SignerKey.active)).first()
    if school is None or (not needed and has_seal and ca.read_ca(instance_path) is not None):
        return result
    result.token_created = tokens.init_softhsm_token(instance_path, token)
    pin = tokens.pin_for(instance_path, token)
    with tokens.open_session(tokens.SOFTHSM_MODULE, token, pin, rw=True) as token_session:
        ca_cert = ca.read_ca(instance_path)
        if ca_cert is None or not tokens.has_key(token_session, ca.CA_LABEL):
            ca_cert = ca.create_ca(token_session, school.name)
            ca.write_ca(instance_path, ca_cert)
            result.ca_created = True
        for user, profile in needed:
            label = key_label(user.id)
            if not tokens.has_key(token_session, label):
                tokens.generate_rsa_key(token_session, label)
            holder = ca.Holder(common_name=user.full_name[:64], serial_number=profile.personal_id,
                               organization=school.name[:64], title=profile.title[:64] or None)
            cert = ca.issue(token_session, ca_cert, ca.build_csr(token_session, label, holder))
            tokens.store_certificate(token_session, label, cert.dump())
            session.add(_row(cert, user_id=user.id, kind="person", label=label, token=token))
            result.signers.append(user.username)
        if not has_seal:
            if not tokens.has_key(token_session, SCHOOL_KEY):
                tokens.generate_rsa_key(token_session, SCHOOL_KEY)
            holder = ca.Holder(common_name=school.name[:64], organization=school.name[:64],
                               serial_number=school.ministry_code)
            cert = ca.issue(token_session, ca_cert, ca.build_csr(token_session, SCHOOL_KEY, holder))
            tokens.store_certificate(token_session, SCHOOL_KEY, cert.dump())
            session.add(_row(cert, user_id=None, kind="school", label=SCHOOL_KEY, token=token))
            result.signers.append(SCHOOL_KEY)
    session.flush()
    return result


# --- Admin: point a signer at another token, key and certificate ---------------------------------------


class ImportRefused(Exception):
    """The key or certificate cannot be used; `problems` lists why (Vietnamese)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _proves_key(token_session, label: str, cert) -> bool:
    """Sign a challenge with the token's key and check it with the certificate's public key."""
    import secrets as _secrets

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    challenge = _secrets.token_bytes(32)
    signature = tokens.sign_sha256_rsa(token_session, label, challenge)
    public = serialization.load_der_public_key(cert.public_key.dump())
    try:
        public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def import_signer(session: Session, instance_path: str, *, actor_id: int, user_id: int | None, module: str,
                  token_label: str, key_label: str, certificate: bytes, pin: str = "",
                  trust_root: bytes | None = None) -> SignerKey:
    """Point a person (or, with user_id None, the school seal) at a key on any PKCS#11 token with its certificate.

    Checks before anything is saved: the library loads, the token is found by label and opens with the PIN
    (a new PIN is kept in instance/secrets, never in the database), the key exists and matches the
    certificate (a challenge signed on the token verifies with the certificate's key), the certificate
    names the holder (serialNumber = personal ID, or the school's code), allows digitalSignature and
    nonRepudiation, is valid now and chains to the trust roots (an uploaded root is added to
    instance/pki/trust/). The caller commits; the previous key of the signer is deactivated.
    """
    import hashlib
    import os
    from datetime import UTC, datetime

    from portal import audit
    from portal.transcripts import checks

    problems: list[str] = []
    module, token_label, key_label = module.strip(), token_label.strip(), key_label.strip()
    try:
        certs = checks.load_certificates(certificate)
        cert = certs[0]
    except Exception:  # noqa: BLE001 - any parse failure is the same message for the admin
        raise ImportRefused(["Tệp chứng thư số không đọc được (cần tệp .pem, .cer hoặc .crt).", ]) from None
    roots_new = []
    if trust_root:
        try:
            roots_new = checks.load_certificates(trust_root)
        except Exception:  # noqa: BLE001
            raise ImportRefused(["Tệp chứng thư gốc không đọc được."]) from None
    if user_id is None:
        school = session.exec(select(School)).first()
        expected, label, kind = school.ministry_code, f"con dấu số của {school.name}", "school"
    else:
        user = session.get(User, user_id)
        profile = session.get(TeacherProfile, user_id)
        if user is None or profile is None:
            raise ImportRefused(["Người ký chưa có hồ sơ giáo viên với số định danh cá nhân."])
        expected, label, kind = profile.personal_id, user.full_name, "person"
    if not (module and token_label and key_label):
        raise ImportRefused(["Nhập đủ đường dẫn thư viện PKCS#11, nhãn token và nhãn khóa."])
    if not os.path.isfile(module):
        raise ImportRefused([f"Không tìm thấy thư viện PKCS#11 “{module}” trên máy chủ."])
    pin = pin.strip() or tokens.load_pins(instance_path).get(token_label, {}).get("pin", "")
    if not pin:
        raise ImportRefused([f"Nhập mã PIN của token “{token_label}” (lưu trong instance/secrets, không lưu trong "
                             "cơ sở dữ liệu)."])
    try:
        with tokens.open_session(module, token_label, pin, verify_pin=True) as token_session:
            tokens.find_private_key(token_session, key_label)
            if not _proves_key(token_session, key_label, cert):
                problems.append("Khóa trên token không khớp với chứng thư số đã chọn.")
    except tokens.TokenError as exc:
        raise ImportRefused([str(exc)]) from None
    except Exception as exc:  # noqa: BLE001 - a foreign module may fail in its own ways
        raise ImportRefused([f"Thư viện PKCS#11 báo lỗi: {type(exc).__name__}: {exc}"]) from None
    roots = checks.trust_roots(instance_path) + roots_new
    problems += checks.check_certificate(cert, roots=roots, at=datetime.now(UTC), expected_id=expected,
                                         holder_label=label)
    if problems:
        raise ImportRefused(problems)
    if roots_new:
        folder = os.path.join(ca.pki_dir(instance_path), "trust")
        os.makedirs(folder, exist_ok=True)
        for root in roots_new:
            name = hashlib.sha256(root.dump()).hexdigest()[:16]
            with open(os.path.join(folder, f"{name}.pem"), "wb") as f:
                f.write(ca.to_pem(root))
    if tokens.load_pins(instance_path).get(token_label, {}).get("pin") != pin:
        tokens.save_pin(instance_path, token_label, pin=pin)
    old = session.exec(select(SignerKey).where(SignerKey.active, SignerKey.kind == kind,
                                               SignerKey.user_id == user_id if user_id is not None
                                               else SignerKey.user_id.is_(None))).all()
    for row in old:
        row.active = False
        session.add(row)
    row = _row(cert, user_id=user_id, kind=kind, label=key_label, token=token_label)
    row.module = module
    session.add(row)
    session.flush()
    audit.record(session, "signer_key.imported", actor_id=actor_id, object_type="signer_keys", object_id=row.id,
                 before=[{"module": o.module, "token": o.token_label, "key": o.key_label, "serial": o.serial}
                         for o in old] or None,
                 after={"module": module, "token": token_label, "key": key_label, "subject": row.subject,
                        "issuer": row.issuer, "serial": row.serial},
                 note=f"Khóa ký của {label}")
    return row
