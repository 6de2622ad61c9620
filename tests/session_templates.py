"""Session-wide template databases that cost seconds to build, defined here once for the whole suite.

A fixture is one fixture per place it is defined: a session fixture imported into several test modules is
built once per importing module. So the expensive templates live in this plugin (loaded by tests/conftest.py)
and nowhere else; test modules ask for them by name and never import them.
"""

from __future__ import annotations

import shutil

import pytest
from sqlmodel import select

from portal import create_app
from portal.db import new_session
from portal.models import SchoolClass, SchoolYear
from portal.pki import service as pki_service
from tests.conftest import PG_URL, _worker, base_config, pg_create, pg_drop, settle


@pytest.fixture(scope="session")
def signed_template(template_database, tmp_path_factory):
    """The demo template + signers on a SoftHSM2 token + the previous year's 6A1 filled: {url, instance, name}.

    Provisioning (20 RSA keys) and filling a year cost seconds; tests copy it with its token folder
    (tests/transcripts/conftest.copy_signed_instance)."""
    from portal.transcripts import demo

    instance = tmp_path_factory.mktemp("transcripts-template")
    name = f"portal_trtpl_{_worker()}"
    if PG_URL:
        url = pg_create(name, template=template_database["name"])
    else:
        shutil.copyfile(template_database["instance"] / "portal.db", instance / "portal.db")
        url = "sqlite:///" + str(instance / "portal.db")
    app = create_app(base_config(instance, url))
    with app.app_context(), new_session(write=True, app=app) as session:
        pki_service.provision(session, str(instance))
        previous = session.exec(select(SchoolYear).where(SchoolYear.is_current.is_(False))).one()
        klass = session.exec(select(SchoolClass).where(SchoolClass.school_year_id == previous.id,
                                                       SchoolClass.name == "6A1")).one()
        demo.fill_class_year(session, klass)
        session.commit()
    settle(app)
    yield {"url": url, "instance": instance, "name": name if PG_URL else None}
    if PG_URL:
        pg_drop(name)


@pytest.fixture(scope="session")
def arranged_template(signed_template, tmp_path_factory):
    """tests/dashboard/helpers.arrange_transcripts done once on a copy of the signed template (about 40
    signatures); tests copy it with tests/dashboard/helpers.database_url: {url, instance, name, ids}."""
    from tests.dashboard import helpers
    from tests.transcripts.conftest import copy_signed_instance

    instance = tmp_path_factory.mktemp("dashboard-arranged") / "instance"
    name = f"portal_dashtpl_{_worker()}"
    url = copy_signed_instance(signed_template, instance, pg_name=name)
    app = create_app({**base_config(instance, url), "SEND_ENDPOINTS": helpers.ENDPOINTS})
    with new_session(write=False, app=app) as session:
        done = helpers.arrange_transcripts(app, session)
        ids = {"klass": done.klass.id, "students": [st.id for st in done.students], "transcripts": done.transcripts,
               "partly": done.partly}
    settle(app)
    yield {"url": url, "instance": instance, "name": name if PG_URL else None, "ids": ids}
    if PG_URL:
        pg_drop(name)


@pytest.fixture(scope="session")
def sent_package(signed_template, tmp_path_factory):
    """A transfer package exported by a sending instance (tests/transfer/conftest.build_sent_package)."""
    from tests.transfer.conftest import build_sent_package

    return build_sent_package(signed_template, tmp_path_factory)


@pytest.fixture(scope="session")
def receiver_template(tmp_path_factory):
    """The receiving school's template instance (tests/transfer/conftest.build_receiver_template)."""
    from tests.transfer.conftest import build_receiver_template

    return build_receiver_template(tmp_path_factory)
