"""Authorization: one declarative layer of role plus scope.

Every view declares who may call it with ``@policy(role=scope, ...)``: access is granted when the user
holds one of the named roles AND that role's scope predicate accepts the URL's arguments. ``ANY`` is the
unrestricted scope (principal, vice principal). ``@public`` and ``@signed_in`` mark the two other kinds
of view. A view without a declaration makes the app refuse to start (default deny).

Scopes: subject teacher → assigned (class, subject) pairs; homeroom → own classes; department head →
the department's subjects; principal/vice principal → all; admin → administration only (never grades:
no grade view names the admin role); parent → own children.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, wraps

from flask import abort, g, request
from flask_login import current_user
from sqlmodel import Session, select

from portal import audit
from portal.models import (
    Department,
    Enrollment,
    Guardian,
    SchoolClass,
    SchoolYear,
    StudentGuardian,
    Subject,
    TeachingAssignment,
    UserRole,
)

ROLE_LABELS = {
    "admin": "Quản trị hệ thống",
    "principal": "Hiệu trưởng",
    "vice_principal": "Phó hiệu trưởng",
    "teacher": "Giáo viên bộ môn",
    "homeroom": "Giáo viên chủ nhiệm",
    "department_head": "Tổ trưởng chuyên môn",
    "office": "Văn thư",
    "parent": "Phụ huynh",
}
ALL_ROLES = tuple(ROLE_LABELS)

Scope = Callable[["Actor", dict], bool]
PUBLIC = "public"
SIGNED_IN = "signed_in"


class Actor:
    """A signed-in user with their roles and scopes, computed once per request."""

    def __init__(self, session: Session, user):
        self.session = session
        self.user = user
        self.id = user.id

    @cached_property
    def stored_roles(self) -> set[str]:
        rows = self.session.exec(select(UserRole.role).where(UserRole.user_id == self.id))
        return set(rows)

    @cached_property
    def current_year_id(self) -> int | None:
        return self.session.exec(select(SchoolYear.id).where(SchoolYear.is_current)).first()

    @cached_property
    def roles(self) -> set[str]:
        roles = set(self.stored_roles)
        current = self.session.exec(
            select(SchoolClass.id).where(
                SchoolClass.homeroom_teacher_id == self.id, SchoolClass.school_year_id == self.current_year_id
            )
        ).first()
        if current is not None:
            roles.add("homeroom")
        if self.department_ids:
            roles.add("department_head")
        return roles

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @cached_property
    def homeroom_class_ids(self) -> set[int]:
        rows = self.session.exec(select(SchoolClass.id).where(SchoolClass.homeroom_teacher_id == self.id))
        return set(rows)

    @cached_property
    def teaching_pairs(self) -> set[tuple[int, int]]:
        rows = self.session.exec(
            select(TeachingAssignment.class_id, TeachingAssignment.subject_id).where(
                TeachingAssignment.teacher_id == self.id
            )
        )
        return {(c, s) for c, s in rows}

    @cached_property
    def taught_class_ids(self) -> set[int]:
        return {c for c, _ in self.teaching_pairs}

    @cached_property
    def department_ids(self) -> set[int]:
        return set(self.session.exec(select(Department.id).where(Department.head_id == self.id)))

    @cached_property
    def department_subject_ids(self) -> set[int]:
        if not self.department_ids:
            return set()
        rows = self.session.exec(select(Subject.id).where(Subject.department_id.in_(self.department_ids)))
        return set(rows)

    @cached_property
    def child_student_ids(self) -> set[int]:
        rows = self.session.exec(
            select(StudentGuardian.student_id)
            .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
            .where(Guardian.user_id == self.id)
        )
        return set(rows)

    def student_class_ids(self, student_id: int) -> set[int]:
        return set(self.session.exec(select(Enrollment.class_id).where(Enrollment.student_id == student_id)))


# --- Scope predicates ---------------------------------------------------------------------------------


def ANY(_actor: Actor, _args: dict) -> bool:  # noqa: N802 - reads as a constant in policies
    return True


def own_class(param: str = "class_id") -> Scope:
    """Homeroom: the class in the URL is one of the user's homeroom classes."""
    return lambda actor, args: args.get(param) in actor.homeroom_class_ids


def teaches_class(param: str = "class_id") -> Scope:
    """Subject teacher: the user teaches some subject to the class in the URL."""
    return lambda actor, args: args.get(param) in actor.taught_class_ids


def teaches_pair(class_param: str = "class_id", subject_param: str = "subject_id") -> Scope:
    """Subject teacher: the (class, subject) in the URL is assigned to the user."""
    return lambda actor, args: (args.get(class_param), args.get(subject_param)) in actor.teaching_pairs


def department_subject(param: str = "subject_id") -> Scope:
    """Department head: the subject in the URL belongs to the user's department."""
    return lambda actor, args: args.get(param) in actor.department_subject_ids


def own_child(param: str = "student_id") -> Scope:
    """Parent: the student in the URL is the user's child."""
    return lambda actor, args: args.get(param) in actor.child_student_ids


def homeroom_student(param: str = "student_id") -> Scope:
    """Homeroom: the student in the URL is (or was) in one of the user's homeroom classes."""
    return lambda actor, args: bool(actor.student_class_ids(args.get(param)) & actor.homeroom_class_ids)


def taught_student(param: str = "student_id") -> Scope:
    """Subject teacher: the student in the URL is in a class the user teaches."""
    return lambda actor, args: bool(actor.student_class_ids(args.get(param)) & actor.taught_class_ids)


# --- Declarations --------------------------------------------------------------------------------------


def current_actor() -> Actor | None:
    """Return the Actor of this request, or None when nobody is signed in."""
    if not current_user.is_authenticated:
        return None
    if "actor" not in g:
        from portal.db import read_session

        g.actor = Actor(read_session(), current_user.user)
    return g.actor


def allowed(actor: Actor, rules: dict[str, Scope], args: dict) -> bool:
    """Return whether any of the actor's roles is named in rules with a scope that accepts args."""
    return any(role in actor.roles and scope(actor, args) for role, scope in rules.items())


def deny():
    """Refuse the request with 403 (the single place a permission denial passes through), recording it."""
    record_denial()
    abort(403)


def record_denial(reason: str = "") -> None:
    """Append an authz.denied event naming the method, path and reason, in its own write transaction."""
    actor = {}
    if current_user.is_authenticated:
        # Read before audit.record_now rolls the request's session back (which expires the loaded user).
        actor = {"actor_id": current_user.id, "actor_name": current_user.full_name}
    note = f"{request.method} {request.full_path.rstrip('?')}" + (f" — {reason}" if reason else "")
    audit.record_now("authz.denied", object_type="route", object_id=(request.endpoint or "")[:60],
                     note=note[:1000], **actor)


def _guard(kind, rules=None):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if kind != PUBLIC:
                actor = current_actor()
                if actor is None:
                    from portal.auth import login_manager

                    return login_manager.unauthorized()
                if rules is not None and not allowed(actor, rules, request.view_args or {}):
                    deny()
            return view(*args, **kwargs)

        wrapped._policy = rules if rules is not None else kind
        return wrapped

    return decorator


def policy(**rules: Scope):
    """Allow the named roles, each within its scope; everyone else gets 403, anonymous users a login."""
    unknown = set(rules) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles in policy: {sorted(unknown)}")
    return _guard("roles", rules)


def public(view):
    """Allow anyone, signed in or not."""
    return _guard(PUBLIC)(view)


def signed_in(view):
    """Allow any signed-in user whatever their roles (their own account pages)."""
    return _guard(SIGNED_IN)(view)


def check_every_view_has_policy(app) -> None:
    """Refuse to start when a view has no declaration: access is denied by default."""
    missing = [
        endpoint
        for endpoint, fn in app.view_functions.items()
        if endpoint != "static" and not hasattr(fn, "_policy")
    ]
    if missing:
        raise RuntimeError(f"views without an access policy: {sorted(missing)}")
