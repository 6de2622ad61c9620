"""Import screens: choose a kind and a file, preview every row and every error, then commit all or nothing."""

import os

from flask import Response, current_app, make_response, request
from flask_login import current_user

from portal.authz import ANY, current_actor, policy
from portal.db import get_session, new_session
from portal.errors import error_response
from portal.imports import bp, service
from portal.imports.rules import KINDS
from portal.web import render

ADMIN = {"admin": ANY}
MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}
ACCEPT = ".xlsx,.csv," + MIME["xlsx"] + ",text/csv"


def _limits() -> dict:
    cfg = current_app.config
    return {"max_size": service.format_size(cfg.get("IMPORT_MAX_BYTES", 5 * 1024 * 1024)),
            "max_rows": f"{cfg.get('IMPORT_MAX_ROWS', 5000):,}".replace(",", ".")}


def _index(*, error: str | None = None, kind: str | None = None, status: int = 200):
    chosen = kind if kind in KINDS else request.args.get("loai", "students")
    return render("imports/index.html", kinds=KINDS, chosen=chosen if chosen in KINDS else "students", error=error,
                  accept=ACCEPT, actions=service.ACTIONS, status=status, **_limits())


@bp.get("/")
@policy(**ADMIN)
def index():
    return _index()


@bp.get("/mau/<any(students, teachers, assignments):kind>.<any(xlsx, csv):fmt>")
@policy(**ADMIN)
def template(kind: str, fmt: str):
    examples = service.template_examples(get_session(), kind)
    data = service.template_bytes(kind, fmt, examples)
    filename = f"{KINDS[kind].file_stem}.{fmt}"
    return Response(data, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/xem-truoc")
@policy(**ADMIN)
def preview():
    kind = request.form.get("kind", "")
    upload = request.files.get("file")
    if kind not in KINDS:
        return _index(error="Hãy chọn loại dữ liệu cần nhập.", status=400)
    if upload is None or not upload.filename:
        return _index(error="Hãy chọn tệp CSV hoặc Excel (.xlsx) để tải lên.", kind=kind, status=400)
    limit = current_app.config.get("IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    data = upload.stream.read(limit + 1)
    filename = os.path.basename(upload.filename.replace("\\", "/"))[:120]
    try:
        if len(data) > limit:
            raise service.FileRejected(f"Tệp quá lớn. Dung lượng tối đa là {service.format_size(limit)}.")
        # A read-only session: a preview never writes, nor holds the write lock while it reads the file.
        with new_session(write=False) as read:
            result = service.preview_import(session=read, kind=kind, filename=filename, data=data)
    except service.FileRejected as exc:
        return _index(error=f"{filename}: {exc}", kind=kind, status=400)
    token = None
    if result.ok and (result.counts["create"] or result.counts["update"]):
        token = service.store_upload(preview=result, data=data, actor_id=current_user.id)
    return render("imports/preview.html", preview=result, spec=KINDS[kind], token=token, actions=service.ACTIONS,
                  size=service.format_size(result.size))


@bp.post("/ghi")
@policy(**ADMIN)
def commit():
    kind = request.form.get("kind", "")
    token = request.form.get("token", "")
    if kind not in KINDS:
        return _index(error="Hãy chọn loại dữ liệu cần nhập.", status=400)
    try:
        data, meta = service.load_upload(token=token, actor_id=current_user.id, kind=kind,
                                         sha256=request.form.get("sha256", ""))
    except service.FileRejected as exc:
        return _index(error=str(exc), kind=kind, status=400)
    try:
        result = service.commit_import(session=get_session(), actor_id=current_user.id, kind=kind, data=data,
                                       filename=meta.get("filename", ""))
    except service.ImportRejected as exc:
        rejected = service.Preview(kind=kind, filename=meta.get("filename", ""), fmt=meta["fmt"],
                                   sha256=meta["sha256"], size=len(data), errors=exc.errors)
        return render("imports/preview.html", preview=rejected, spec=KINDS[kind], token=None, rejected=True,
                      actions=service.ACTIONS, size=service.format_size(len(data)), status=409)
    except service.FileRejected as exc:
        return _index(error=str(exc), kind=kind, status=400)
    finally:
        service.discard_upload(token)
    # The temporary passwords appear on this page only: never cache it, never store them.
    response = make_response(render("imports/result.html", result=result, spec=KINDS[kind],
                                    actions=service.ACTIONS, filename=meta.get("filename", "")))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(413)
def too_large(_exc):
    """A body beyond MAX_CONTENT_LENGTH: say so on the upload page rather than a bare error page."""
    actor = current_actor()
    if actor is None or not actor.has("admin"):
        return error_response(413)
    return _index(error=f"Tệp quá lớn. Dung lượng tối đa là {_limits()['max_size']}.", status=413)
