"""The parent's home page points to the parents' pages; the menu offers them to parents and publication to leaders."""

from __future__ import annotations

from sqlmodel import select

from portal.models import Guardian, StudentGuardian
from tests.parents.conftest import user
from tests.periods.helpers import html, sign_in, text


def test_parent_home_links_each_child_and_the_claim_form(app, child):
    page = sign_in(app, "parent").get("/")
    body = html(page)
    assert f'href="/phu-huynh/con/{child.id}"' in body
    assert 'href="/phu-huynh"' in body and 'href="/phu-huynh/lien-ket"' in body
    assert "Xem học bạ số đã phát hành và kết quả học tập" in text(page)
    assert 'href="/phu-huynh/cong-bo"' not in body and 'href="/hoc-ba/"' not in body


def test_a_parent_without_children_is_asked_for_a_code(app, session):
    guardian = session.exec(select(Guardian).where(Guardian.user_id == user(session, "phuhuynh1").id)).one()
    for link in session.exec(select(StudentGuardian).where(StudentGuardian.guardian_id == guardian.id)):
        session.delete(link)
    session.commit()
    page = sign_in(app, "parent").get("/")
    assert "nhập mã liên kết nhà trường phát" in text(page)
    assert "Tài khoản chưa được liên kết với học sinh nào" in text(sign_in(app, "parent").get("/phu-huynh"))


def test_leaders_find_the_publication_page_in_the_menu(app):
    assert 'href="/phu-huynh/cong-bo"' in html(sign_in(app, "principal").get("/"))
    assert 'href="/phu-huynh/cong-bo"' in html(sign_in(app, "vice_principal").get("/"))
    assert 'href="/phu-huynh/cong-bo"' not in html(sign_in(app, "office").get("/"))
    assert 'href="/phu-huynh"' not in html(sign_in(app, "office").get("/"))


def test_the_student_profile_offers_codes_to_those_who_issue_them(app, child):
    assert f'href="/phu-huynh/ma/{child.id}"' in html(sign_in(app, "homeroom").get(f"/hoc-sinh/{child.id}"))
    assert f'href="/phu-huynh/ma/{child.id}"' in html(sign_in(app, "office").get(f"/hoc-sinh/{child.id}"))
    assert f'href="/phu-huynh/ma/{child.id}"' not in html(sign_in(app, "parent").get(f"/hoc-sinh/{child.id}"))
