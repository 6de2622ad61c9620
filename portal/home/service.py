"""What each role has to do now, computed for the home screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_
from sqlmodel import Session, select

from portal.authz import Actor
from portal.models import (
    Department,
    Enrollment,
    Grade,
    Guardian,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    StudentGuardian,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    User,
    UserRole,
)

# Order in which a person holding several roles sees their sections.
SECTION_ORDER = ("principal", "vice_principal", "department_head", "homeroom", "teacher", "office", "admin", "parent")


@dataclass
class Todo:
    text: str
    url: str | None = None
    level: str = "warn"  # warn | ok | info


@dataclass
class Section:
    role: str
    template: str
    todos: list[Todo] = field(default_factory=list)
    data: dict = field(default_factory=dict)


def current_year(session: Session) -> SchoolYear | None:
    return session.exec(select(SchoolYear).where(SchoolYear.is_current)).first()


def class_sizes(session: Session, class_ids) -> dict[int, int]:
    if not class_ids:
        return {}
    rows = session.exec(
        select(Enrollment.class_id, func.count())
        .where(Enrollment.class_id.in_(class_ids), Enrollment.left_on.is_(None))
        .group_by(Enrollment.class_id)
    )
    return dict(rows.all())


def home_sections(*, session: Session, actor: Actor) -> list[Section]:
    """Build one section per role the user holds, in a fixed order."""
    builders = {
        "principal": _leadership, "vice_principal": _leadership, "department_head": _department_head,
        "homeroom": _homeroom, "teacher": _teacher, "office": _office, "admin": _admin, "parent": _parent,
    }
    year = current_year(session)
    sections = []
    seen_leadership = False
    for role in SECTION_ORDER:
        if role not in actor.roles:
            continue
        if role in ("principal", "vice_principal"):
            if seen_leadership:
                continue
            seen_leadership = True
        sections.append(builders[role](session, actor, year, role))
    _signing_todo(session, actor, sections)
    return sections


SIGNING_ROLES = ("principal", "vice_principal", "homeroom", "teacher", "department_head")


def _signing_todo(session, actor, sections: list[Section]) -> None:
    """Signers: how many transcripts wait for their signature, first on the list of their first section."""
    from flask import url_for

    from portal.transcripts import service as transcripts

    target = next((s for s in sections if s.role in SIGNING_ROLES), None)
    if target is None:
        return
    pending = transcripts.pending_for_user(session, actor.id)
    due = sum(1 for _row, _sigs, turn in pending if turn)
    if due:
        later = len(pending) - due
        text = f"{due} học bạ chờ bạn ký" + (f" (và {later} học bạ chờ người ký trước bạn)" if later else "") + "."
    elif pending:
        text = f"{len(pending)} học bạ sẽ cần chữ ký của bạn khi người ký trước đã ký xong."
    else:
        return
    target.todos[:] = [t for t in target.todos if "Chưa có việc cần duyệt" not in t.text]
    target.todos.insert(0, Todo(text, url_for("transcripts.queue"), "warn" if due else "info"))


def _leadership(session, actor, year, role) -> Section:

    section = Section(role, "home/_leadership.html")
    classes = _year_classes(session, year)
    sizes = class_sizes(session, [c.id for c, _ in classes])
    section.data = {
        "year": year,
        "classes": [(c, g, sizes.get(c.id, 0)) for c, g in classes],
        "students": sum(sizes.values()),
        "homerooms": dict(session.exec(select(User.id, User.full_name).where(
            User.id.in_([c.homeroom_teacher_id for c, _ in classes if c.homeroom_teacher_id]))).all()),
        "teachers": session.exec(
            select(func.count()).select_from(UserRole).where(UserRole.role == "teacher")
        ).one(),
    }
    no_homeroom = [c.name for c, _ in classes if c.homeroom_teacher_id is None]
    if no_homeroom:
        section.todos.append(Todo(f"Lớp chưa có giáo viên chủ nhiệm: {', '.join(no_homeroom)}."))
    missing_id = _teachers_missing_personal_id(session)
    if missing_id:
        section.todos.append(Todo(
            f"{missing_id} giáo viên chưa có số định danh cá nhân (bắt buộc để ký học bạ số)."))
    if not section.todos:
        section.todos.append(Todo("Dữ liệu đầu năm học đã đầy đủ. Chưa có việc cần duyệt.", None, "ok"))
    section.data["urgent"], section.data["urgent_total"] = _dashboard().urgent_items(session, limit=5)
    _unlock_inbox_todo(session, section)
    return section


def _teacher(session, actor, year, role) -> Section:
    section = Section(role, "home/_teacher.html")
    rows = session.exec(
        select(TeachingAssignment, SchoolClass, Subject)
        .join(SchoolClass, SchoolClass.id == TeachingAssignment.class_id)
        .join(Subject, Subject.id == TeachingAssignment.subject_id)
        .where(TeachingAssignment.teacher_id == actor.id, SchoolClass.school_year_id == _year_id(year))
        .order_by(SchoolClass.name, Subject.position)
    ).all()
    sizes = class_sizes(session, list({c.id for _, c, _ in rows}))
    section.data = {"assignments": [(c, s, sizes.get(c.id, 0)) for _, c, s in rows]}
    if not rows:
        section.todos.append(Todo("Bạn chưa được phân công giảng dạy lớp nào trong năm học này.", None, "info"))
    else:
        section.todos.append(Todo(
            f"Bạn dạy {len(rows)} lớp–môn trong năm học {year.name if year else ''}.", None, "info"))
    section.data["pending"] = _dashboard().teacher_pending(session, actor=actor) if rows else None
    _progress_todos(section, "lớp–môn", "điểm")
    section.data["unlock_requests"] = _unlock_requests(session, actor, homeroom=False)
    return section


def _homeroom(session, actor, year, role) -> Section:
    from flask import url_for

    section = Section(role, "home/_homeroom.html")
    classes = session.exec(
        select(SchoolClass).where(
            SchoolClass.homeroom_teacher_id == actor.id, SchoolClass.school_year_id == _year_id(year)
        )
    ).all()
    items = []
    for klass in classes:
        students = session.exec(
            select(Student).join(Enrollment, Enrollment.student_id == Student.id)
            .where(Enrollment.class_id == klass.id, Enrollment.left_on.is_(None))
        ).all()
        incomplete = [s for s in students if profile_gaps(s)]
        items.append((klass, len(students), len(incomplete)))
        if incomplete:
            section.todos.append(Todo(
                f"Lớp {klass.name}: {len(incomplete)} học sinh chưa đủ hồ sơ (ảnh, nơi sinh, quê quán, cha mẹ…).",
                url_for("school.class_detail", class_id=klass.id),
            ))
    section.data = {"classes": items}
    if not section.todos:
        section.todos.append(Todo("Hồ sơ học sinh lớp chủ nhiệm đã đầy đủ.", None, "ok"))
    section.data["pending"] = _dashboard().homeroom_pending(session, actor=actor) if classes else None
    _progress_todos(section, "lớp", "mục chủ nhiệm")
    section.data["unlock_requests"] = _unlock_requests(session, actor, homeroom=True)
    return section


def _department_head(session, actor, year, role) -> Section:
    section = Section(role, "home/_department.html")
    departments = session.exec(select(Department).where(Department.head_id == actor.id)).all()
    rows = []
    for dept in departments:
        subjects = session.exec(
            select(Subject, Grade).join(Grade, Grade.id == Subject.grade_id)
            .where(Subject.department_id == dept.id).order_by(Grade.number, Subject.position)
        ).all()
        classes = {c.grade_id: 0 for c, _ in _year_classes(session, year)}
        for c, _ in _year_classes(session, year):
            classes[c.grade_id] += 1
        missing = 0
        for subject, grade in subjects:
            assigned = session.exec(
                select(func.count()).select_from(TeachingAssignment)
                .join(SchoolClass, SchoolClass.id == TeachingAssignment.class_id)
                .where(TeachingAssignment.subject_id == subject.id, SchoolClass.school_year_id == _year_id(year))
            ).one()
            missing += max(0, classes.get(grade.id, 0) - assigned)
        names = sorted({s.name for s, _ in subjects})
        rows.append((dept, names, missing))
        if missing:
            section.todos.append(Todo(f"{dept.name}: {missing} lớp–môn chưa có giáo viên được phân công."))
    section.data = {"departments": rows}
    if not section.todos:
        section.todos.append(Todo("Các môn của tổ đã được phân công đủ giáo viên.", None, "ok"))
    return section


def _office(session, actor, year, role) -> Section:
    from flask import url_for

    section = Section(role, "home/_office.html")
    count = session.exec(select(func.count()).select_from(Student).where(Student.status == "studying")).one()
    section.data = {"students": count}
    section.todos.append(Todo("Tra cứu hồ sơ học sinh để in bản sao hoặc xử lý hồ sơ chuyển trường.",
                              url_for("school.students"), "info"))
    return section


def _admin(session, actor, year, role) -> Section:
    from flask import url_for

    section = Section(role, "home/_admin.html")
    school = session.exec(select(School)).first()
    todos = section.todos
    if school is None:
        todos.append(Todo("Chưa khai báo thông tin nhà trường.", url_for("admin.school")))
    else:
        missing = [label for attr, label in (
            ("ministry_code", "mã trường"), ("department_code", "mã sở"), ("province_code", "mã tỉnh"),
            ("ward_name", "xã/phường"), ("release_place", "địa danh phát hành"),
        ) if not getattr(school, attr)]
        if missing:
            todos.append(Todo("Thông tin trường còn thiếu: " + ", ".join(missing) + ".", url_for("admin.school")))
    if year is None:
        todos.append(Todo("Chưa có năm học hiện tại.", url_for("admin.years")))
    classes = _year_classes(session, year)
    if year is not None and not classes:
        todos.append(Todo("Năm học hiện tại chưa có lớp nào.", url_for("admin.classes")))
    no_homeroom = [c.name for c, _ in classes if c.homeroom_teacher_id is None]
    if no_homeroom:
        todos.append(Todo(f"Lớp chưa có GVCN: {', '.join(no_homeroom)}.", url_for("admin.classes")))
    unassigned = _unassigned_pairs(session, classes)
    if unassigned:
        todos.append(Todo(f"{unassigned} lớp–môn chưa được phân công giáo viên.", url_for("admin.assignments")))
    missing_id = _teachers_missing_personal_id(session)
    if missing_id:
        todos.append(Todo(f"{missing_id} giáo viên chưa có số định danh cá nhân.", url_for("admin.teachers")))
    unenrolled = session.exec(
        select(func.count()).select_from(Student)
        .where(Student.status == "studying", ~Student.id.in_(_current_enrolled_ids(year)))
    ).one() if year else 0
    if unenrolled:
        todos.append(Todo(f"{unenrolled} học sinh chưa được xếp lớp năm học này.", url_for("admin.students")))
    if not todos:
        todos.append(Todo("Dữ liệu quản trị đã đầy đủ.", None, "ok"))
    section.data = {
        "users": session.exec(select(func.count()).select_from(User).where(User.active)).one(),
        "students": session.exec(select(func.count()).select_from(Student)).one(),
        "classes": len(classes),
    }
    return section


def _parent(session, actor, year, role) -> Section:
    from flask import url_for

    section = Section(role, "home/_parent.html")
    children = session.exec(
        select(Student)
        .join(StudentGuardian, StudentGuardian.student_id == Student.id)
        .join(Guardian, Guardian.id == StudentGuardian.guardian_id)
        .where(Guardian.user_id == actor.id)
        .order_by(Student.full_name)
    ).all()
    items = []
    for child in children:
        klass = session.exec(
            select(SchoolClass).join(Enrollment, Enrollment.class_id == SchoolClass.id)
            .where(Enrollment.student_id == child.id, SchoolClass.school_year_id == _year_id(year))
        ).first()
        items.append((child, klass))
    section.data = {"children": items}
    if children:
        section.todos.append(Todo("Xem học bạ số đã phát hành và kết quả học tập nhà trường đã công bố của con.",
                                  url_for("parents.index"), "info"))
    else:
        section.todos.append(Todo("Tài khoản chưa được liên kết với học sinh nào: nhập mã liên kết nhà trường phát.",
                                  url_for("parents.claim"), "warn"))
    return section


def _dashboard():
    # Imported late: the dashboard reads the gradebook's rules, whose package imports this module.
    from portal.dashboard import service

    return service


def _progress_todos(section: Section, noun: str, what: str) -> None:
    """Say on the to-do list what is still to enter before the next deadline, and what is already late."""
    pending = section.data.get("pending")
    if pending is None or pending.period is None:
        return
    period = pending.period
    name = "cả năm" if period.code == "cn" else period.label
    due = f"hạn {period.deadline.strftime('%d/%m/%Y')}, {period.days}"
    if pending.items:
        section.todos.append(Todo(f"Còn {len(pending.items)} {noun} chưa nhập đủ {what} {name} ({due}).",
                                  "#tien-do-" + section.role, "warn"))
    elif pending.checked:
        section.todos.append(Todo(f"Đã nhập đủ {what} {name} ({due}).", None, "ok"))
    if pending.overdue:
        section.todos.append(Todo(f"{len(pending.overdue)} {noun} đã quá hạn nhập mà chưa đủ {what}.",
                                  "#tien-do-" + section.role, "warn"))


def _unlock_requests(session, actor, *, homeroom: bool) -> list:
    """The user's recent unlock requests (subject ones in the teacher section, homeroom ones in the homeroom's)."""
    from portal.periods import read

    return read.requests_of(session, actor.id, homeroom=homeroom, limit=5)


def _unlock_inbox_todo(session, section: Section) -> None:
    """Leadership: the unlock requests waiting for a decision, first on the to-do list."""
    from flask import url_for

    from portal.periods import read

    waiting = read.pending_count(session)
    if waiting:
        section.todos[:] = [t for t in section.todos if "Chưa có việc cần duyệt" not in t.text]  # now there is
        section.todos.insert(0, Todo(f"{waiting} đề nghị mở khóa đang chờ quyết định.", url_for("periods.inbox")))


def profile_gaps(student: Student) -> list[str]:
    """Return the profile fields a transcript needs that are still empty (Vietnamese labels)."""
    gaps = []
    for attr, label in (("birthplace", "nơi sinh"), ("hometown", "quê quán"), ("residence", "chỗ ở hiện tại"),
                        ("photo_sha256", "ảnh 3×4")):
        if not getattr(student, attr):
            gaps.append(label)
    if not (student.father_name or student.mother_name or student.guardian_name):
        gaps.append("cha, mẹ hoặc người giám hộ")
    return gaps


def _year_id(year: SchoolYear | None) -> int:
    return year.id if year else -1


def _year_classes(session, year):
    if year is None:
        return []
    return session.exec(
        select(SchoolClass, Grade).join(Grade, Grade.id == SchoolClass.grade_id)
        .where(SchoolClass.school_year_id == year.id).order_by(Grade.number, SchoolClass.name)
    ).all()


def _current_enrolled_ids(year):
    return (
        select(Enrollment.student_id).join(SchoolClass, SchoolClass.id == Enrollment.class_id)
        .where(SchoolClass.school_year_id == year.id)
    )


def _unassigned_pairs(session, classes) -> int:
    total = 0
    for klass, _grade in classes:
        subjects = session.exec(
            select(func.count()).select_from(Subject).where(Subject.grade_id == klass.grade_id)
        ).one()
        assigned = session.exec(
            select(func.count()).select_from(TeachingAssignment).where(TeachingAssignment.class_id == klass.id)
        ).one()
        total += max(0, subjects - assigned)
    return total


def _teachers_missing_personal_id(session) -> int:
    return session.exec(
        select(func.count(func.distinct(UserRole.user_id))).select_from(UserRole)
        .outerjoin(TeacherProfile, TeacherProfile.user_id == UserRole.user_id)
        .where(UserRole.role.in_(("teacher", "principal", "vice_principal")),
               or_(TeacherProfile.personal_id.is_(None), TeacherProfile.personal_id == ""))
    ).one()
