"""`flask setup` gives every signer of the demo school a key on the token and a certificate naming them."""

from __future__ import annotations

import os

import pytest
from asn1crypto import x509
from sqlmodel import select

from portal.db import new_session
from portal.models import SignerKey, TeacherProfile, User, UserRole
from portal.pki import ca, service, tokens

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")


def test_provision_creates_one_key_per_signer_and_the_seal_once(app):
    with app.app_context():
        with new_session(write=True, app=app) as session:
            first = service.provision(session, app.instance_path)
            session.commit()
        with new_session(write=True, app=app) as session:
            again = service.provision(session, app.instance_path)
            session.commit()
        with new_session(write=False, app=app) as session:
            signers = session.exec(
                select(User.id).join(TeacherProfile, TeacherProfile.user_id == User.id)
                .where(User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(service.SIGNING_ROLES))))
            ).all()
            rows = session.exec(select(SignerKey)).all()
            profiles = {p.user_id: p for p in session.exec(select(TeacherProfile))}
    assert first.token_created and first.ca_created and len(first.signers) == len(signers) + 1
    assert again.signers == [] and not again.ca_created
    assert len(rows) == len(signers) + 1
    root = ca.read_ca(app.instance_path)
    pin = tokens.pin_for(app.instance_path, tokens.DEFAULT_TOKEN)
    with tokens.open_session(tokens.SOFTHSM_MODULE, tokens.DEFAULT_TOKEN, pin) as session:
        for row in rows:
            cert = x509.Certificate.load(row.certificate)
            assert cert.issuer.dump() == root.subject.dump()
            assert cert.public_key.dump() == tokens.find_public_key(session, row.key_label).dump()
            if row.kind == "person":
                assert cert.subject.native["serial_number"] == profiles[row.user_id].personal_id
            else:
                assert row.user_id is None and row.key_label == service.SCHOOL_KEY
