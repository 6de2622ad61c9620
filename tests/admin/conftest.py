"""Fixtures for the administration tests: a signed-in admin client and fresh read sessions for checks."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from PIL import Image

from portal.db import new_session


@pytest.fixture
def admin(login_as):
    """The test client signed in as the demo admin (quantri)."""
    return login_as("admin")


@pytest.fixture
def db(app):
    """Open a fresh read session (a new snapshot) to check what a request left in the database."""

    @contextmanager
    def _open():
        with new_session(write=False, app=app) as s:
            yield s

    return _open


def image_bytes(fmt: str = "PNG", size=(90, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 180, 160)).save(out, format=fmt)
    return out.getvalue()
