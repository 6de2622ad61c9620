"""A parent's view of their child's transcripts, with real signed and released ones (SoftHSM2 token): only
released versions of their own child download; a revoked one shows its status and the newer version."""

from __future__ import annotations

import re
from datetime import date

from sqlmodel import select

from portal.models import AuditEvent, Transcript
from portal.transcripts import service
from tests.parents.conftest import children_of, issue
from tests.periods.helpers import html, sign_in, text
from tests.public.conftest import principal_actor, release_student, released, sign_and_release  # noqa: F401
from tests.transcripts.conftest import database_url, previous_class  # noqa: F401


def claim_as_parent(app, student_id: int):
    """Link phuhuynh1 to the student the way a family does it: a code from the school, typed in."""
    code = issue(app, student_id, role="principal", relation="me")
    parent = sign_in(app, "parent")
    assert parent.post("/phu-huynh/lien-ket", data={"code": code}).status_code == 303
    return parent


def pdf_url(student_id: int, transcript_id: int) -> str:
    return f"/phu-huynh/con/{student_id}/hoc-ba/{transcript_id}.pdf"


def test_released_revoked_and_reissued_versions(app, session, released, child, previous_class):  # noqa: F811
    student_id, v1 = released.student_id, released.id
    parent = claim_as_parent(app, student_id)
    assert student_id in children_of(session, "phuhuynh1")

    page = parent.get(f"/phu-huynh/con/{student_id}")
    shown = text(page)
    year = previous_class.school_year_id
    assert page.status_code == 200 and "Lớp 6A1" in shown and "Phiên bản 1" in shown and "Đã phát hành" in shown
    assert pdf_url(student_id, v1) in html(page)

    download = parent.get(pdf_url(student_id, v1))
    row = session.get(Transcript, v1)
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.data == row.pdf
    assert "attachment" in download.headers["Content-Disposition"] and ".pdf" in download.headers["Content-Disposition"]
    assert "no-store" in download.headers["Cache-Control"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "export",
                                                  AuditEvent.object_id == str(v1))).one()
    assert event.note.startswith("Phụ huynh tải") and event.student_id == student_id and event.school_year_id == year

    # Someone else's parent: refused by scope; one's own child with another student's transcript: not found.
    assert sign_in(app, username="phuhuynh2").get(pdf_url(student_id, v1)).status_code == 403
    assert sign_in(app, username="phuhuynh2").get(f"/phu-huynh/con/{student_id}").status_code == 403
    assert parent.get(pdf_url(child.id, v1)).status_code == 404
    assert parent.get(pdf_url(student_id, 999999)).status_code == 404

    # Revoked: its status stays on the page, without a download; the new version in signing is not shown.
    with app.app_context():
        renewed = service.revoke(session, actor=principal_actor(session), transcript_id=v1,
                                 reason="Sai sót khi nhập điểm môn Toán", minutes_number="12/QĐ-THCS",
                                 minutes_date=date(2026, 9, 10), approver="Nguyễn Văn Thành", app=app)
        session.commit()
    v2 = renewed.transcript.id
    page = parent.get(f"/phu-huynh/con/{student_id}")
    shown = text(page)
    assert "Đã thu hồi — phiên bản mới đang được lập và ký lại" in shown
    assert "Phiên bản 2" not in shown and pdf_url(student_id, v1) not in html(page)
    refused = parent.get(pdf_url(student_id, v1))
    assert refused.status_code == 404 and "đã bị nhà trường thu hồi" in text(refused)
    assert parent.get(pdf_url(student_id, v2)).status_code == 404  # in signing: not the parent's yet

    sign_and_release(app, session, v2)
    page = parent.get(f"/phu-huynh/con/{student_id}")
    shown = text(page)
    assert "Đã thu hồi — đã có phiên bản 2" in shown
    assert re.search(r"Phiên bản 2\s*Đã phát hành", shown)
    assert pdf_url(student_id, v2) in html(page) and pdf_url(student_id, v1) not in html(page)
    again = parent.get(pdf_url(student_id, v2))
    assert again.status_code == 200 and again.data == session.get(Transcript, v2).pdf


def test_last_years_published_results_beside_the_transcript(app, session, previous_class):  # noqa: F811
    from portal.models import Enrollment

    first = session.exec(select(Enrollment.student_id).where(Enrollment.class_id == previous_class.id)
                         .order_by(Enrollment.number)).first()
    parent = claim_as_parent(app, first)
    page = parent.get(f"/phu-huynh/con/{first}")
    assert "Học bạ số của năm học này chưa được phát hành" in text(page)
    assert text(page).count("Nhà trường chưa công bố kết quả học tập") == 2  # this year's class and last year's

    # Last year's periods are locked by their passed deadlines: the whole year may be published.
    principal = sign_in(app, "principal")
    assert principal.post(f"/phu-huynh/cong-bo/{previous_class.id}/year").status_code == 303
    page = parent.get(f"/phu-huynh/con/{first}")
    shown = text(page)
    assert text(page).count("Nhà trường chưa công bố kết quả học tập") == 1  # only this year's
    assert "Đã công bố: Cả năm." in shown and "Quyết định cuối năm" in shown
    assert re.search(r"Toán\s*\d+(,\d)?\b", shown)
