"""The 2018 general education curriculum (Circular 32/2018/TT-BGDĐT): subjects and periods per year.

Used to pre-fill a grade's subjects. Kinds follow the assessment regimes (ASSESSMENT.md): TT22 subjects
are "score" (comment + score) or "comment" (Đạt/Chưa đạt: physical education, arts, local education,
experiential activities); TT27 subjects are rated by "level" (HTT/HT/CHT), some with periodic tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CurriculumSubject:
    code: str
    name: str
    periods_per_year: int
    kind: str  # score | comment | level
    has_periodic_test: bool = False
    department: str | None = None  # key of DEMO_DEPARTMENTS, for seeding
    ministry_code: str | None = None


def _secondary_lower(grade: int) -> list[CurriculumSubject]:
    technology = 35 if grade in (6, 7) else 52
    return [
        CurriculumSubject("van", "Ngữ văn", 140, "score", department="xahoi"),
        CurriculumSubject("toan", "Toán", 140, "score", department="toantin"),
        CurriculumSubject("anh", "Tiếng Anh", 105, "score", department="ngoaingu"),
        CurriculumSubject("gdcd", "Giáo dục công dân", 35, "score", department="xahoi"),
        CurriculumSubject("lsdl", "Lịch sử và Địa lí", 105, "score", department="xahoi"),
        CurriculumSubject("khtn", "Khoa học tự nhiên", 140, "score", department="tunhien"),
        CurriculumSubject("congnghe", "Công nghệ", technology, "score", department="tunhien"),
        CurriculumSubject("tinhoc", "Tin học", 35, "score", department="toantin"),
        CurriculumSubject("gdtc", "Giáo dục thể chất", 70, "comment", department="ngoaingu"),
        CurriculumSubject("amnhac", "Nghệ thuật (Âm nhạc)", 35, "comment", department="ngoaingu"),
        CurriculumSubject("mithuat", "Nghệ thuật (Mĩ thuật)", 35, "comment", department="ngoaingu"),
        CurriculumSubject("hdtn", "Hoạt động trải nghiệm, hướng nghiệp", 105, "comment", department="xahoi"),
        CurriculumSubject("gddp", "Nội dung giáo dục của địa phương", 35, "comment", department="xahoi"),
    ]


def _secondary_upper(grade: int) -> list[CurriculumSubject]:
    # Compulsory subjects plus the usual elective set; a school edits the electives it offers.
    return [
        CurriculumSubject("van", "Ngữ văn", 105, "score"),
        CurriculumSubject("toan", "Toán", 105, "score"),
        CurriculumSubject("anh", "Tiếng Anh", 105, "score"),
        CurriculumSubject("su", "Lịch sử", 52, "score"),
        CurriculumSubject("gdqpan", "Giáo dục quốc phòng và an ninh", 35, "score"),
        CurriculumSubject("dia", "Địa lí", 70, "score"),
        CurriculumSubject("gdktpl", "Giáo dục kinh tế và pháp luật", 70, "score"),
        CurriculumSubject("ly", "Vật lí", 70, "score"),
        CurriculumSubject("hoa", "Hoá học", 70, "score"),
        CurriculumSubject("sinh", "Sinh học", 70, "score"),
        CurriculumSubject("congnghe", "Công nghệ", 70, "score"),
        CurriculumSubject("tinhoc", "Tin học", 70, "score"),
        CurriculumSubject("gdtc", "Giáo dục thể chất", 70, "comment"),
        CurriculumSubject("hdtn", "Hoạt động trải nghiệm, hướng nghiệp", 105, "comment"),
        CurriculumSubject("gddp", "Nội dung giáo dục của địa phương", 35, "comment"),
    ]


def _primary(grade: int) -> list[CurriculumSubject]:
    vietnamese = {1: 420, 2: 350, 3: 245, 4: 245, 5: 245}[grade]
    maths = 105 if grade == 1 else 175
    subjects = [
        CurriculumSubject("tieng_viet", "Tiếng Việt", vietnamese, "level", True),
        CurriculumSubject("toan", "Toán", maths, "level", True),
    ]
    if grade >= 3:
        subjects.append(CurriculumSubject("ngoai_ngu", "Ngoại ngữ 1", 140, "level", True))
    subjects.append(CurriculumSubject("dao_duc", "Đạo đức", 35, "level"))
    if grade <= 3:
        subjects.append(CurriculumSubject("tnxh", "Tự nhiên và Xã hội", 70, "level"))
    else:
        subjects.append(CurriculumSubject("lsdl", "Lịch sử và Địa lí", 70, "level", True))
        subjects.append(CurriculumSubject("khoa_hoc", "Khoa học", 70, "level", True))
    if grade >= 3:
        subjects.append(CurriculumSubject("tin_cn", "Tin học và Công nghệ", 70, "level", True))
    subjects += [
        CurriculumSubject("gdtc", "Giáo dục thể chất", 70, "level"),
        CurriculumSubject("am_nhac", "Nghệ thuật (Âm nhạc)", 35, "level"),
        CurriculumSubject("mi_thuat", "Nghệ thuật (Mĩ thuật)", 35, "level"),
        CurriculumSubject("hdtn", "Hoạt động trải nghiệm", 105, "level"),
    ]
    return subjects


def subjects_for_grade(grade: int) -> list[CurriculumSubject]:
    """Return the curriculum's subjects for a grade (1–12), in the order of the transcript."""
    if 1 <= grade <= 5:
        return _primary(grade)
    if 6 <= grade <= 9:
        return _secondary_lower(grade)
    if 10 <= grade <= 12:
        return _secondary_upper(grade)
    raise ValueError(f"no curriculum for grade {grade}")
