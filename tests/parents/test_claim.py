"""Claim codes: issued by the school and shown once on a slip, stored hashed, claimed once by a parent account;
wrong, used or expired codes refused in Vietnamese, repeated failures throttled per account and address."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import func, select

from portal import clock
from portal.models import AuditEvent, Guardian, ParentClaimCode, StudentGuardian, utcnow
from portal.parents import rules
from tests.conftest import base_config
from tests.factories import make_user
from tests.parents.conftest import children_of, issue, slip_code, user
from tests.periods.helpers import HTMX, sign_in, text


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    (tmp_path / "instance").mkdir(exist_ok=True)
    return {**base_config(tmp_path / "instance", database_url), "PARENT_CLAIM_MAX_FAILURES": 3,
            "PARENT_CLAIM_WINDOW": timedelta(minutes=15), "PUBLIC_URL": "https://hocba.example.edu.vn"}


def claim(client, code: str, **kwargs):
    return client.post("/phu-huynh/lien-ket", data={"code": code}, **kwargs)


def test_slip_shows_the_code_once_and_only_its_hash_is_stored(app, session, unclaimed):
    response = sign_in(app, "homeroom").post(f"/phu-huynh/ma/{unclaimed.id}", data={"relation": "cha"})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    code = slip_code(response)
    page = text(response)
    for expected in ("Trường THCS Hoa Lư", "PHIẾU MÃ LIÊN KẾT PHỤ HUYNH", unclaimed.full_name, "6A1 · năm học",
                     "Cha của học sinh", "Hạn sử dụng: đến", "chỉ dùng được một lần",
                     "https://hocba.example.edu.vn/phu-huynh/lien-ket", "Hướng dẫn"):
        assert expected in page, expected
    row = session.exec(select(ParentClaimCode).where(ParentClaimCode.student_id == unclaimed.id)).one()
    normalized = code.replace("-", "")
    assert row.code_sha256 == hashlib.sha256(normalized.encode()).hexdigest()
    assert row.relation == "cha" and row.used_at is None
    assert timedelta(days=29, hours=23) < row.expires_at - row.created_at <= timedelta(days=30)
    # The clear code is nowhere in the database: not in the row, not in the audit trail.
    stored = " ".join(str(v) for v in row.model_dump().values())
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "parent.code_issued")).all()
    assert len(events) == 1 and events[0].student_id == unclaimed.id
    assert all(normalized not in blob and code not in blob
               for blob in (stored, *(e.note + e.before + e.after for e in events)))
    # The student's code list shows it as valid, never its text.
    listing = sign_in(app, "office").get(f"/phu-huynh/ma/{unclaimed.id}")
    assert "Còn hiệu lực đến" in text(listing) and code not in listing.get_data(as_text=True)


def test_issue_needs_a_relation(app, unclaimed, session):
    response = sign_in(app, "principal").post(f"/phu-huynh/ma/{unclaimed.id}", data={"relation": "ong"})
    assert response.status_code == 422
    assert "Chọn người nhận mã" in text(response)
    assert session.exec(select(func.count()).select_from(ParentClaimCode)).one() == 0


def test_only_the_current_homeroom_teacher_among_teachers_issues_codes(app, unclaimed, session):
    # tuanlm teaches 6A1 but does not lead it; phuhuynh1 is a parent.
    for role in ("teacher", "department_head", "parent", "admin"):
        assert sign_in(app, role).post(f"/phu-huynh/ma/{unclaimed.id}", data={"relation": "me"}).status_code == 403
    assert session.exec(select(func.count()).select_from(ParentClaimCode)).one() == 0


def test_good_code_links_the_child_and_is_used_up(app, session, unclaimed, child):
    code = issue(app, unclaimed.id, relation="me")
    parent = sign_in(app, "parent")
    before = session.exec(select(Guardian).where(Guardian.user_id == user(session, "phuhuynh1").id)).one()
    assert parent.get(f"/phu-huynh/con/{unclaimed.id}").status_code == 403

    response = claim(parent, code.lower().replace("-", " "))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/phu-huynh/con/{unclaimed.id}")
    assert children_of(session, "phuhuynh1") == {child.id, unclaimed.id}
    # The mother's existing guardian row is the one linked: one person, two children.
    assert session.exec(select(func.count()).select_from(Guardian)
                        .where(Guardian.user_id == before.user_id)).one() == 1
    row = session.exec(select(ParentClaimCode)).one()
    assert row.used_by == before.user_id and row.used_at is not None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "parent.claimed")).one()
    assert event.student_id == unclaimed.id and event.actor_id == before.user_id
    page = parent.get(f"/phu-huynh/con/{unclaimed.id}")
    assert page.status_code == 200 and f"Đã liên kết tài khoản với học sinh {unclaimed.full_name}" in text(page)
    assert unclaimed.full_name in text(parent.get("/phu-huynh"))

    # Second use: refused, whoever tries.
    again = claim(sign_in(app, username="phuhuynh2"), code)
    assert again.status_code == 422 and "đã được sử dụng" in text(again)
    same = claim(parent, code)
    assert same.status_code == 422 and "đã được liên kết với học sinh" in text(same)
    assert unclaimed.id not in children_of(session, "phuhuynh2")
    listing = sign_in(app, "homeroom").get(f"/phu-huynh/ma/{unclaimed.id}")
    assert "Đã dùng" in text(listing) and "phuhuynh1" in text(listing)


def test_a_parent_account_without_a_guardian_row_gets_one_from_the_code(app, session, unclaimed):
    with app.app_context():
        parent = make_user(session, roles=("parent",), username="mehs", full_name="Đỗ Thị Mai", phone="0912345678",
                           password="Hocbaso@2026")
    code = issue(app, unclaimed.id, role="office", relation="giam_ho")
    response = claim(sign_in(app, username="mehs"), code)
    assert response.status_code == 303
    guardian = session.exec(select(Guardian).where(Guardian.user_id == parent.id)).one()
    assert (guardian.full_name, guardian.relation, guardian.phone) == ("Đỗ Thị Mai", "giam_ho", "0912345678")
    assert session.get(StudentGuardian, (unclaimed.id, guardian.id)) is not None


def test_expired_code_is_refused(app, session, unclaimed, monkeypatch):
    code = issue(app, unclaimed.id)
    later = utcnow() + timedelta(days=30, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = claim(sign_in(app, "parent"), code)
    assert response.status_code == 422
    assert "đã hết hạn" in text(response) and "cấp mã mới" in text(response)
    assert unclaimed.id not in children_of(session, "phuhuynh1")
    assert session.exec(select(ParentClaimCode)).one().used_at is None


@pytest.mark.parametrize(("typed", "message"), [
    ("ABCD-EFGH-JKLM", "Mã liên kết không đúng"),
    ("ABCD-EFGH-JK0M", "không dùng chữ O, chữ I và các chữ số 0, 1"),
    ("12345", "gồm 12 chữ cái và chữ số"),
])
def test_wrong_codes_say_why_in_vietnamese(app, typed, message):
    response = claim(sign_in(app, "parent"), typed)
    assert response.status_code == 422
    assert message in text(response)


def test_wrong_codes_are_throttled_per_account_and_per_address(app, session, unclaimed):
    code = issue(app, unclaimed.id)
    parent = sign_in(app, "parent")
    for _ in range(3):
        assert claim(parent, rules.format_code(rules.new_code())).status_code == 422
    # The limit is reached: even the right code is refused for the rest of the window.
    blocked = claim(parent, code)
    assert blocked.status_code == 429 and "quá nhiều lần" in text(blocked)
    assert unclaimed.id not in children_of(session, "phuhuynh1")
    failures = session.exec(select(AuditEvent).where(AuditEvent.action == "parent.claim_failed")).all()
    assert len(failures) == 3 and all(e.actor_id == user(session, "phuhuynh1").id for e in failures)
    # Another account from the same address is throttled too; from another address it goes through.
    other = sign_in(app, username="phuhuynh2")
    assert claim(other, code).status_code == 429
    elsewhere = claim(other, code, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 303
    assert unclaimed.id in children_of(session, "phuhuynh2")


def test_old_failures_leave_the_window(app, session, monkeypatch):
    parent = sign_in(app, "parent")
    for _ in range(3):
        claim(parent, "ABCD-EFGH-JKLM")
    assert claim(parent, "ABCD-EFGH-JKLM").status_code == 429
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert claim(parent, "ABCD-EFGH-JKLM").status_code == 422


def test_claim_page_and_fragment(app):
    parent = sign_in(app, "parent")
    page = parent.get("/phu-huynh/lien-ket")
    assert page.status_code == 200 and "Liên kết con bằng mã" in text(page)
    assert "<html" in page.get_data(as_text=True)
    refused = claim(parent, "x", headers=HTMX)
    assert refused.status_code == 422 and "gồm 12 chữ cái" in text(refused)
