"""Circular 27/2020/TT-BGDĐT (primary) as pure functions: year-end overall result, award, completion.

Completion codes: ``completed_grade`` (hoàn thành chương trình lớp học), ``completed_primary`` (grade 5,
which also completes the grade) and ``not_completed`` for a CHT student. While any subject level,
quality or competency is missing, the overall result, award and completion are all None: the engine
never guesses a rating, even where the known ones already imply CHT.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from portal.assessment import explain
from portal.assessment.rules import EXEMPT, PRIMARY_OVERALL, Missing, Shortfall

QUALITIES = ("yeu_nuoc", "nhan_ai", "cham_chi", "trung_thuc", "trach_nhiem")
COMPETENCIES = (
    "tu_chu_tu_hoc",
    "giao_tiep_hop_tac",
    "gqvd_sang_tao",
    "ngon_ngu",
    "tinh_toan",
    "khoa_hoc",
    "cong_nghe",
    "tin_hoc",
    "tham_mi",
    "the_chat",
)
LAST_GRADE = 5

# Overall result tests: level -> (subject levels allowed, quality/competency ratings allowed, lowest test).
_OVERALL_TESTS = {
    "HTXS": (("HTT",), ("T",), 9),
    "HTT": (("HTT",), ("T",), 7),
    "HT": (("HTT", "HT"), ("T", "D"), 5),
}


@dataclass(frozen=True)
class PrimaryOverall:
    """The year-end overall result with the unmet conditions of the next level up."""

    level: str | None
    shortfalls: tuple[Shortfall, ...] = ()
    missing: tuple[Missing, ...] = ()


@dataclass(frozen=True)
class PrimarySubjectInput:
    """One subject or activity: its year level and, where it has one, the end-of-year test score."""

    code: str
    year: str | None = None  # HTT, HT, CHT or M; None while not entered
    test_year: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class PrimaryCase:
    """One student's year under Circular 27, validated (see parse.py)."""

    grade: int
    subjects: tuple[PrimarySubjectInput, ...]
    qualities: Mapping[str, str | None] = field(default_factory=dict)
    competencies: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PrimaryResult:
    """Everything the engine says about one student's year under Circular 27."""

    overall: PrimaryOverall
    award: str | None
    completion: str | None
    incomplete: tuple[Missing, ...]
    explain: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """Return the result in the JSON contract of ``python -m portal.assessment``."""
        return {
            "overall": self.overall.level,
            "award": self.award,
            "completion": self.completion,
            "incomplete": [entry.to_json() for entry in self.incomplete],
            "explain": list(self.explain),
        }


def _shortfalls(
    level: str, subjects: Mapping[str, str], tests: Mapping[str, int], ratings: list[tuple[str, str, str]]
) -> tuple[Shortfall, ...]:
    levels_ok, ratings_ok, lowest = _OVERALL_TESTS[level]
    found = [Shortfall("subject", subject=c, value=v) for c, v in subjects.items() if v not in levels_ok]
    found += [Shortfall(kind, subject=key, value=v) for kind, key, v in ratings if v not in ratings_ok]
    found += [
        Shortfall("test", subject=code, value=score, threshold=lowest)
        for code, score in tests.items()
        if score < lowest
    ]
    return tuple(found)


def compute_primary_overall(
    *,
    subjects: Mapping[str, str | None],
    tests: Mapping[str, int],
    qualities: Mapping[str, str | None],
    competencies: Mapping[str, str | None],
) -> PrimaryOverall:
    """Return HTXS, HTT, HT or CHT from subject levels, end-of-year tests, qualities and competencies.

    Exempt subjects (M) and their tests are left out. All five qualities and ten competencies are
    required; an absent or None one makes the result None and is listed in ``missing``.
    """
    missing = [Missing(code, "year", "year") for code, value in subjects.items() if value is None]
    missing += [Missing(None, "year", f"qualities.{key}") for key in QUALITIES if qualities.get(key) is None]
    missing += [
        Missing(None, "year", f"competencies.{key}") for key in COMPETENCIES if competencies.get(key) is None
    ]
    if missing:
        return PrimaryOverall(None, missing=tuple(missing))
    studied = {code: value for code, value in subjects.items() if value != EXEMPT}
    scored = {code: score for code, score in tests.items() if code in studied}
    ratings = [("quality", key, qualities[key]) for key in QUALITIES]
    ratings += [("competency", key, competencies[key]) for key in COMPETENCIES]
    passed = (lvl for lvl in ("HTXS", "HTT", "HT") if not _shortfalls(lvl, studied, scored, ratings))
    level = next(passed, "CHT")
    above = PRIMARY_OVERALL.index(level) - 1
    shortfalls = _shortfalls(PRIMARY_OVERALL[above], studied, scored, ratings) if above >= 0 else ()
    return PrimaryOverall(level, shortfalls=shortfalls)


def compute_primary_award(overall: str | None) -> str | None:
    """Return "xuat_sac" for HTXS; the HTT distinction is a class nomination, never computed."""
    return "xuat_sac" if overall == "HTXS" else None


def compute_completion(overall: str | None, grade: int) -> str | None:
    """Return completed_primary (grade 5), completed_grade, not_completed (CHT), or None when unknown."""
    if overall is None:
        return None
    if overall == "CHT":
        return "not_completed"
    return "completed_primary" if grade == LAST_GRADE else "completed_grade"


def assess_tt27(case: PrimaryCase) -> PrimaryResult:
    """Assess one student's year under Circular 27."""
    overall = compute_primary_overall(
        subjects={s.code: s.year for s in case.subjects},
        tests={s.code: s.test_year for s in case.subjects if s.test_year is not None},
        qualities=case.qualities,
        competencies=case.competencies,
    )
    result = PrimaryResult(
        overall=overall,
        award=compute_primary_award(overall.level),
        completion=compute_completion(overall.level, case.grade),
        incomplete=overall.missing,
    )
    return replace(result, explain=explain.explain_primary(case, result))
