"""The scenarios every write path must pass (issue 4, item 4). Each test module subclasses `Scenarios` and
gives the `path` fixture: its write path driven through its real entry point (see paths.py).

For each: the first value is written while the period is open (the path works), then the scenario locks,
grants or moves the clock, and the second write must be refused (423, the Vietnamese message naming the
period and how to ask for an unlock, the first value kept and shown, no audit event) or land (200, one
audit event carrying the grant it was made under).
"""

from __future__ import annotations

import pytest

from portal.models import PERIODS
from tests.enforcement import helpers
from tests.enforcement.helpers import LOCKED_BY_DEADLINE, LOCKED_BY_PRINCIPAL, assert_locked_message, data_events


class Scenarios:
    @pytest.fixture
    def path(self):
        raise NotImplementedError("a test module gives its write path")

    # --- helpers ------------------------------------------------------------------------------------------------

    def first(self, path, student_index: int = 0) -> int:
        """Write the first value while everything is open; return the student's id."""
        student = path.students[student_index]
        outcome = path.write(path.values[0], student)
        assert outcome.status == 200, outcome
        assert path.stored(student) == path.stored_values[0]
        return student

    def assert_refused(self, app, path, student: int, why: str, *, raw: str | None = None,
                       kept: str | None = None) -> None:
        """The write is refused with the period's message; the stored (and shown) value stays; no data event."""
        kept = path.stored(student) if kept is None else kept
        events = data_events(app)
        outcome = path.write(path.values[1] if raw is None else raw, student)
        assert outcome.status == 423, outcome
        assert_locked_message(outcome.message, path.period, why=why)
        assert path.stored(student) == kept
        if outcome.shown is not None:
            assert outcome.shown == (kept or ""), "the field shows the value still stored"
        assert data_events(app) == events, "a refused write appends no audit event"

    def assert_lands(self, app, path, student: int, *, grant_id: int | None, raw: str | None = None,
                     stored: str | None = None) -> None:
        events = data_events(app)
        outcome = path.write(path.values[1] if raw is None else raw, student)
        assert outcome.status == 200, outcome
        assert path.stored(student) == (path.stored_values[1] if stored is None else stored)
        new = data_events(app)[len(events):]
        assert len(new) == 1, new
        event = new[0]
        assert (event.action, event.period, event.student_id, event.subject_id, event.grant_id) == (
            path.action, path.period, student, path.subject_id, grant_id)

    # --- locked ------------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("scope", ["school", "grade", "class"])
    def test_a_principal_lock_refuses_the_write_and_keeps_the_value(self, app, clock, path, scope):
        student = self.first(path)
        helpers.lock(app, path.period, scope, path.class_name)
        self.assert_refused(app, path, student, LOCKED_BY_PRINCIPAL)

    @pytest.mark.parametrize("how", ["deadline", "clock"])
    def test_a_passed_deadline_refuses_the_write(self, app, clock, path, how):
        student = self.first(path)
        helpers.pass_deadline(app, clock, path.period, how)
        self.assert_refused(app, path, student, LOCKED_BY_DEADLINE)

    def test_locks_elsewhere_and_released_locks_do_not_refuse(self, app, clock, path):
        student = self.first(path)
        other_period = next(code for code in PERIODS if code != path.period)
        helpers.lock(app, path.period, "class", path.other_class)
        helpers.lock(app, path.period, "grade", path.other_grade_class)
        helpers.lock(app, other_period, "school", path.class_name)
        helpers.release(app, helpers.lock(app, path.period, "school", path.class_name))
        self.assert_lands(app, path, student, grant_id=None)

    # --- grants ------------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("locked_by", ["principal", "deadline"])
    def test_a_grant_lets_the_write_through_until_it_ends(self, app, clock, path, locked_by):
        student = self.first(path)
        if locked_by == "principal":
            helpers.lock(app, path.period, "school", path.class_name)
        else:
            helpers.pass_deadline(app, clock, path.period, "deadline")
        grant_id = helpers.grant(app, clock, code=path.period, class_name=path.class_name,
                                 subject_code=path.subject_code, requester=path.teacher, minutes=60)
        self.assert_lands(app, path, student, grant_id=grant_id)
        clock.move(minutes=59)
        self.assert_lands(app, path, student, grant_id=grant_id, raw=path.values[0], stored=path.stored_values[0])
        clock.move(minutes=1)  # the very instant the grant ends: it relocks by itself
        why = LOCKED_BY_PRINCIPAL if locked_by == "principal" else LOCKED_BY_DEADLINE
        self.assert_refused(app, path, student, why)

    def test_a_grant_for_one_student_does_not_open_another(self, app, clock, path):
        student = self.first(path)
        other = self.first(path, 1)
        helpers.lock(app, path.period, "class", path.class_name)
        grant_id = helpers.grant(app, clock, code=path.period, class_name=path.class_name,
                                 subject_code=path.subject_code, requester=path.teacher, student_id=other)
        self.assert_refused(app, path, student, LOCKED_BY_PRINCIPAL)
        self.assert_lands(app, path, other, grant_id=grant_id)

    def test_a_grant_of_the_other_kind_or_a_pending_request_does_not_open(self, app, clock, path):
        """A homeroom grant (no subject) does not open subject cells, a subject grant does not open homeroom
        entries; nor does a request still waiting for the principal, or a grant of another period."""
        student = self.first(path)
        helpers.lock(app, path.period, "school", path.class_name)
        helpers.grant(app, clock, code=path.period, class_name=path.class_name, **path.other_kind())
        helpers.request(app, code=path.period, class_name=path.class_name, subject_code=path.subject_code,
                        requester=path.teacher)
        other_period = next(code for code in PERIODS if code != path.period)
        helpers.grant(app, clock, code=other_period, class_name=path.class_name, subject_code=path.subject_code,
                      requester=path.teacher)
        self.assert_refused(app, path, student, LOCKED_BY_PRINCIPAL)
