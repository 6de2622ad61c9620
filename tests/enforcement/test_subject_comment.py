"""(b) Period locks on the subject comment save (POST …/nhan-xet, htmx; Tin học HK II → Cuối học kì II)."""

from __future__ import annotations

import pytest

from tests.enforcement.paths import SubjectCommentField
from tests.enforcement.scenarios import Scenarios


class TestSubjectComment(Scenarios):
    @pytest.fixture
    def path(self, app, client, login_as):
        return SubjectCommentField(app, client, login_as)
