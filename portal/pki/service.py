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
