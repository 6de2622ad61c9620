"""The time the portal believes it is. Everything that decides by time (period deadlines, unlock grants)
asks `now()`, so tests can move the clock (monkeypatch `portal.clock.now`) instead of sleeping."""

from __future__ import annotations

from datetime import datetime

from portal.models import utcnow


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return utcnow()
