"""Enforcement tests: a movable clock and open periods for every test of this folder."""

from __future__ import annotations

import pytest

from portal import clock as portal_clock
from tests.enforcement.helpers import Clock, open_all_periods


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The portal's clock, which the test moves (`clock.move(minutes=61)`, `clock.now = …`)."""
    moving = Clock()
    monkeypatch.setattr(portal_clock, "now", lambda: moving.now)
    return moving


@pytest.fixture(autouse=True)
def _open_periods(request):
    """Every deadline of the current year 60 days after the clock: only what a test does locks a period."""
    if "app" in request.fixturenames:
        open_all_periods(request.getfixturevalue("app"), request.getfixturevalue("clock"))
