"""(d) Period locks on the homeroom teacher's entries (POST /chu-nhiem/<class>/ghi, htmx): conduct of HK I
(→ Cuối học kì I) and the year's homeroom comment (→ Cả năm), through every scenario of scenarios.py."""

from __future__ import annotations

import pytest

from tests.enforcement import helpers
from tests.enforcement.paths import HomeroomField, HomeroomYearField
from tests.enforcement.scenarios import Scenarios


class TestHomeroomTermEntry(Scenarios):
    @pytest.fixture
    def path(self, app, client, login_as):
        return HomeroomField(app, client, login_as)


class TestHomeroomYearEntry(Scenarios):
    @pytest.fixture
    def path(self, app, client, login_as):
        return HomeroomYearField(app, client, login_as)


def test_absences_follow_their_term_and_without_javascript_the_refusal_is_flashed(app, clock, client, login_as):
    hk1 = HomeroomField(app, client, login_as, slot="absences_unexcused", values=("1", "2"),
                        stored_values=("1", "2"))
    hk2 = HomeroomField(app, client, login_as, slot="absences_unexcused", term="hk2", period="ck2")
    student = hk1.students[0]
    helpers.lock(app, "ck1", "class", "6A1")
    assert hk1.write("1", student).status == 423
    assert hk2.write("3", student).status == 200  # HK II is another period
    response = client.post(f"/chu-nhiem/{hk1.class_id}/ghi", headers={"Accept": "text/html"},
                           data={"student_id": student, "term": "hk1", "key": "absences_unexcused", "value": "4",
                                 "version": 0})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Chưa lưu: Kì “Cuối học kì I” đã khóa (Hiệu trưởng đã khóa kì này)" in page
    assert hk1.stored(student) is None and hk2.stored(student) == "3"
