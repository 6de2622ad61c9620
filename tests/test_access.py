"""Every registered route × every role (and anonymous) against an allow table kept here.

A route that is not in the table fails `test_every_route_is_in_the_table`. For each case, an allowed
role must not get 403 (nor be sent to the login page), a refused role must get exactly 403, and an
anonymous visitor of a protected route is sent to the login page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from portal.models import Guardian, SchoolClass, SchoolYear, Student, StudentGuardian, User
from tests.conftest import DEMO_PASSWORD, ROLE_USERS

ROLES = tuple(ROLE_USERS)
STAFF = ("admin", "principal", "vice_principal", "department_head", "homeroom", "teacher", "office")
SIGNED_IN = (*ROLES,)
LEADERS = ("principal", "vice_principal")
ADMIN = ("admin",)
PUBLIC = ("anonymous", *ROLES)


@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    allowed: tuple[str, ...]
    args: str = ""  # key of the named objects in `targets`
    note: str = ""


# Named objects (see `targets`): own_class = 6A1 this year (homeroom: hoant; teacher tuanlm teaches it);
# other_class = 9A2 (hoant neither teaches nor leads it); child = phuhuynh1's child, in 6A1;
# other_student = a 9A2 student who is nobody's child in the demo.
CASES = [
    Case("auth.login", "GET", PUBLIC),
    Case("auth.login", "POST", PUBLIC),
    Case("auth.logout", "POST", SIGNED_IN),
    Case("auth.change_password", "GET", SIGNED_IN),
    Case("auth.change_password", "POST", SIGNED_IN),
    Case("home.index", "GET", SIGNED_IN),
    Case("school.classes", "GET", (*LEADERS, "office")),
    Case("school.class_detail", "GET", (*LEADERS, "office", "homeroom", "teacher"), "own_class"),
    Case("school.class_detail", "GET", (*LEADERS, "office", "teacher"), "other_class"),
    Case("school.students", "GET", (*LEADERS, "office")),
    Case("school.student_detail", "GET", (*LEADERS, "office", "homeroom", "parent"), "child"),
    Case("school.student_detail", "GET", (*LEADERS, "office"), "other_student"),
    Case("school.student_photo", "GET", (*LEADERS, "office", "homeroom", "parent"), "child"),
    Case("school.student_photo", "GET", (*LEADERS, "office"), "other_student"),
]

# Administration and imports: every route of these blueprints is for the admin role only. Their URL
# arguments are filled with ids of real demo rows by `admin_args`.
ADMIN_ONLY_BLUEPRINTS = ("admin", "imports")


def targets(session) -> dict[str, dict]:
    year = session.exec(select(SchoolYear).where(SchoolYear.is_current)).one()

    def klass(name):
        return session.exec(select(SchoolClass).where(SchoolClass.school_year_id == year.id,
                                                      SchoolClass.name == name)).one()

    parent = session.exec(select(User).where(User.username == "phuhuynh1")).one()
    child = session.exec(
        select(Student).join(StudentGuardian).join(Guardian).where(Guardian.user_id == parent.id)
    ).one()
    linked = select(StudentGuardian.student_id)
    from portal.models import Enrollment

    other = session.exec(
        select(Student).join(Enrollment).where(Enrollment.class_id == klass("9A2").id, ~Student.id.in_(linked))
    ).first()
    return {
        "": {},
        "own_class": {"class_id": klass("6A1").id},
        "other_class": {"class_id": klass("9A2").id},
        "child": {"student_id": child.id},
        "other_student": {"student_id": other.id},
    }


def admin_args(app, session, rule) -> dict:
    """Fill an admin route's arguments with the id of an existing row of the right kind."""
    from portal import models

    by_name = {
        "class_id": models.SchoolClass, "student_id": models.Student, "user_id": models.User,
        "year_id": models.SchoolYear, "school_year_id": models.SchoolYear, "subject_id": models.Subject,
        "department_id": models.Department, "grade_id": models.Grade, "guardian_id": models.Guardian,
        "term_id": models.Term, "teacher_id": models.User,
    }
    args = {}
    for name in rule.arguments:
        if name in by_name:
            args[name] = session.exec(select(by_name[name].id)).first()
        elif name == "grade":
            args[name] = 6
        elif name in ("kind",):
            args[name] = "students"
        elif name in ("token", "fmt", "ext", "filename"):
            args[name] = {"token": "x" * 32, "fmt": "csv", "ext": "csv", "filename": "x.csv"}[name]
        else:
            raise AssertionError(f"test_access.admin_args does not know the argument {name!r} of {rule.rule}")
    return args


def all_cases(app, session):
    """The table's cases plus one case per (admin/imports route, method), each with its URL."""
    named = targets(session)
    cases = []
    with app.test_request_context():
        from flask import url_for

        for case in CASES:
            cases.append((case, url_for(case.endpoint, **named[case.args])))
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] in ADMIN_ONLY_BLUEPRINTS:
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    url = url_for(rule.endpoint, **admin_args(app, session, rule))
                    cases.append((Case(rule.endpoint, method, ADMIN), url))
    return cases


def test_every_route_is_in_the_table(app):
    declared = {(c.endpoint, c.method) for c in CASES}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.split(".")[0] in ADMIN_ONLY_BLUEPRINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in declared:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "routes missing from the allow table in tests/test_access.py:\n" + "\n".join(missing)


def test_every_view_declares_a_policy(app):
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert hasattr(view, "_policy"), endpoint


def _request(client, method, url):
    return client.open(url, method=method, data={})


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_route_by_role(app, session, role):
    client = app.test_client()

    def sign_in():
        if role != "anonymous":
            response = client.post("/dang-nhap", data={"username": ROLE_USERS[role], "password": DEMO_PASSWORD})
            assert response.status_code == 302

    sign_in()
    problems = []
    for case, url in all_cases(app, session):
        response = _request(client, case.method, url)
        status = response.status_code
        to_login = status == 302 and "/dang-nhap" in response.headers.get("Location", "")
        if role in case.allowed:
            if status == 403 or (to_login and case.endpoint != "auth.logout"):
                problems.append(f"{role} should reach {case.method} {url} ({case.endpoint}) but got {status}")
        elif role == "anonymous":
            if not to_login:
                problems.append(f"anonymous should be sent to login by {case.method} {url} but got {status}")
        elif status != 403:
            problems.append(f"{role} should get 403 on {case.method} {url} ({case.endpoint}) but got {status}")
        if case.method != "GET" and role != "anonymous":
            # A POST may have signed the user out or changed state: start again signed in.
            client = app.test_client()
            sign_in()
    assert not problems, "\n".join(problems)
