"""Screens of the audit trail."""

from portal.audit_trail import bp  # noqa: F401
