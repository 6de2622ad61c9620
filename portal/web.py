"""Request/response helpers shared by every area: page or fragment, template globals and filters."""

from __future__ import annotations

from datetime import date, datetime

from flask import render_template, request
from markupsafe import Markup


def is_fragment_request() -> bool:
    """Tell whether htmx asked for a fragment (and not for a whole page on history restore)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render the fragment alone for an htmx swap, else the whole page; vary the cache on HX-Request."""
    template = fragment if fragment and is_fragment_request() else page
    response = render_template(template, **context), status, {"Vary": "HX-Request"}
    return response


def format_date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def format_datetime(value) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if value else ""


def init_app(app) -> None:
    from portal import authz, catalog, models

    app.jinja_env.filters["vndate"] = format_date
    app.jinja_env.filters["vndatetime"] = format_datetime

    @app.context_processor
    def _globals():
        return {
            "ROLE_LABELS": authz.ROLE_LABELS,
            "LEVELS": models.LEVELS,
            "SEXES": models.SEXES,
            "actor": authz.current_actor(),
            "nbsp": Markup("&nbsp;"),
            "ethnicity_name": catalog.ethnicity_name,
            "RELATIONS": models.GUARDIAN_RELATIONS,
            "school_name": _school_name(),
        }


def _school_name() -> str:
    from flask import g
    from sqlmodel import select

    from portal.db import get_session
    from portal.models import School

    if "school_name" not in g:
        try:
            g.school_name = get_session().exec(select(School.name)).first() or ""
        except Exception:  # the page must render even before the first migration
            g.school_name = ""
    return g.school_name
