"""The demo school, seeded deterministically when the database is empty.

A THCS (grades 6–9), two classes per grade of 30 students with Vietnamese names, the full TT22 subject
list, teachers with assignments, homeroom teachers, four department heads, principal, vice principal,
admin, office clerk and two parents. The current school year follows today's date; the previous year
holds the classes the older students came from, so that profiles show a learning history. (`flask setup`
then fills last year's 6A1 with a complete year and releases its transcripts: portal/transcripts/demo.py.)
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from portal import curriculum
from portal.auth.passwords import hash_password
from portal.db import new_session
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
    StudentPhoto,
    Subject,
    TeacherProfile,
    TeachingAssignment,
    Term,
    User,
    UserRole,
)

SEED = 20262027
FAMILY = ["Nguyễn"] * 8 + ["Trần"] * 3 + ["Lê"] * 3 + ["Phạm"] * 2 + [
    "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Đinh", "Lương", "Mai", "Tạ", "Phan", "Trịnh", "Hà",
]
MALE_MIDDLE = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Gia", "Tuấn", "Hoàng", "Thành", "Đình", "Công", "Bảo"]
FEMALE_MIDDLE = ["Thị", "Ngọc", "Thu", "Phương", "Minh", "Khánh", "Thanh", "Hồng", "Bảo", "Hải", "Mai", "Diệu"]
MALE_GIVEN = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hiếu", "Hùng", "Huy", "Khang", "Khoa", "Kiên", "Long",
              "Lâm", "Minh", "Nam", "Nghĩa", "Phúc", "Quân", "Sơn", "Thắng", "Thịnh", "Trung", "Tùng", "Việt",
              "Vinh", "Duy", "Hải", "Hưng", "Phong", "Tiến"]
FEMALE_GIVEN = ["Anh", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hằng", "Hiền", "Hoa", "Hương", "Lan", "Linh",
                "Loan", "Mai", "My", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang",
                "Uyên", "Vân", "Yến", "Thư", "Trâm", "Ánh", "Hạnh"]
COMMUNES = ["xã Gia Viễn", "xã Gia Hưng", "phường Hoa Lư", "xã Ninh Hải", "phường Nam Hoa Lư", "xã Yên Khánh",
            "xã Khánh Thiện", "phường Tây Hoa Lư"]
VILLAGES = ["Thôn Đông", "Thôn Tây", "Thôn Trung", "Xóm Mới", "Thôn Bắc", "Tổ dân phố 3", "Tổ dân phố 7"]
JOBS = ["Nông dân", "Công nhân", "Giáo viên", "Kinh doanh", "Viên chức", "Lao động tự do", "Bác sĩ",
        "Thợ may", "Lái xe", "Kỹ sư"]
PROVINCE = "tỉnh Ninh Bình"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    full_name: str
    note: str = ""


DEPARTMENTS = {
    "toantin": "Tổ Toán – Tin",
    "tunhien": "Tổ Khoa học tự nhiên – Công nghệ",
    "xahoi": "Tổ Ngữ văn – Khoa học xã hội",
    "ngoaingu": "Tổ Ngoại ngữ – Nghệ thuật – Thể chất",
}

# (username, full name, sex, department, subjects taught, classes taught by index 0..7 or None=all)
TEACHERS = [
    ("hoant", "Nguyễn Thị Hoa", 2, "toantin", ["toan"], [0, 1, 2, 3]),
    ("dungpv", "Phạm Văn Dũng", 1, "toantin", ["toan"], [6, 7]),
    ("tuanlm", "Lê Minh Tuấn", 1, "toantin", ["tinhoc"], None),
    ("lanhtt", "Hoàng Thị Thu Lan", 2, "xahoi", ["van"], [0, 1, 2, 3]),
    ("haivd", "Vũ Đức Hải", 1, "xahoi", ["van"], [4, 5, 6, 7]),
    ("thuydt", "Đặng Thị Thủy", 2, "xahoi", ["lsdl", "gddp"], None),
    ("namtq", "Trần Quang Nam", 1, "xahoi", ["gdcd"], None),
    ("ngocbt", "Bùi Thị Ngọc", 2, "ngoaingu", ["anh"], [0, 1, 2, 3]),
    ("quynhdn", "Đỗ Ngọc Quỳnh", 2, "ngoaingu", ["anh"], [4, 5, 6, 7]),
    ("hungnv", "Ngô Văn Hùng", 1, "ngoaingu", ["gdtc"], None),
    ("maidt", "Dương Thị Mai", 2, "ngoaingu", ["amnhac"], None),
    ("phongdh", "Đinh Hoàng Phong", 1, "ngoaingu", ["mithuat"], None),
    ("hanhlt", "Lương Thị Hạnh", 2, "tunhien", ["khtn"], [0, 1, 2, 3]),
    ("sonmv", "Mai Văn Sơn", 1, "tunhien", ["khtn"], [4, 5, 6, 7]),
    ("trangpt", "Phan Thu Trang", 2, "tunhien", ["congnghe"], None),
    ("vinhtd", "Trịnh Đức Vinh", 1, "toantin", ["toan"], [4, 5]),
]
CLASS_NAMES = ["6A1", "6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]
# Homeroom teacher of each class (they also teach it Hoạt động trải nghiệm, hướng nghiệp).
HOMEROOM = ["hoant", "lanhtt", "ngocbt", "hanhlt", "dungpv", "haivd", "quynhdn", "sonmv"]
HEADS = {"toantin": "vinhtd", "tunhien": "trangpt", "xahoi": "thuydt", "ngoaingu": "hungnv"}


def school_year_bounds(today: date) -> tuple[int, int]:
    """Return the calendar years of the school year that contains today (it starts in August)."""
    start = today.year if today.month >= 8 else today.year - 1
    return start, start + 1


def seed_demo_if_empty(app, today: date | None = None) -> bool:
    """Create the demo school unless the database already holds a school; tell whether it did."""
    with new_session(write=True, app=app) as session:
        if session.exec(select(School.id)).first() is not None:
            return False
        with app.app_context():
            seed_demo(session, today or date.today())
        session.commit()
    return True


def seed_demo(session: Session, today: date) -> None:
    """Write the demo school into an empty database (the caller commits)."""
    rng = random.Random(SEED)
    start, end = school_year_bounds(today)
    session.add(School(
        ministry_code="37101234", name="Trường THCS Hoa Lư (trường mẫu)", level="thcs",
        department_code="37", department_name="Sở Giáo dục và Đào tạo Ninh Bình",
        address="Số 12 đường Trần Hưng Đạo", ward_name="Phường Hoa Lư", ward_code="14479",
        province_name="Ninh Bình", province_code="37", release_place="Ninh Bình",
        phone="02293871234", email="thcshoalu@ninhbinh.edu.vn",
    ))
    previous = SchoolYear(name=f"{start - 1}-{start}", start_date=date(start - 1, 9, 5),
                          end_date=date(start, 5, 31), is_current=False)
    current = SchoolYear(name=f"{start}-{end}", start_date=date(start, 9, 5), end_date=date(end, 5, 31),
                         is_current=True)
    session.add_all([previous, current])
    session.flush()
    for year in (previous, current):
        y0 = year.start_date.year
        session.add(Term(school_year_id=year.id, code="hk1", start_date=date(y0, 9, 5), end_date=date(y0 + 1, 1, 17)))
        session.add(Term(school_year_id=year.id, code="hk2", start_date=date(y0 + 1, 1, 19),
                         end_date=date(y0 + 1, 5, 31)))
    _seed_periods(session, previous, current, today)

    password_hash = _demo_hash()
    users: dict[str, User] = {}

    def add_user(username, full_name, roles, *, personal_id=None, sex=0, title="Giáo viên", dept=None, dob=None):
        user = User(username=username, full_name=full_name, password_hash=password_hash,
                    email=f"{username}@thcshoalu.edu.vn", phone=f"09{rng.randrange(10**7, 10**8)}")
        session.add(user)
        session.flush()
        for role in roles:
            session.add(UserRole(user_id=user.id, role=role))
        if personal_id:
            session.add(TeacherProfile(user_id=user.id, personal_id=personal_id, sex=sex, title=title,
                                       department_id=dept, date_of_birth=dob))
        users[username] = user
        return user

    def staff_id(sex: int, birth_year: int) -> str:
        century = 0 if birth_year < 2000 else 2
        return f"037{century + (sex == 2)}{birth_year % 100:02d}{rng.randrange(10**6):06d}"

    add_user("quantri", "Lê Văn Quản", ["admin"])
    add_user("hieutruong", "Nguyễn Văn Thành", ["principal"], personal_id=staff_id(1, 1972), sex=1,
             title="Hiệu trưởng", dob=date(1972, 3, 14))
    add_user("phohieutruong", "Trần Thị Bích Hường", ["vice_principal"], personal_id=staff_id(2, 1979), sex=2,
             title="Phó Hiệu trưởng", dob=date(1979, 8, 2))
    add_user("vanthu", "Phạm Thị Thu Hà", ["office"])

    departments = {}
    for key, name in DEPARTMENTS.items():
        dept = Department(name=name)
        session.add(dept)
        departments[key] = dept
    session.flush()
    for username, full_name, sex, dept_key, _subjects, _classes in TEACHERS:
        birth = rng.randrange(1975, 1997)
        add_user(username, full_name, ["teacher"], personal_id=staff_id(sex, birth), sex=sex,
                 dept=departments[dept_key].id, dob=date(birth, rng.randrange(1, 13), rng.randrange(1, 28)),
                 title="Tổ trưởng chuyên môn" if HEADS.get(dept_key) == username else "Giáo viên")
    for key, username in HEADS.items():
        departments[key].head_id = users[username].id
        session.add(departments[key])

    grades = {}
    for number in range(6, 10):
        grade = Grade(number=number)
        session.add(grade)
        grades[number] = grade
    session.flush()
    subjects: dict[tuple[int, str], Subject] = {}
    for number, grade in grades.items():
        for position, item in enumerate(curriculum.subjects_for_grade(number)):
            subject = Subject(grade_id=grade.id, code=item.code, name=item.name,
                              periods_per_year=item.periods_per_year, kind=item.kind,
                              has_periodic_test=item.has_periodic_test,
                              department_id=departments[item.department].id if item.department else None,
                              position=position)
            session.add(subject)
            subjects[(number, item.code)] = subject
    session.flush()

    def make_classes(year: SchoolYear, names: list[str]) -> list[SchoolClass]:
        made = []
        for name in names:
            index = CLASS_NAMES.index(name)
            klass = SchoolClass(school_year_id=year.id, grade_id=grades[int(name[0])].id, name=name,
                                homeroom_teacher_id=users[HOMEROOM[index]].id)
            session.add(klass)
            made.append(klass)
        session.flush()
        for klass in made:
            index = CLASS_NAMES.index(klass.name)
            number = int(klass.name[0])
            for username, _name, _sex, _dept, taught, class_indexes in TEACHERS:
                if class_indexes is not None and index not in class_indexes:
                    continue
                for code in taught:
                    session.add(TeachingAssignment(class_id=klass.id, subject_id=subjects[(number, code)].id,
                                                   teacher_id=users[username].id))
            session.add(TeachingAssignment(class_id=klass.id, subject_id=subjects[(number, "hdtn")].id,
                                           teacher_id=users[HOMEROOM[index]].id))
        return made

    current_classes = make_classes(current, CLASS_NAMES)
    # Last year: this year's grade 7–9 students were in grade 6–8 classes of the same suffix.
    previous_classes = make_classes(previous, CLASS_NAMES[:6])
    previous_by_name = {c.name: c for c in previous_classes}

    students_by_class: dict[str, list[Student]] = {}
    used_ids: set[str] = set()
    sequence = 0
    for klass in current_classes:
        number = int(klass.name[0])
        birth_year = start - (number + 5)
        roster = []
        for _ in range(30):
            sequence += 1
            roster.append(_make_student(rng, session, sequence, birth_year, used_ids))
        roster.sort(key=lambda s: (s.full_name.split()[-1], s.full_name))
        session.flush()
        last_year = previous_by_name.get(f"{number - 1}{klass.name[1:]}")
        for position, student in enumerate(roster, start=1):
            session.add(Enrollment(student_id=student.id, class_id=klass.id, number=position))
            if last_year is not None:
                session.add(Enrollment(student_id=student.id, class_id=last_year.id, number=position,
                                       left_on=previous.end_date))
            if rng.random() < 0.9:
                data = _photo_png(student)
                session.add(StudentPhoto(student_id=student.id, mime="image/png", data=data))
                student.photo_sha256 = hashlib.sha256(data).hexdigest()
                session.add(student)
        students_by_class[klass.name] = roster

    # Two parent accounts: a mother of one child, a father of two (siblings in 6A1 and 9A2).
    child = students_by_class["6A1"][0]
    mother = add_user("phuhuynh1", child.mother_name, ["parent"])
    _link_guardian(session, mother, "me", [child], child.mother_occupation)
    elder, younger = students_by_class["9A2"][3], students_by_class["6A2"][5]
    younger.full_name = " ".join([elder.full_name.split()[0], *younger.full_name.split()[1:]])
    younger.father_name, younger.mother_name = elder.father_name, elder.mother_name
    younger.father_occupation, younger.hometown = elder.father_occupation, elder.hometown
    session.add(younger)
    father = add_user("phuhuynh2", elder.father_name, ["parent"])
    _link_guardian(session, father, "cha", [elder, younger], elder.father_occupation)
    session.flush()


def _link_guardian(session: Session, user: User, relation: str, children: list[Student], occupation) -> None:
    guardian = Guardian(full_name=user.full_name, relation=relation, phone=user.phone, occupation=occupation,
                        user_id=user.id)
    session.add(guardian)
    session.flush()
    for child in children:
        session.add(StudentGuardian(student_id=child.id, guardian_id=guardian.id))


def _person_name(rng: random.Random, sex: int) -> str:
    family = rng.choice(FAMILY)
    if sex == 1:
        return f"{family} {rng.choice(MALE_MIDDLE)} {rng.choice(MALE_GIVEN)}"
    return f"{family} {rng.choice(FEMALE_MIDDLE)} {rng.choice(FEMALE_GIVEN)}"


def _make_student(rng: random.Random, session: Session, sequence: int, birth_year: int, used: set[str]) -> Student:
    sex = rng.choice((1, 2))
    name = _person_name(rng, sex)
    family = name.split()[0]
    father = f"{family} {rng.choice(MALE_MIDDLE)} {rng.choice(MALE_GIVEN)}"
    mother = _person_name(rng, 2)
    while True:
        personal_id = f"037{2 + (sex == 2)}{birth_year % 100:02d}{rng.randrange(10**6):06d}"
        if personal_id not in used:
            used.add(personal_id)
            break
    commune = rng.choice(COMMUNES)
    complete = rng.random() > 0.06  # a few profiles still lack data, as in a real school in September
    student = Student(
        student_code=f"3710123400{sequence:03d}",
        personal_id=personal_id,
        full_name=name,
        date_of_birth=date(birth_year, rng.randrange(1, 13), rng.randrange(1, 29)),
        sex=sex,
        ethnicity="06" if rng.random() < 0.08 else "01",
        nationality="VN",
        birthplace=f"Trạm y tế {commune}, {PROVINCE}" if complete else "",
        birthplace_province_code="37",
        hometown=f"{rng.choice(COMMUNES)}, {PROVINCE}",
        residence=f"{rng.choice(VILLAGES)}, {commune}, {PROVINCE}",
        policy_group="Con thương binh" if rng.random() < 0.02 else None,
        registration_number=f"{sequence:03d}/2021",
        father_name=father,
        father_occupation=rng.choice(JOBS),
        mother_name=mother,
        mother_occupation=rng.choice(JOBS),
    )
    session.add(student)
    return student


def _photo_png(student: Student) -> bytes:
    """Draw a plain 3×4 placeholder portrait (the demo has no real photographs)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (90, 120), (226, 232, 240))
    draw = ImageDraw.Draw(image)
    tone = (96, 112, 140) if student.sex == 1 else (150, 104, 128)
    draw.ellipse((28, 18, 62, 56), fill=tone)
    draw.rounded_rectangle((14, 62, 76, 130), radius=22, fill=tone)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _seed_periods(session: Session, previous: SchoolYear, current: SchoolYear, today: date) -> None:
    """The previous year keeps the default deadlines (all passed: locked). In the current year a deadline
    that has already passed on the day of seeding moves to 30 days later, so the demo school starts with
    every period open and the principal locks them from the periods screen."""
    from datetime import timedelta

    from portal.periods import service as periods

    periods.ensure_periods(session, previous)
    for period in periods.ensure_periods(session, current).values():
        if period.deadline < today:
            period.deadline = today + timedelta(days=30)
            session.add(period)


_HASH_CACHE: dict[str, str] = {}


def _demo_hash() -> str:
    # One Argon2id hash of the demo password shared by the demo accounts: seeding stays fast.
    from flask import current_app

    password = current_app.config["DEMO_PASSWORD"]
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = hash_password(password)
    return _HASH_CACHE[password]


def demo_logins() -> list[DemoLogin]:
    """Return one demo account per role, for `make run` and the README."""
    head = HEADS["toantin"]
    return [
        DemoLogin("admin", "quantri", "Lê Văn Quản"),
        DemoLogin("principal", "hieutruong", "Nguyễn Văn Thành"),
        DemoLogin("vice_principal", "phohieutruong", "Trần Thị Bích Hường"),
        DemoLogin("department_head", head, "Trịnh Đức Vinh", "Tổ trưởng Tổ Toán – Tin, dạy Toán 8A1, 8A2"),
        DemoLogin("homeroom", HOMEROOM[0], "Nguyễn Thị Hoa", "GVCN lớp 6A1, dạy Toán"),
        DemoLogin("teacher", "tuanlm", "Lê Minh Tuấn", "dạy Tin học cả 8 lớp"),
        DemoLogin("office", "vanthu", "Phạm Thị Thu Hà"),
        DemoLogin("parent", "phuhuynh1", "", "phụ huynh 1 học sinh lớp 6A1"),
        DemoLogin("parent", "phuhuynh2", "", "phụ huynh 2 học sinh (9A2, 6A2)"),
    ]


def format_demo_logins(app) -> str:
    """Return the demo logins as a small table (Vietnamese role names)."""
    from portal.authz import ROLE_LABELS

    lines = [f"Tài khoản mẫu (mật khẩu chung: {app.config['DEMO_PASSWORD']}):"]
    for login in demo_logins():
        note = f"  ({login.note})" if login.note else ""
        lines.append(f"  {ROLE_LABELS[login.role]:<22} {login.username:<15}{note}")
    return "\n".join(lines)
