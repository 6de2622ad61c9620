"""Screens of sending (principal, vice principal) and the receiver's API and page.

GET /gui-hoc-ba: the sending dashboard (page, or its fragment for htmx, which polls itself while anything is
pending). POST …/gui-lai: make failed (or rejected) submissions due now and enqueue them (after the commit).
POST …/bo-sung: add the submissions that endpoints configured after a release missed, and enqueue them. POST
/api/nhan-hoc-ba: the receiver, authenticated by a bearer token (CSRF-exempt: no cookie is involved). GET
/nhan-hoc-ba: what this portal received.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for

from portal import csrf
from portal.authz import ANY, current_actor, policy, public
from portal.db import get_session
from portal.delivery import bp, receive, service
from portal.periods.read import local
from portal.web import render

LEADERS = {"principal": ANY, "vice_principal": ANY}


@bp.context_processor
def _helpers():
    return {"local": local}


def _year_arg() -> int | None:
    raw = request.args.get("nam", "") or request.form.get("nam", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/gui-hoc-ba")
@policy(**LEADERS)
def index():
    board = service.sending_board(get_session(), school_year_id=_year_arg())
    return render("delivery/index.html", "delivery/_board.html", board=board)


def _back():
    year = _year_arg()
    return redirect(url_for("delivery.index", **({"nam": year} if year else {}), _anchor="gui-hoc-ba"), 303)


@bp.post("/gui-hoc-ba/<int:submission_id>/gui-lai")
@policy(**LEADERS)
def resend(submission_id: int):
    db = get_session()
    service.resend(db, actor=current_actor(), submission_id=submission_id)
    db.commit()
    queued = service.kick(current_app, submission_ids=[submission_id])
    flash("Đã đưa học bạ vào hàng gửi ngay." if queued is not None else
          "Đã ghi nhận yêu cầu gửi lại; hàng đợi (Redis) chưa trả lời nên việc gửi sẽ bắt đầu khi nó hoạt động lại.",
          "success" if queued is not None else "warning")
    return _back()


@bp.post("/gui-hoc-ba/gui-lai")
@policy(**LEADERS)
def resend_all():
    db = get_session()
    ids = service.resend_failed(db, actor=current_actor(), school_year_id=_year_arg())
    db.commit()
    if not ids:
        flash("Không có học bạ nào gửi lỗi.", "info")
        return _back()
    queued = service.kick(current_app, submission_ids=ids)
    flash(f"Đã đưa {len(ids)} lượt gửi bị lỗi vào hàng gửi ngay." if queued is not None else
          "Đã ghi nhận yêu cầu gửi lại; hàng đợi (Redis) chưa trả lời nên việc gửi sẽ bắt đầu khi nó hoạt động lại.",
          "success" if queued is not None else "warning")
    return _back()


@bp.post("/gui-hoc-ba/bo-sung")
@policy(**LEADERS)
def backfill():
    done = service.backfill(app=current_app, actor=current_actor())
    if done.postponed:
        flash(f"{done.postponed} học bạ chưa bổ sung được lúc này vì đang có thao tác khác trên chúng; hệ thống sẽ tự "
              "bổ sung sau ít phút.", "warning")
    if not done.created:
        if not done.postponed:
            flash("Không thiếu lượt gửi nào: mọi học bạ đã phát hành đều đã vào hàng gửi tới từng nơi nhận.", "info")
        return _back()
    queued = service.kick(current_app, submission_ids=done.ids)
    flash(f"Đã bổ sung {done.created} lượt gửi còn thiếu vào hàng gửi." if queued is not None else
          f"Đã bổ sung {done.created} lượt gửi còn thiếu; hàng đợi (Redis) chưa trả lời nên việc gửi sẽ bắt đầu khi "
          "nó hoạt động lại.", "success" if queued is not None else "warning")
    return _back()


# --- Receiver --------------------------------------------------------------------------------------------------


def _json(answer: receive.Answer):
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if answer.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="nhan-hoc-ba"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/nhan-hoc-ba")
@csrf.exempt
@public
def receive_api():
    if not receive.enabled(current_app):
        return _json(receive.Answer(404, {"trangthai": "tu_choi", "lydo": ["Máy chủ này không nhận học bạ."]}))
    sender = receive.authenticate(request.headers.get("Authorization"), current_app)
    if sender is None:
        return _json(receive.Answer(401, {"trangthai": "tu_choi",
                                          "lydo": ["Thiếu mã xác thực (Authorization: Bearer …) hoặc mã không đúng."]}))
    answer = receive.receive(sender=sender, body=request.get_json(silent=True),
                             idempotency_key=request.headers.get("Idempotency-Key"), app=current_app)
    return _json(answer)


@bp.get("/nhan-hoc-ba")
@policy(**LEADERS)
def received():
    rows, summary = receive.received(get_session())
    return render("delivery/received.html", rows=rows, summary=summary, enabled=receive.enabled(current_app))
