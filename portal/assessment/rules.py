"""Primitives shared by both Circulars: scores, rounding, level codes, result parts.

Scores are Decimal, never float. Rounding is to one decimal, half up (8.25 → 8.3); Python's
``round`` rounds half to even on the binary value and gets such cases wrong.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ONE_PLACE = Decimal("0.1")
MIN_SCORE = Decimal(0)
MAX_SCORE = Decimal(10)

# Codes are ASCII and stable (ASSESSMENT.md); the Vietnamese labels live in explain.py.
LEARNING_LEVELS = ("T", "K", "D", "CD")  # also the conduct levels
COMMENT_RESULTS = ("D", "CD")
EXEMPT = "M"
PRIMARY_SUBJECT_LEVELS = ("HTT", "HT", "CHT")
PRIMARY_RATINGS = ("T", "D", "CCG")
PRIMARY_OVERALL = ("HTXS", "HTT", "HT", "CHT")

_SCORE_TEXT = re.compile(r"-?(\d+)(?:[.,](\d+))?")
_TEST_TEXT = re.compile(r"-?\d+")


class InvalidScore(ValueError):
    """A score the Circulars do not allow; the message is Vietnamese and shown to teachers."""


class InvalidLevel(ValueError):
    """A level code outside the allowed set; the message is Vietnamese and shown to teachers."""


@dataclass(frozen=True)
class Missing:
    """One piece of data an assessment still needs (an ``incomplete`` entry)."""

    subject: str | None  # subject code; None for data of the student (conduct, absences, qualities)
    term: str  # "hk1", "hk2" or "year"
    missing: str  # field name: regular, midterm, final, conduct, absences, retake, year, qualities.<key>…
    have: int | None = None  # for "regular": assessments present and required (explain only)
    need: int | None = None

    def to_json(self) -> dict:
        """Return the entry as it appears in ``incomplete``."""
        return {"subject": self.subject, "term": self.term, "missing": self.missing}


@dataclass(frozen=True)
class Shortfall:
    """One unmet condition of a level, kept so that explain.py can say why the level is not higher."""

    kind: str  # comment, comments, below, count (Circular 22); subject, quality, competency, test (27)
    subject: str | None = None
    value: Decimal | int | str | None = None
    threshold: Decimal | int | None = None
    count: int | None = None
    need: int | None = None


def is_blank(value: object) -> bool:
    """Tell whether a value means "not entered yet" (None or an empty cell)."""
    return value is None or (isinstance(value, str) and not value.strip())


def round_score(value: Decimal) -> Decimal:
    """Round to one decimal, half up."""
    return value.quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def format_score(value: Decimal) -> str:
    """Return a score or average as a string with exactly one decimal ("7.9", "10.0")."""
    return str(round_score(value))


def parse_score(value: str | int | Decimal) -> Decimal:
    """Return a 0–10 score with at most one decimal as a one-decimal Decimal, or raise InvalidScore.

    Text may use a decimal comma ("8,5"). Text with more than one decimal digit is rejected even when
    the digits are zeros ("8.50"): a teacher typing it should be told, not silently corrected.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidScore(f"điểm {value!r} không phải là số")
    if isinstance(value, str):
        shown = value.strip()
        match = _SCORE_TEXT.fullmatch(shown)
        if not match:
            raise InvalidScore(f"“{shown}” không phải là điểm hợp lệ")
        number = Decimal(shown.replace(",", "."))
        too_precise = match.group(2) is not None and len(match.group(2)) > 1
    else:
        shown = str(value)
        number = Decimal(value)
        if not number.is_finite():
            raise InvalidScore(f"“{shown}” không phải là điểm hợp lệ")
        too_precise = False
    if not MIN_SCORE <= number <= MAX_SCORE:
        raise InvalidScore(f"điểm {shown} ngoài khoảng 0–10")
    try:
        rounded = number.quantize(ONE_PLACE)
    except InvalidOperation as exc:  # pragma: no cover - the range check keeps quantize in bounds
        raise InvalidScore(f"“{shown}” không phải là điểm hợp lệ") from exc
    if too_precise or rounded != number:
        raise InvalidScore(f"điểm {shown} có quá một chữ số thập phân")
    return rounded


def parse_test_score(value: str | int | Decimal) -> int:
    """Return a primary periodic test score (integer 1–10), or raise InvalidScore."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidScore(f"điểm kiểm tra {value!r} không phải là số")
    shown = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent >= 0:
        number = int(value)
    elif isinstance(value, str) and _TEST_TEXT.fullmatch(shown):
        number = int(shown)
    elif isinstance(value, str) and not _SCORE_TEXT.fullmatch(shown):
        raise InvalidScore(f"“{shown}” không phải là điểm kiểm tra hợp lệ")
    else:
        raise InvalidScore(f"điểm kiểm tra {shown} phải là số nguyên (không có phần thập phân)")
    if not 1 <= number <= 10:
        raise InvalidScore(f"điểm kiểm tra {shown} ngoài khoảng 1–10")
    return number


def parse_level(value: object, allowed: tuple[str, ...]) -> str:
    """Return a level code if it is one of ``allowed``, or raise InvalidLevel."""
    if not isinstance(value, str) or value not in allowed:
        shown = f"“{value}”" if isinstance(value, str) else repr(value)
        raise InvalidLevel(f"mức {shown} không hợp lệ ({', '.join(allowed)})")
    return value


def rank(level: str) -> int:
    """Return the order of a learning/conduct level: CD 0, D 1, K 2, T 3."""
    return len(LEARNING_LEVELS) - 1 - LEARNING_LEVELS.index(level)


def level_above(level: str) -> str | None:
    """Return the next learning/conduct level up, or None for T."""
    index = LEARNING_LEVELS.index(level)
    return LEARNING_LEVELS[index - 1] if index else None
