"""Alembic migrations (script location ``portal:migrations``); run through ``flask --app wsgi db …``."""
