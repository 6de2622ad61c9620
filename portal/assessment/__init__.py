"""The assessment law as pure functions: Circular 22/2021 (secondary) and Circular 27/2020 (primary).

No Flask, no database, no I/O: the gradebook calls the ``compute_*`` functions step by step (one
student, one subject, one term), or ``assess(data)`` for a whole case in the JSON contract of
ASSESSMENT.md §C, which is also ``python -m portal.assessment < case.json``.

Decisions the spec leaves open, fixed here:

- ``incomplete`` entries are ``{"subject": <code> | null, "term": "hk1" | "hk2" | "year",
  "missing": <field>}``. ``missing`` is ``"regular"`` (fewer regular assessments than required),
  ``"midterm"`` or ``"final"`` for a subject's term; with term ``"year"``: ``"retake"`` for a subject
  whose re-assessment result is still missing while others are entered, ``"year"`` for a primary
  subject's year level.
  With ``subject`` null: ``"conduct"`` (hk1/hk2), ``"absences"``, ``"qualities.<key>"``,
  ``"competencies.<key>"``. A blank value (null, absent, "") is missing; a 0 is a score.
- Every level computed from missing data is null: a term average, a year average, the learning level
  of that scope, the year conduct, ``decision``, ``award``; for primary ``overall``, ``award`` and
  ``completion``. Exception: more than 45 absences give ``decision`` ``"o_lai"`` whatever else.
- ``decision`` is ``len_lop``, ``o_lai``, ``kiem_tra_lai`` or ``ren_luyen_he``: the final decision once
  re-assessment and summer-training results are given, otherwise the first step still ahead
  (re-assessment before summer training when both are due; ``explain`` names both). No retake value at
  all means the re-assessment has not happened yet; retake values for only some of the subjects due
  make ``decision`` null. For grades 9 and 12, ``len_lop`` means the programme is completed.
- The result adds ``learning.after_retake`` and ``subjects.<code>.retake`` when re-assessment values were
  used, and ``conduct.after_training`` when a summer-training level was used; these keys are absent
  otherwise. Retake and training values given when not due are ignored and ``explain`` says so.
- Primary ``completion`` is ``completed_grade``, ``completed_primary`` (grade 5) or ``not_completed``
  (overall CHT). ``award`` is ``xuat_sac`` for HTXS, else null: the HTT distinction is a nomination.
"""

from portal.assessment.parse import InvalidCase, parse_case, validate
from portal.assessment.rules import (
    InvalidLevel,
    InvalidScore,
    Missing,
    format_score,
    parse_level,
    parse_score,
    parse_test_score,
    round_score,
)
from portal.assessment.tt22 import (
    Award,
    Decision,
    LearningResult,
    SecondaryCase,
    SecondaryResult,
    SubjectInput,
    TermInput,
    TermResult,
    assess_tt22,
    compute_award,
    compute_comment_term,
    compute_conduct_year,
    compute_decision,
    compute_learning_level,
    compute_term_average,
    compute_year_average,
    required_regular_count,
    retake_subjects,
)
from portal.assessment.tt27 import (
    PrimaryCase,
    PrimaryOverall,
    PrimaryResult,
    PrimarySubjectInput,
    assess_tt27,
    compute_completion,
    compute_primary_award,
    compute_primary_overall,
)


def assess(data: object) -> dict:
    """Assess a case decoded from JSON and return the result JSON; raise InvalidCase on malformed input."""
    case = parse_case(data)
    result = assess_tt22(case) if isinstance(case, SecondaryCase) else assess_tt27(case)
    return result.to_json()


__all__ = [
    "Award",
    "Decision",
    "InvalidCase",
    "InvalidLevel",
    "InvalidScore",
    "LearningResult",
    "Missing",
    "PrimaryCase",
    "PrimaryOverall",
    "PrimaryResult",
    "PrimarySubjectInput",
    "SecondaryCase",
    "SecondaryResult",
    "SubjectInput",
    "TermInput",
    "TermResult",
    "assess",
    "assess_tt22",
    "assess_tt27",
    "compute_award",
    "compute_comment_term",
    "compute_completion",
    "compute_conduct_year",
    "compute_decision",
    "compute_learning_level",
    "compute_primary_award",
    "compute_primary_overall",
    "compute_term_average",
    "compute_year_average",
    "format_score",
    "parse_case",
    "parse_level",
    "parse_score",
    "parse_test_score",
    "required_regular_count",
    "retake_subjects",
    "round_score",
    "validate",
]
