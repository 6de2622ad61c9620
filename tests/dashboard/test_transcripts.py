"""The dashboard's transcript stages (signed, released, sent) per class and per subject row, counted from real
transcripts of the current year: prepared, signed on the SoftHSM2 token and released through the transcripts'
service (tests/dashboard/helpers.arrange_transcripts), their submissions marked sent in the database.

6A1 has 30 students: 0 released and accepted by both endpoints, 1 released and accepted by one of two, 2 signed by
everyone, 3 signed by one subject teacher, 4 prepared only. So 3 signed (10 %), 2 released (6 %), 1 sent (3 %);
a subject row is signed for 3 students (10 %), or 4 (13 %) for the subjects of the one who signed for 3.
"""

from __future__ import annotations

import os
from datetime import date

import lxml.html
import pytest
from sqlmodel import select

from portal.dashboard import service
from portal.models import Subject, TeachingAssignment
from portal.pki import tokens
from portal.transcripts import service as transcripts
from tests.dashboard.helpers import ENDPOINTS, counting_statements, database_url, load_arranged  # noqa: F401
from tests.public.conftest import principal_actor

pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SEND_ENDPOINTS": ENDPOINTS}


@pytest.fixture
def arranged(session, arranged_template):
    return load_arranged(session, arranged_template)


def _row(board, name):
    return next(r for r in board.classes if r.klass.name == name)


def _stages(stages) -> dict[str, tuple]:
    return {s.code: (s.done, s.total, s.percent, s.available) for s in stages}


def _subject_stages(row) -> dict[str, tuple[int, int, int]]:
    return {i.label: (i.stages[0].done, i.stages[0].total, i.stages[0].percent) for i in row.items if i.subject}


def _partly_subjects(session, arranged) -> set[str]:
    """The subjects assigned to the teacher who signed position 3's transcript (and nobody else's yet)."""
    return set(session.exec(select(Subject.name).join(TeachingAssignment, TeachingAssignment.subject_id == Subject.id)
                            .where(TeachingAssignment.class_id == arranged.klass.id,
                                   TeachingAssignment.teacher_id == arranged.partly)).all())


def _board(app, session, period="cn"):
    session.expire_all()
    with app.app_context():
        return service.build_dashboard(session, period=period)


def test_stages_count_the_newest_transcript_of_each_student(app, session, arranged):
    with counting_statements(app) as statements:
        board = _board(app, session)
    assert len(statements) <= 16, f"{len(statements)} queries: counting must not go per class or per student"
    assert board.sending
    row = _row(board, "6A1")
    assert _stages(row.stages) == {"signed": (3, 30, 10, True), "released": (2, 30, 6, True),
                                   "sent": (1, 30, 3, True)}
    partly = _partly_subjects(session, arranged)
    assert partly and len(partly) < 13
    subjects = _subject_stages(row)
    assert len(subjects) == 13
    assert subjects == {name: (4, 30, 13) if name in partly else (3, 30, 10) for name in subjects}
    assert [i.stages for i in row.items if i.subject is None] == [[]]  # the homeroom row has none
    assert _stages(_row(board, "6A2").stages) == {"signed": (0, 30, 0, True), "released": (0, 30, 0, True),
                                                  "sent": (0, 30, 0, True)}
    assert set(_subject_stages(_row(board, "6A2")).values()) == {(0, 30, 0)}
    # The stages belong to the year: every period shows the same ones.
    assert _stages(_row(_board(app, session, "gk1"), "6A1").stages) == _stages(row.stages)

    # Sent means accepted by every endpoint configured now: one added later has none of them yet; one removed no
    # longer counts (position 1 was accepted by "bo" and failed at "so").
    app.config["SEND_ENDPOINTS"] = {**ENDPOINTS, "tinh": ENDPOINTS["bo"]}
    assert _row(_board(app, session), "6A1").stages[2].done == 0
    app.config["SEND_ENDPOINTS"] = {"bo": ENDPOINTS["bo"]}
    assert _row(_board(app, session), "6A1").stages[2].done == 2
    app.config["SEND_ENDPOINTS"] = ENDPOINTS

    # Revoked on a written decision: the new version is being signed again and counts for nothing yet,
    # though the revoked version was released and sent.
    with app.app_context():
        transcripts.revoke(session, actor=principal_actor(session), transcript_id=arranged.transcripts[0],
                           reason="Sai ngày sinh của học sinh trên học bạ.", minutes_number="12/QĐ-THCS",
                           minutes_date=date.today(), approver="Nguyễn Văn Thành", app=app)
        session.commit()
    row = _row(_board(app, session), "6A1")
    assert _stages(row.stages) == {"signed": (2, 30, 6, True), "released": (1, 30, 3, True),
                                   "sent": (0, 30, 0, True)}
    assert _subject_stages(row) == {name: (3, 30, 10) if name in partly else (2, 30, 6) for name in subjects}


# --- The page ----------------------------------------------------------------------------------------------


def _text(element) -> str:
    return " ".join(element.text_content().split())


def _stage_texts(summary) -> dict[str, str]:
    return {code: _text(summary.xpath(f".//span[contains(concat(' ', @class, ' '), ' db-stage-{code} ')]")[0])
            for code in ("signed", "released", "sent")}


def _signed_cells(doc, class_id) -> dict[str, str]:
    rows = doc.xpath(f"//details[@id='lop-{class_id}']//tbody/tr[th/a]")
    return {_text(r.xpath("./th/a")[0]): _text(r.xpath("./td[contains(@class, 'db-cell-stage')]")[0]) for r in rows}


def test_page_and_fragment_show_the_stages_and_sending_not_configured(app, session, login_as, arranged):
    client = login_as("principal")
    partly = _partly_subjects(session, arranged)
    klass = arranged.klass
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/tien-do?ky=cn", headers=headers)
        assert response.status_code == 200
        doc = lxml.html.fromstring(response.get_data(as_text=True))
        [summary] = doc.xpath(f"//details[@id='lop-{klass.id}']/summary")
        assert _stage_texts(summary) == {"signed": "Đã ký 10 % (3/30)", "released": "Đã phát hành 6 % (2/30)",
                                         "sent": "Đã gửi 3 % (1/30)"}
        bars = summary.xpath(".//span[contains(@class, 'db-stage')]/span[@role='progressbar']")
        assert [b.get("aria-valuenow") for b in bars] == ["10", "6", "3"]
        assert bars[0].get("aria-label") == "Đã ký: 3/30 học sinh"
        cells = _signed_cells(doc, klass.id)
        assert len(cells) == 14 and cells.pop("Mục chủ nhiệm") == "—"  # the whole year's view has the homeroom row
        assert cells == {name: "13 % (4/30)" if name in partly else "10 % (3/30)" for name in cells}
        [note] = doc.xpath("//div[@id='ghi-chu-hoc-ba']")
        assert "chưa triển khai" not in _text(note) and "phiên bản mới nhất" in _text(note)
        assert note.xpath(".//a/@href") == ["/gui-hoc-ba"]

    # Without any endpoint nothing is ever sent: the stage says so instead of 0 %.
    app.config["SEND_ENDPOINTS"] = {}
    board = _board(app, session)
    signed, released, sent = _row(board, "6A1").stages
    assert not board.sending and (signed.done, released.done) == (3, 2)
    assert (sent.available, sent.reason, sent.total) == (False, "chưa cấu hình nơi nhận", 30)
    doc = lxml.html.fromstring(client.get("/tien-do?ky=cn").get_data(as_text=True))
    [summary] = doc.xpath(f"//details[@id='lop-{klass.id}']/summary")
    texts = _stage_texts(summary)
    assert texts["signed"] == "Đã ký 10 % (3/30)" and texts["sent"] == "Đã gửi chưa cấu hình nơi nhận"
    [sent] = summary.xpath(".//span[contains(concat(' ', @class, ' '), ' db-stage-sent ')]")
    assert "db-stage-off" in sent.get("class") and not sent.xpath(".//*[@role='progressbar']")
    note = _text(doc.xpath("//div[@id='ghi-chu-hoc-ba']")[0])
    assert "“Đã gửi” chưa tính được" in note and "SEND_ENDPOINTS" in note
