"""Screens of grade periods (see service.py)."""

from portal.periods import bp  # noqa: F401
