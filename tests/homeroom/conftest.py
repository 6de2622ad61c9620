"""Homeroom fixtures: 6A1 (homeroom hoant) and its roster."""

from __future__ import annotations

import pytest

from portal.gradebook import service as gradebook
from tests.factories import current_class


@pytest.fixture
def klass(session):
    return current_class(session, "6A1")


@pytest.fixture
def roster(session, klass):
    return [student for _, student in gradebook.class_roster(session, klass.id)]
