"""Public verification pages: no sign-in, rate-limited, nothing personal beyond the document presented."""

from flask import current_app, request

from portal.authz import public
from portal.db import read_session
from portal.public import bp, service
from portal.web import render

PAGE = "public/index.html"
RESULT = "public/_result.html"  # the fragment htmx swaps in: one place for every outcome


def _client() -> str:
    return request.remote_addr or "?"


def _refused(exc: service.RateLimited):
    response = render(PAGE, RESULT, status=429, problem=str(exc))
    window = int(current_app.config["VERIFY_WINDOW"].total_seconds())
    return response[0], response[1], {**response[2], "Retry-After": str(window)}


@bp.get("/tra-cuu")
@public
def index():
    return render(PAGE)


@bp.post("/tra-cuu")
@public
def check_file():
    try:
        service.count_attempt(app=current_app, ip=_client())
    except service.RateLimited as exc:
        return _refused(exc)
    try:
        pdf = service.read_pdf_upload(request.files.get("pdf"))
    except service.BadUpload as exc:
        return render(PAGE, RESULT, status=400, problem=str(exc))
    report = service.verify_pdf(read_session(), pdf=pdf, app=current_app)
    return render(PAGE, RESULT, report=report)


@bp.post("/tra-cuu/ma")
@public
def check_code():
    return _code(request.form.get("code", ""))


@bp.get("/tra-cuu/<code>")
@public
def code(code: str):
    return _code(code)


def _code(text: str):
    try:
        service.count_attempt(app=current_app, ip=_client())
    except service.RateLimited as exc:
        return _refused(exc)
    found = service.lookup_code(read_session(), text)
    return render(PAGE, RESULT, status=200 if found.found else 404, found=found,
                  typed=text.strip()[:40])
