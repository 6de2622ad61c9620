"""Score sheets in Excel: download the pre-filled template, upload it back, preview, commit all or nothing.

Between the preview and the commit the uploaded bytes wait in instance/uploads/xlsx/ (portal.uploads: never
in the cookie), with a JSON sidecar naming the uploader, the sheet and the SHA-256 that was previewed; the
commit checks all three, reads the file again inside its write transaction and deletes it. Files left
behind are purged after an hour.
"""

from __future__ import annotations

import hashlib
import os

from flask import Response, current_app, request, url_for
from flask_login import current_user

from portal import audit, uploads
from portal.authz import current_actor, policy, teaches_pair
from portal.db import get_session, new_session
from portal.gradebook import bp, service, xlsx
from portal.web import render

TEACHER = {"teacher": teaches_pair()}
TERM = "<any(hk1, hk2):term>"
MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCEPT = ".xlsx," + MIME
STORE = uploads.PreviewStore("uploads/xlsx")
GRID_ENDPOINT = "gradebook.grid"  # the score-entry grid (views.py), once it is registered


@bp.get(f"/<int:class_id>/<int:subject_id>/{TERM}/mau.xlsx")
@policy(**TEACHER)
def xlsx_template(class_id: int, subject_id: int, term: str):
    data, name = xlsx.template_for(get_session(), class_id=class_id, subject_id=subject_id, term=term)
    audit.record_now("export", object_type="xlsx", object_id=name[:60], class_id=class_id, subject_id=subject_id,
                     note=f"Mẫu bảng điểm {term}: {name}")
    return Response(data, mimetype=MIME, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                  "Cache-Control": "no-store"})


@bp.route(f"/<int:class_id>/<int:subject_id>/{TERM}/tai-len", methods=["GET", "POST"])
@policy(**TEACHER)
def xlsx_upload(class_id: int, subject_id: int, term: str):
    if request.method == "GET":
        return _upload_page(class_id, subject_id, term)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page(class_id, subject_id, term, error="Hãy chọn tệp Excel (.xlsx) để tải lên.", status=400)
    name = os.path.basename(upload.filename.replace("\\", "/"))[:120]
    data = upload.stream.read(xlsx.MAX_BYTES + 1)
    get_session().rollback()  # end the write transaction the access check opened: a preview only reads
    # A read-only session: a preview never writes, nor holds the write lock while it reads the file.
    with new_session(write=False) as read:
        try:
            review = xlsx.review_upload(read, class_id=class_id, subject_id=subject_id, term=term, data=data)
        except xlsx.FileRefused as exc:
            return _upload_page(class_id, subject_id, term, error=f"{name}: {exc}", status=400)
    token = sha256 = None
    if review.ok and review.changes:
        sha256 = hashlib.sha256(data).hexdigest()
        token = STORE.store(data, {"actor_id": current_user.id, "class_id": class_id, "subject_id": subject_id,
                                   "term": term, "filename": name})
    return render("gradebook/xlsx_preview.html", review=review, token=token, sha256=sha256, filename=name,
                  status=200 if review.ok else 422, **_context(class_id, subject_id, term))


@bp.post(f"/<int:class_id>/<int:subject_id>/{TERM}/tai-len/ghi")
@policy(**TEACHER)
def xlsx_commit(class_id: int, subject_id: int, term: str):
    token = request.form.get("token", "")
    try:
        data, meta = STORE.load(token, sha256=request.form.get("sha256", ""),
                                expect={"actor_id": current_user.id, "class_id": class_id, "subject_id": subject_id,
                                        "term": term})
    except uploads.Gone:
        return _upload_page(class_id, subject_id, term, status=400,
                            error="Tệp đã xem trước không còn (đã lưu, hoặc đã quá 1 giờ). Vui lòng tải tệp lên lại.")
    except uploads.Altered:
        return _upload_page(class_id, subject_id, term, status=400,
                            error="Tệp đã lưu tạm không khớp với tệp đã xem trước. Vui lòng tải tệp lên lại.")
    session = get_session()
    try:
        review = xlsx.commit_upload(session, actor=current_actor(), class_id=class_id, subject_id=subject_id,
                                    term=term, data=data)
        if review.committed:
            audit.record(session, "import", object_type="xlsx", object_id=meta.get("filename", "")[:60],
                         class_id=class_id, subject_id=subject_id, after={
                             "kind": "gradebook", "term": term, "filename": meta.get("filename", ""),
                             "sha256": meta.get("sha256", ""), "cells": len(review.changes),
                             "students": review.changed_students},
                         note=f"Nhập bảng điểm {term} từ Excel: {meta.get('filename', '')}")
            session.commit()
        else:
            session.rollback()
    except xlsx.FileRefused as exc:
        session.rollback()
        return _upload_page(class_id, subject_id, term, error=str(exc), status=400)
    except BaseException:
        session.rollback()
        raise
    finally:
        STORE.discard(token)
    context = _context(class_id, subject_id, term)
    if not review.ok:
        return render("gradebook/xlsx_preview.html", review=review, token=None, sha256=None, rejected=True,
                      filename=meta.get("filename", ""), status=423 if review.locked else 409, **context)
    return render("gradebook/xlsx_result.html", review=review, filename=meta.get("filename", ""), **context)


# --- Helpers -----------------------------------------------------------------------------------------------------


def _context(class_id: int, subject_id: int, term: str) -> dict:
    pair = service.load_pair(get_session(), class_id=class_id, subject_id=subject_id)
    grid_url = None
    if GRID_ENDPOINT in current_app.view_functions:
        grid_url = url_for(GRID_ENDPOINT, class_id=class_id, subject_id=subject_id, term=term)
    return {"pair": pair, "class_id": class_id, "subject_id": subject_id, "term": term,
            "term_label": service.TERM_LABELS[term], "grid_url": grid_url}


def _upload_page(class_id: int, subject_id: int, term: str, *, error: str | None = None, status: int = 200):
    return render("gradebook/xlsx_upload.html", error=error, accept=ACCEPT, status=status,
                  max_size=f"{xlsx.MAX_BYTES // (1024 * 1024)} MB", **_context(class_id, subject_id, term))
