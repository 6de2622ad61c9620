"""Circular 22/2021/TT-BGDĐT (lower and upper secondary, continuing education) as pure functions.

A blank assessment is "not entered yet", never 0 and never Chưa đạt: a student who misses an
assessment gets a make-up one, or the teacher enters a 0 or CD explicitly; so the engine reports blanks
as ``Missing`` entries and every level computed from them is None. Comment subjects follow the same
rule: "has all required assessments" is a completeness check, not a reason for CD. More regular
assessments than required are allowed and all count (n_tx is the number entered).

Two levels deliberately stay computable with missing data: a comment subject's year result is its
term II result only, so a gap in term I does not block it; and more than 45 absences decide ``o_lai``
"whatever else", so the decision is known even while scores are missing.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from portal.assessment import explain
from portal.assessment.rules import (
    COMMENT_RESULTS,
    EXEMPT,
    LEARNING_LEVELS,
    Missing,
    Shortfall,
    is_blank,
    level_above,
    parse_level,
    parse_score,
    rank,
    round_score,
)

TERMS = ("hk1", "hk2")
SCOPES = ("hk1", "hk2", "year")
MAX_ABSENCES = 45
MIN_SUBJECTS_AT = 6  # "at least 6 of S" in every learning level and in the Xuất sắc award
EXCELLENT_SCORE = Decimal("9.0")
RETAKE_BELOW = Decimal("5.0")

# Learning level tests: level -> (most comment subjects at CD, every S at least,
# at least six S at least). "No S < 3.5" for D is "every S at least 3.5".
_LEVEL_TESTS = {
    "T": (0, Decimal("6.5"), Decimal("8.0")),
    "K": (0, Decimal("5.0"), Decimal("6.5")),
    "D": (1, Decimal("3.5"), Decimal("5.0")),
}

# Year conduct: (term I, term II) -> year; anything not listed is CD.
_CONDUCT_YEAR = {
    ("T", "T"): "T", ("K", "T"): "T",
    ("T", "K"): "K", ("K", "K"): "K", ("D", "K"): "K", ("T", "D"): "K", ("D", "T"): "K", ("CD", "T"): "K",
    ("K", "D"): "D", ("D", "D"): "D", ("CD", "D"): "D", ("CD", "K"): "D",
}  # fmt: skip

ScoreOrComment = Decimal | str


@dataclass(frozen=True)
class TermResult:
    """A subject's result for one term: an average (score subject) or D/CD (comment subject)."""

    value: ScoreOrComment | None
    missing: tuple[str, ...] = ()  # "regular", "midterm", "final"
    regular_count: int = 0
    regular_required: int = 0


@dataclass(frozen=True)
class LearningResult:
    """A learning level (kết quả học tập) of a term or the year, with what explains it."""

    level: str | None
    raw_level: str | None = None  # before the Art. 9.3 uplift
    uplift: tuple[str, str] | None = None  # (subject, level reached without it) when Art. 9.3 applied
    shortfalls: tuple[Shortfall, ...] = ()  # unmet conditions of the next level up
    missing: tuple[str, ...] = ()  # subjects without a value


@dataclass(frozen=True)
class Decision:
    """The year-end decision: len_lop, o_lai, kiem_tra_lai, ren_luyen_he, or None while data is missing."""

    code: str | None
    cause: str | None = None  # why o_lai: "absences", "learning" (after re-assessment), "conduct"
    pending: tuple[str, ...] = ()  # every step still ahead, in order; ``code`` is the first


@dataclass(frozen=True)
class Award:
    """The Art. 15 award: ``code`` is xuat_sac, gioi or None."""

    code: str | None
    excellent_count: int  # score subjects with a year average of at least 9.0


@dataclass(frozen=True)
class TermInput:
    """The assessments of one subject in one term, as entered (blank = not entered)."""

    regular: Sequence[object] = ()
    midterm: object = None
    final: object = None


@dataclass(frozen=True)
class SubjectInput:
    """One subject of a student's year."""

    code: str
    kind: str = "score"  # "score" or "comment"
    periods_per_year: int | None = None
    name: str | None = None
    exempt: bool = False
    hk1: TermInput | None = None
    hk2: TermInput | None = None


@dataclass(frozen=True)
class SecondaryCase:
    """One student's year under Circular 22, validated (see parse.py)."""

    grade: int
    subjects: tuple[SubjectInput, ...]
    absences: int | None = None
    conduct_hk1: str | None = None
    conduct_hk2: str | None = None
    retake: Mapping[str, ScoreOrComment] = field(default_factory=dict)
    conduct_retrained: str | None = None


@dataclass(frozen=True)
class SubjectResult:
    """A subject's term and year results; ``retake`` is the re-assessed value when one was used."""

    kind: str  # "score", "comment" or "exempt"
    hk1: ScoreOrComment | None
    hk2: ScoreOrComment | None
    year: ScoreOrComment | None
    retake: ScoreOrComment | None = None


@dataclass(frozen=True)
class SecondaryResult:
    """Everything the engine says about one student's year under Circular 22."""

    subjects: dict[str, SubjectResult]
    learning: dict[str, LearningResult]  # hk1, hk2, year
    conduct_year: str | None
    decision: Decision
    award: Award | None
    incomplete: tuple[Missing, ...]
    retake_needed: tuple[str, ...] = ()
    learning_after_retake: LearningResult | None = None
    conduct_after_training: str | None = None
    ignored: tuple[str, ...] = ()  # inputs not used: "retake.<code>", "conduct_retrained"
    explain: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """Return the result in the JSON contract of ``python -m portal.assessment``."""
        subjects: dict[str, dict] = {}
        for code, subject in self.subjects.items():
            if subject.kind == "exempt":
                subjects[code] = {"year": EXEMPT}
                continue
            subjects[code] = {term: _show(getattr(subject, term)) for term in SCOPES}
            if subject.retake is not None:
                subjects[code]["retake"] = _show(subject.retake)
        learning = {scope: self.learning[scope].level for scope in SCOPES}
        if self.learning_after_retake is not None:
            learning["after_retake"] = self.learning_after_retake.level
        conduct = {"year": self.conduct_year}
        if self.conduct_after_training is not None:
            conduct["after_training"] = self.conduct_after_training
        return {
            "subjects": subjects,
            "learning": learning,
            "conduct": conduct,
            "decision": self.decision.code,
            "award": self.award.code if self.award else None,
            "incomplete": [entry.to_json() for entry in self.incomplete],
            "explain": list(self.explain),
        }


def _show(value: ScoreOrComment | None) -> str | None:
    return str(round_score(value)) if isinstance(value, Decimal) else value


def required_regular_count(periods_per_year: int) -> int:
    """Return the regular assessments required per term: ≤ 35 periods → 2, 36–70 → 3, > 70 → 4."""
    if isinstance(periods_per_year, bool) or not isinstance(periods_per_year, int) or periods_per_year < 1:
        raise ValueError(f"số tiết/năm {periods_per_year!r} phải là số nguyên dương")
    if periods_per_year <= 35:
        return 2
    if periods_per_year <= 70:
        return 3
    return 4


def _gather(regular, midterm, final, periods_per_year, parse):
    required = required_regular_count(periods_per_year)
    present = [parse(value) for value in regular if not is_blank(value)]
    mid = None if is_blank(midterm) else parse(midterm)
    end = None if is_blank(final) else parse(final)
    gaps = (("regular", len(present) < required), ("midterm", mid is None), ("final", end is None))
    return present, mid, end, tuple(name for name, gap in gaps if gap), required


def compute_term_average(
    regular: Sequence[object], midterm: object, final: object, periods_per_year: int
) -> TermResult:
    """Return ĐTBmhk = (ΣĐĐGtx + 2·ĐĐGgk + 3·ĐĐGck) / (n_tx + 5), rounded; no value while any is missing."""
    present, mid, end, missing, required = _gather(regular, midterm, final, periods_per_year, parse_score)
    if missing:
        return TermResult(None, missing, len(present), required)
    total = sum(present, Decimal(0)) + 2 * mid + 3 * end
    return TermResult(round_score(total / (len(present) + 5)), (), len(present), required)


def compute_comment_term(
    regular: Sequence[object], midterm: object, final: object, periods_per_year: int
) -> TermResult:
    """Return D when every required assessment is entered and is D, else CD; no value while any is missing."""
    present, mid, end, missing, required = _gather(
        regular, midterm, final, periods_per_year, lambda value: parse_level(value, COMMENT_RESULTS)
    )
    if missing:
        return TermResult(None, missing, len(present), required)
    result = "D" if all(value == "D" for value in (*present, mid, end)) else "CD"
    return TermResult(result, (), len(present), required)


def _as_average(value: Decimal | str | int) -> Decimal:
    return round_score(value) if isinstance(value, Decimal) else parse_score(value)


def compute_year_average(hk1: Decimal | str | int, hk2: Decimal | str | int) -> Decimal:
    """Return ĐTBmcn = (ĐTBmhkI + 2·ĐTBmhkII) / 3 from the term averages rounded to one decimal, rounded."""
    return round_score((_as_average(hk1) + 2 * _as_average(hk2)) / 3)


def _split(values: Mapping[str, object]) -> tuple[dict[str, Decimal], dict[str, str]]:
    scores: dict[str, Decimal] = {}
    comments: dict[str, str] = {}
    for code, value in values.items():
        if value == EXEMPT:
            continue  # exempt subjects are left out of every count
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            scores[code] = parse_score(value)  # a rounded average: 0–10, one decimal
        elif value in COMMENT_RESULTS:
            comments[code] = value
        else:
            raise ValueError(f"môn {code}: giá trị {value!r} không phải ĐTB (Decimal), D, CD hay M")
    return scores, comments


def _shortfalls(level: str, scores: dict[str, Decimal], comments: dict[str, str]) -> tuple[Shortfall, ...]:
    most_cd, floor, bar = _LEVEL_TESTS[level]
    found: list[Shortfall] = []
    failing = [code for code, result in comments.items() if result == "CD"]
    if len(failing) > most_cd:
        if most_cd == 0:
            found += [Shortfall("comment", subject=code, value="CD") for code in failing]
        else:
            found.append(Shortfall("comments", count=len(failing), need=most_cd))
    found += [
        Shortfall("below", subject=code, value=value, threshold=floor)
        for code, value in scores.items()
        if value < floor
    ]
    reaching = sum(1 for value in scores.values() if value >= bar)
    if reaching < MIN_SUBJECTS_AT:
        found.append(Shortfall("count", threshold=bar, count=reaching, need=MIN_SUBJECTS_AT))
    return tuple(found)


def _raw_level(scores: dict[str, Decimal], comments: dict[str, str]) -> str:
    for level in ("T", "K", "D"):
        if not _shortfalls(level, scores, comments):
            return level
    return "CD"


def _uplift(scores: dict[str, Decimal], comments: dict[str, str], raw: str) -> tuple[str, str] | None:
    """Return (subject, level without it) when exactly one subject pulls a T or K student down two levels."""
    culprits = []
    for code in (*scores, *comments):
        without = _raw_level(
            {c: v for c, v in scores.items() if c != code}, {c: v for c, v in comments.items() if c != code}
        )
        if without in ("T", "K") and rank(without) - rank(raw) >= 2:
            culprits.append((code, without))
    # Art. 9.3 speaks of one subject: when another single subject would also do, it is not "because of" one.
    return culprits[0] if len(culprits) == 1 else None


def compute_learning_level(values: Mapping[str, Decimal | str | None]) -> LearningResult:
    """Return the learning level from each subject's average (Decimal) or D/CD/M, with the Art. 9.3 uplift.

    A None value means the subject has no result yet: the level is then None and the subject is listed
    in ``missing``.
    """
    missing = tuple(code for code, value in values.items() if value is None)
    if missing:
        return LearningResult(None, missing=missing)
    scores, comments = _split(values)
    raw = _raw_level(scores, comments)
    uplift = _uplift(scores, comments, raw)
    level = level_above(raw) if uplift else raw
    above = level_above(level)
    shortfalls = _shortfalls(above, scores, comments) if above else ()
    return LearningResult(level, raw_level=raw, uplift=uplift, shortfalls=shortfalls)


def compute_conduct_year(hk1: str, hk2: str) -> str:
    """Return the year conduct level from the term I and term II levels."""
    parse_level(hk1, LEARNING_LEVELS)
    parse_level(hk2, LEARNING_LEVELS)
    return _CONDUCT_YEAR.get((hk1, hk2), "CD")


def retake_subjects(year_values: Mapping[str, Decimal | str | None]) -> tuple[str, ...]:
    """Return the subjects to re-assess: year average below 5.0 or comment result CD."""
    return tuple(
        code
        for code, value in year_values.items()
        if (isinstance(value, Decimal) and value < RETAKE_BELOW) or value == "CD"
    )


def compute_decision(
    *,
    learning: str | None,
    conduct: str | None,
    absences: int | None,
    learning_after_retake: str | None = None,
    conduct_retrained: str | None = None,
) -> Decision:
    """Return the year-end decision; the after-retake and after-training levels decide once they are known."""
    if absences is not None and absences > MAX_ABSENCES:
        return Decision("o_lai", cause="absences")
    if learning is None or conduct is None or absences is None:
        return Decision(None)
    pending: list[str] = []
    if learning == "CD":
        if learning_after_retake is None:
            pending.append("kiem_tra_lai")
        elif learning_after_retake == "CD":
            return Decision("o_lai", cause="learning")
    if conduct == "CD":
        if conduct_retrained is None:
            pending.append("ren_luyen_he")
        elif conduct_retrained == "CD":
            return Decision("o_lai", cause="conduct")
    if pending:
        return Decision(pending[0], pending=tuple(pending))
    return Decision("len_lop")


def compute_award(
    *, conduct: str | None, learning: str | None, year_scores: Iterable[Decimal]
) -> Award | None:
    """Return Học sinh Xuất sắc / Giỏi (Art. 15) from year conduct, year learning and year averages."""
    if conduct is None or learning is None:
        return None
    excellent = sum(1 for score in year_scores if score >= EXCELLENT_SCORE)
    if conduct != "T" or learning != "T":
        return Award(None, excellent)
    return Award("xuat_sac" if excellent >= MIN_SUBJECTS_AT else "gioi", excellent)


def _retake_value(kind: str, value: object) -> ScoreOrComment:
    return parse_score(value) if kind == "score" else parse_level(value, COMMENT_RESULTS)


def assess_tt22(case: SecondaryCase) -> SecondaryResult:
    """Assess one student's year under Circular 22."""
    incomplete: list[Missing] = []
    subjects: dict[str, SubjectResult] = {}
    for subject in case.subjects:
        if subject.exempt:
            subjects[subject.code] = SubjectResult("exempt", EXEMPT, EXEMPT, EXEMPT)
            continue
        compute = compute_term_average if subject.kind == "score" else compute_comment_term
        terms: dict[str, ScoreOrComment | None] = {}
        for term in TERMS:
            given = getattr(subject, term) or TermInput()
            result = compute(given.regular, given.midterm, given.final, subject.periods_per_year)
            terms[term] = result.value
            for name in result.missing:
                if name == "regular":
                    incomplete.append(
                        Missing(subject.code, term, name, result.regular_count, result.regular_required)
                    )
                else:
                    incomplete.append(Missing(subject.code, term, name))
        if subject.kind == "comment":
            year = terms["hk2"]  # a comment subject's year result is its term II result
        elif terms["hk1"] is None or terms["hk2"] is None:
            year = None
        else:
            year = compute_year_average(terms["hk1"], terms["hk2"])
        subjects[subject.code] = SubjectResult(subject.kind, terms["hk1"], terms["hk2"], year)

    learning = {
        scope: compute_learning_level({code: getattr(result, scope) for code, result in subjects.items()})
        for scope in SCOPES
    }

    for term, level in (("hk1", case.conduct_hk1), ("hk2", case.conduct_hk2)):
        if level is None:
            incomplete.append(Missing(None, term, "conduct"))
    conduct_year = None
    if case.conduct_hk1 is not None and case.conduct_hk2 is not None:
        conduct_year = compute_conduct_year(case.conduct_hk1, case.conduct_hk2)
    if case.absences is None:
        incomplete.append(Missing(None, "year", "absences"))

    learning_year = learning["year"].level
    ignored: list[str] = []
    needed: tuple[str, ...] = ()
    after_retake = None  # the learning result recomputed with re-assessed values
    after_level = None
    retake_missing = False
    if learning_year == "CD":
        year_values = {code: result.year for code, result in subjects.items()}
        needed = retake_subjects(year_values)
        given = [code for code in needed if code in case.retake]
        ignored += [f"retake.{code}" for code in case.retake if code not in needed]
        if not needed:
            # CD with every subject at 5.0+ and D (fewer than six score subjects): nothing can be
            # re-assessed, so the year level stands.
            after_level = learning_year
        elif len(given) == len(needed):
            used = {code: _retake_value(subjects[code].kind, case.retake[code]) for code in needed}
            for code, value in used.items():
                subjects[code] = replace(subjects[code], retake=value)
            after_retake = compute_learning_level({**year_values, **used})
            after_level = after_retake.level
        elif given:
            # Some results but not all: they are being entered. None at all: not re-assessed yet.
            retake_missing = True
            incomplete += [Missing(code, "year", "retake") for code in needed if code not in given]
    elif learning_year is not None:
        ignored += [f"retake.{code}" for code in case.retake]

    training = None
    if conduct_year == "CD":
        training = case.conduct_retrained
    elif conduct_year is not None and case.conduct_retrained is not None:
        ignored.append("conduct_retrained")

    decision = compute_decision(
        learning=None if retake_missing else learning_year,  # null until every result is in
        conduct=conduct_year,
        absences=case.absences,
        learning_after_retake=after_level,
        conduct_retrained=training,
    )
    award = compute_award(
        conduct=conduct_year,
        learning=learning_year,
        year_scores=[r.year for r in subjects.values() if r.kind == "score" and r.year is not None],
    )
    result = SecondaryResult(
        subjects=subjects,
        learning=learning,
        conduct_year=conduct_year,
        decision=decision,
        award=award,
        incomplete=tuple(incomplete),
        retake_needed=needed,
        learning_after_retake=after_retake,
        conduct_after_training=training,
        ignored=tuple(ignored),
    )
    return replace(result, explain=explain.explain_secondary(case, result))
