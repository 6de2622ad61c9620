"""Screens of the progress dashboard."""

from portal.dashboard import bp  # noqa: F401
