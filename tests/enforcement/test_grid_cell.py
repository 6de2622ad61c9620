"""(a) Period locks on the grid's cell save (POST …/o, htmx): every scenario of scenarios.py, and the cell shows
the refusal in place, also without JavaScript."""

from __future__ import annotations

import pytest

from tests.enforcement import helpers
from tests.enforcement.helpers import LOCKED_BY_PRINCIPAL, assert_locked_message
from tests.enforcement.paths import GridCell
from tests.enforcement.scenarios import Scenarios


class TestGridCell(Scenarios):
    @pytest.fixture
    def path(self, app, client, login_as):
        return GridCell(app, client, login_as)


def test_mid_term_cells_belong_to_the_mid_term_period_and_the_rest_to_the_end_of_term(app, clock, client, login_as):
    """gk → gk1; tx1 and ck → ck1: locking mid-term I leaves the other cells of the term open, and back."""
    gk, tx, ck = (GridCell(app, client, login_as, slot=slot) for slot in ("gk", "tx1", "ck"))
    student = gk.students[0]
    lock_id = helpers.lock(app, "gk1", "school", "6A1")
    outcome = gk.write("7", student)
    assert outcome.status == 423
    assert_locked_message(outcome.message, "gk1", why=LOCKED_BY_PRINCIPAL)
    assert gk.stored(student) is None and outcome.shown == ""
    assert tx.write("6", student).status == 200 and ck.write("8", student).status == 200
    helpers.release(app, lock_id)
    helpers.lock(app, "ck1", "grade", "6A1")
    assert gk.write("7", student).status == 200
    for cell in (tx, ck):
        outcome = cell.write("5", student)
        assert outcome.status == 423 and "Cuối học kì I" in outcome.message
    assert (gk.stored(student), tx.stored(student), ck.stored(student)) == ("7", "6", "8")


def test_without_javascript_the_refusal_is_flashed_on_the_grid(app, clock, client, login_as):
    cell = GridCell(app, client, login_as)
    student = cell.students[0]
    assert cell.write("8", student).status == 200
    helpers.lock(app, "ck1", "class", "6A1")
    response = client.post(f"/giang-day/{cell.class_id}/{cell.subject_id}/hk1/o", headers={"Accept": "text/html"},
                           data={"student_id": student, "slot": "ck", "value": "9", "version": cell.version(student)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"#cell-{student}-ck")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kì “Cuối học kì I” đã khóa (Hiệu trưởng đã khóa kì này)" in page
    assert cell.stored(student) == "8"
