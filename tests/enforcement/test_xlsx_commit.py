"""(c) Period locks on the Excel upload's commit: every scenario of scenarios.py (the CK column of Toán 6A1,
HK I → Cuối học kì I), and all or nothing: one changed cell in a locked period keeps every cell of the file
out, and the page says why once for the sheet (423)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.models import Assessment
from tests.enforcement import helpers
from tests.enforcement.helpers import LOCKED_BY_PRINCIPAL, assert_locked_message, data_events, reading
from tests.enforcement.paths import XlsxUpload
from tests.enforcement.scenarios import Scenarios


class TestXlsxCommit(Scenarios):
    @pytest.fixture
    def path(self, app, client, login_as):
        return XlsxUpload(app, client, login_as)


def cells(app, subject_id: int) -> dict[tuple[int, str], str]:
    with reading(app) as session:
        rows = session.exec(select(Assessment).where(Assessment.subject_id == subject_id, Assessment.term == "hk1"))
        return {(a.student_id, a.slot): a.value for a in rows}


def test_one_cell_in_a_locked_period_keeps_the_whole_file_out(app, clock, client, login_as):
    sheet = XlsxUpload(app, client, login_as)
    first, second = sheet.students[:2]
    assert sheet.write("6", first, GK="5").status == 200
    helpers.lock(app, "gk1", "class", "6A1")  # mid-term I only: TX and CK (end of term I) stay open

    # A file that changes only open cells lands (the GK cell it carries is unchanged) …
    assert sheet.write("7", first, TX1="8").status == 200
    assert cells(app, sheet.subject_id) == {(first, "gk"): "5", (first, "ck"): "7", (first, "tx1"): "8"}
    # … one that also changes a GK cell does not: none of its cells lands.
    before, events = cells(app, sheet.subject_id), data_events(app)
    outcome = sheet.write("9", second, TX1="8", TX2="7", GK="6")
    assert outcome.status == 423
    assert_locked_message(outcome.message, "gk1", why=LOCKED_BY_PRINCIPAL)
    assert "Chưa lưu ô nào" in outcome.message
    assert cells(app, sheet.subject_id) == before and data_events(app) == events


def test_the_locked_period_is_said_once_for_the_sheet(app, clock, client, login_as):
    sheet = XlsxUpload(app, client, login_as)
    helpers.lock(app, "ck1", "school", "6A1")
    # A TX cell, the CK cell and the comment, all in Cuối học kì I: one sheet-level error, not one per cell.
    outcome = sheet.write("8", sheet.students[0], TX1="7", **{"Nhận xét": "Chăm chỉ."})
    assert outcome.status == 423
    assert outcome.message.count("Kì “Cuối học kì I” đã khóa") == 1
    assert cells(app, sheet.subject_id) == {}
