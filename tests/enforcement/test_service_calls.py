"""(e) Period locks on the service functions called directly — a crafted call, as a script or a screen that
forgot its checks would make: every scenario of scenarios.py on save_cell (7A1 Tin học, GK of HK II → Giữa
học kì II) and save_record (absences of HK II → Cuối học kì II), and calls no screen offers."""

from __future__ import annotations

import pytest

from portal.gradebook import service as gradebook
from portal.periods.service import PeriodLocked
from tests.enforcement import helpers
from tests.enforcement.helpers import LOCKED_BY_PRINCIPAL, assert_locked_message, data_events, writing
from tests.enforcement.paths import ServiceCell, ServiceRecord
from tests.enforcement.scenarios import Scenarios


class TestServiceSaveCell(Scenarios):
    @pytest.fixture
    def path(self, app):
        return ServiceCell(app)


class TestServiceSaveRecord(Scenarios):
    @pytest.fixture
    def path(self, app):
        return ServiceRecord(app)


def test_crafted_year_and_comment_calls_are_refused_in_their_period(app, clock):
    """A re-assessment (term "year") belongs to the whole year; a subject comment of HK I to its end."""
    cell = ServiceCell(app)
    student = cell.students[0]
    helpers.lock(app, "cn", "grade", "7A1")
    helpers.lock(app, "ck1", "class", "7A1")
    events = data_events(app)
    with writing(app) as session:
        teacher = helpers.actor(session, "tuanlm")
        calls = {
            "cn": lambda: gradebook.save_cell(session=session, actor=teacher, class_id=cell.class_id,
                                              subject_id=cell.subject_id, term="year", student_id=student,
                                              slot="retake", raw="6", version=0),
            "ck1": lambda: gradebook.save_comment(session=session, actor=teacher, class_id=cell.class_id,
                                                  subject_id=cell.subject_id, term="hk1", student_id=student,
                                                  text="Chăm chỉ.", version=0),
        }
        for code, call in calls.items():
            with pytest.raises(PeriodLocked) as refused:
                call()
            assert refused.value.status == 423
            assert_locked_message(str(refused.value), code, why=LOCKED_BY_PRINCIPAL)
    assert data_events(app) == events
