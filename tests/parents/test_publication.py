"""The principal publishes a class's term results to parents once the term's period is locked, and may withdraw
them; parents see the published terms of their own child, in Vietnamese display form, and nothing else."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.gradebook.rules import LEVEL_LABELS, display
from portal.models import AuditEvent, GradePeriod, TermPublication
from portal.periods import service as periods
from portal.review import service as review
from portal.transcripts import demo
from tests.factories import current_class
from tests.parents.conftest import actor
from tests.periods.helpers import HTMX, html, sign_in, text


@pytest.fixture
def filled(app, session):
    """This year's 6A1 with a complete year of assessments and homeroom records."""
    klass = current_class(session, "6A1")
    demo.fill_class_year(session, klass)
    session.commit()
    return klass


def lock(app, session, klass, code: str) -> None:
    period = session.exec(select(GradePeriod).where(GradePeriod.school_year_id == klass.school_year_id,
                                                    GradePeriod.code == code)).one()
    with app.app_context():
        periods.lock(session, actor=actor(session, "hieutruong"), period_id=period.id, scope="class",
                     class_id=klass.id)
        session.commit()


def line_of(session, klass, student_id):
    results = review.class_results(session, klass=klass)
    return next(line for line in results.lines if line.student.id == student_id)


def heads(response) -> list[str]:
    return re.findall(r'<th scope="col" class="num">([^<]+)</th>', html(response))


def test_publish_needs_the_locked_term_and_shows_only_that_term(app, session, filled, child):
    parent = sign_in(app, "parent")
    principal = sign_in(app, "principal")
    page = parent.get(f"/phu-huynh/con/{child.id}")
    assert "Nhà trường chưa công bố kết quả học tập" in text(page) and heads(page) == []

    refused = principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1", headers=HTMX)
    assert refused.status_code == 409
    assert "Cuối học kì I" in text(refused) and "chưa khóa" in text(refused)
    assert session.exec(select(TermPublication)).first() is None

    lock(app, session, filled, "ck1")
    done = principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1")
    assert done.status_code == 303 and "/phu-huynh/cong-bo" in done.headers["Location"]
    row = session.exec(select(TermPublication)).one()
    assert (row.class_id, row.term) == (filled.id, "hk1")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "results.published")).one()
    assert event.class_id == filled.id and event.period == "hk1"
    assert principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1").status_code == 303  # twice: still one row
    assert len(session.exec(select(TermPublication)).all()) == 1

    page = parent.get(f"/phu-huynh/con/{child.id}")
    shown = text(page)
    assert heads(page) == ["HK I"]
    assert "Đã công bố: Học kì I." in shown
    line = line_of(session, filled, child.id)
    toan = display(line.subject("toan", "hk1"))
    assert "," in toan or toan.isdigit()  # decimal comma, never a point
    assert re.search(rf"Toán\s*{re.escape(toan)}", shown)
    assert re.search(rf"Kết quả học tập\s*{LEVEL_LABELS[line.learning('hk1')]}", shown)
    assert re.search(rf"Kết quả rèn luyện\s*{LEVEL_LABELS[line.conduct('hk1')]}", shown)
    assert "Nghỉ có phép (buổi)" in shown
    assert "Quyết định cuối năm" not in shown and "Danh hiệu" not in shown  # the year is not published

    assert principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1/thu-hoi").status_code == 303
    assert session.exec(select(TermPublication)).first() is None
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "results.unpublished")).one().period == "hk1"
    page = parent.get(f"/phu-huynh/con/{child.id}")
    assert heads(page) == [] and "chưa công bố" in text(page)


def test_the_year_shows_decision_and_award(app, session, filled, child):
    lock(app, session, filled, "cn")
    principal = sign_in(app, "principal")
    assert principal.post(f"/phu-huynh/cong-bo/{filled.id}/year").status_code == 303
    page = sign_in(app, "parent").get(f"/phu-huynh/con/{child.id}")
    assert heads(page) == ["Cả năm"]
    line = line_of(session, filled, child.id)
    shown = text(page)
    assert review.decision_label(line.decision(), 6) in shown
    assert "Quyết định cuối năm" in shown and "Danh hiệu, khen thưởng" in shown
    assert display(line.subject("toan", "year")) in shown


def test_htmx_toggle_answers_with_the_cell(app, session, filled):
    lock(app, session, filled, "ck1")
    principal = sign_in(app, "principal")
    response = principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1", headers=HTMX)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    body = html(response)
    assert body.lstrip().startswith(f'<div class="ph-pub-cell is-published" id="cong-bo-{filled.id}-hk1">')
    assert "<html" not in body and "Thu hồi công bố" in body and 'hx-post="' in body
    back = principal.post(f"/phu-huynh/cong-bo/{filled.id}/hk1/thu-hoi", headers=HTMX)
    assert back.status_code == 200 and "Công bố cho phụ huynh" in html(back)


def test_publications_page_and_class_summary(app, session, filled):
    lock(app, session, filled, "ck1")
    page = sign_in(app, "principal").get("/phu-huynh/cong-bo")
    assert page.status_code == 200
    body = html(page)
    assert f'id="cong-bo-{filled.id}-hk1"' in body and f'id="cong-bo-{filled.id}-year"' in body
    assert body.count("Công bố cho phụ huynh</button>") == 1  # only 6A1's locked HK I may be published
    assert "Kì “Cuối học kì II” của lớp 6A1 chưa khóa" in text(page)
    # The vice principal reads the page but publishes nothing.
    vice = sign_in(app, "vice_principal").get("/phu-huynh/cong-bo")
    assert vice.status_code == 200 and "Công bố cho phụ huynh</button>" not in html(vice)
    assert sign_in(app, "vice_principal").post(f"/phu-huynh/cong-bo/{filled.id}/hk1").status_code == 403
    # The class summary carries the same toggle for the term shown; the form comes back to it.
    summary = sign_in(app, "principal").get(f"/tong-hop/lop/{filled.id}?ky=hk1")
    assert 'id="cong-bo"' in html(summary) and 'name="from" value="tong-hop"' in html(summary)
    done = sign_in(app, "principal").post(f"/phu-huynh/cong-bo/{filled.id}/hk1", data={"from": "tong-hop"})
    assert done.status_code == 303 and f"/tong-hop/lop/{filled.id}" in done.headers["Location"]
    homeroom = sign_in(app, "homeroom").get(f"/tong-hop/lop/{filled.id}?ky=hk1")
    assert homeroom.status_code == 200 and 'id="cong-bo"' not in html(homeroom)


def test_unknown_term_or_class(app, session):
    principal = sign_in(app, "principal")
    klass = current_class(session, "6A1")
    assert principal.post(f"/phu-huynh/cong-bo/{klass.id}/hk3").status_code == 404
    assert principal.post("/phu-huynh/cong-bo/999999/hk1").status_code == 404


def test_a_parent_sees_only_their_own_children(app, session, child):
    father = sign_in(app, username="phuhuynh2")
    index = text(father.get("/phu-huynh"))
    assert child.full_name not in index and index.count("Xem học bạ số và kết quả học tập") == 2
    assert father.get(f"/phu-huynh/con/{child.id}").status_code == 403
    mother = sign_in(app, "parent")
    page = mother.get("/phu-huynh")
    assert page.status_code == 200 and child.full_name in text(page) and "Lớp 6A1" in text(page)
    assert "no-store" in page.headers["Cache-Control"]
