"""Properties of the Circular 22 rules that must hold for every input (Hypothesis)."""

import math
import re
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.assessment import (
    SecondaryCase,
    SubjectInput,
    TermInput,
    assess_tt22,
    compute_learning_level,
    compute_term_average,
    compute_year_average,
    parse_score,
    required_regular_count,
)
from portal.assessment.rules import rank

ONE_DECIMAL = re.compile(r"\d{1,2}\.\d")
PERIODS = st.sampled_from([35, 36, 52, 70, 71, 105, 140])
# No example database: the suite leaves nothing behind in the working tree.
FAST = settings(deadline=None, max_examples=150, database=None)
WHOLE_YEAR = settings(FAST, max_examples=80)  # a whole year per example: fewer, to keep the suite fast


def tenths(low: int = 0, high: int = 100) -> st.SearchStrategy[Decimal]:
    """Return scores with one decimal between low/10 and high/10."""
    return st.integers(max(low, 0), min(high, 100)).map(lambda n: Decimal(n) / 10)


def half_up(value: Fraction) -> Fraction:
    """Round a non-negative exact value to one decimal, half up: the reference for round_score."""
    return Fraction(math.floor(value * 10 + Fraction(1, 2)), 10)


def reference_term(regular: list[Decimal], midterm: Decimal, final: Decimal) -> Fraction:
    total = sum(Fraction(s) for s in regular) + 2 * Fraction(midterm) + 3 * Fraction(final)
    return half_up(total / (len(regular) + 5))


@st.composite
def terms(draw, periods: int, level: int = 50, spread: int = 50) -> TermInput:
    """Draw a complete term: the required regular scores (sometimes more), a mid-term and a final score."""
    scores = tenths(level - spread, level + spread)
    count = required_regular_count(periods) + draw(st.integers(0, 2))
    return TermInput(
        tuple(draw(st.lists(scores, min_size=count, max_size=count))), draw(scores), draw(scores)
    )


@st.composite
def years(draw) -> SecondaryCase:
    """Draw a complete year: 1–10 score subjects around a student's level and 0–3 comment subjects."""
    student = draw(st.integers(40, 100))
    subjects = []
    # Mostly six or more score subjects, so that every level occurs, sometimes fewer.
    for i in range(draw(st.one_of(st.integers(6, 10), st.integers(1, 10)))):
        periods, level = draw(PERIODS), student + draw(st.integers(-25, 5))
        subjects.append(
            SubjectInput(
                f"s{i}",
                "score",
                periods,
                hk1=draw(terms(periods, level, 10)),
                hk2=draw(terms(periods, level, 10)),
            )
        )
    comment = st.sampled_from(["D"] * 19 + ["CD"])  # a term is then D about three times in four
    for i in range(draw(st.integers(0, 3))):
        term = st.builds(TermInput, st.lists(comment, min_size=3, max_size=3).map(tuple), comment, comment)
        subjects.append(SubjectInput(f"c{i}", "comment", 70, hk1=draw(term), hk2=draw(term)))
    return SecondaryCase(grade=10, subjects=tuple(subjects), absences=0, conduct_hk1="T", conduct_hk2="T")


@st.composite
def raised(draw) -> tuple[SecondaryCase, SecondaryCase]:
    """Draw a year and the same year with one score raised (or kept)."""
    case = draw(years())
    scored = [i for i, s in enumerate(case.subjects) if s.kind == "score"]
    # Raising the weakest subject, above all its final score, is what most often moves a level.
    weakest = min(scored, key=lambda i: sum(case.subjects[i].hk2.regular) + 3 * case.subjects[i].hk2.final)
    index = draw(st.one_of(st.just(weakest), st.sampled_from(scored)))
    subject = case.subjects[index]
    term_name = draw(st.sampled_from(["hk1", "hk2"]))
    term = getattr(subject, term_name)
    slot = draw(st.sampled_from(["final", "final", "midterm", *range(len(term.regular))]))
    old = term.regular[slot] if isinstance(slot, int) else getattr(term, slot)
    new = draw(st.one_of(st.just(Decimal(10)), tenths(int(old * 10), 100)))
    if isinstance(slot, int):
        term = replace(term, regular=term.regular[:slot] + (new,) + term.regular[slot + 1 :])
    else:
        term = replace(term, **{slot: new})
    subjects = list(case.subjects)
    subjects[index] = replace(subject, **{term_name: term})
    return case, replace(case, subjects=tuple(subjects))


PERIODS_AND_TERM = PERIODS.flatmap(lambda periods: st.tuples(st.just(periods), terms(periods)))


@FAST
@given(PERIODS_AND_TERM)
def test_term_average_is_exact_half_up_with_one_decimal(drawn):
    periods, term = drawn
    average = compute_term_average(term.regular, term.midterm, term.final, periods).value
    assert Fraction(average) == reference_term(list(term.regular), term.midterm, term.final)
    assert ONE_DECIMAL.fullmatch(str(average))


@FAST
@given(PERIODS_AND_TERM, PERIODS_AND_TERM)
def test_year_average_is_computed_from_rounded_term_averages(first, second):
    (periods1, hk1), (periods2, hk2) = first, second
    term1 = compute_term_average(hk1.regular, hk1.midterm, hk1.final, periods1).value
    term2 = compute_term_average(hk2.regular, hk2.midterm, hk2.final, periods2).value
    rounded1 = reference_term(list(hk1.regular), hk1.midterm, hk1.final)
    rounded2 = reference_term(list(hk2.regular), hk2.midterm, hk2.final)
    year = compute_year_average(term1, term2)
    assert Fraction(year) == half_up((rounded1 + 2 * rounded2) / 3)
    assert ONE_DECIMAL.fullmatch(str(year)) and Decimal(0) <= year <= Decimal(10)


@WHOLE_YEAR
@given(years())
def test_averages_have_one_decimal_and_lie_in_range(case):
    output = assess_tt22(case).to_json()
    for code, subject in output["subjects"].items():
        if code.startswith("s"):
            for value in subject.values():
                assert ONE_DECIMAL.fullmatch(value), value
                assert Decimal(0) <= Decimal(value) <= Decimal(10)
    assert output["incomplete"] == []


@WHOLE_YEAR
@given(raised())
def test_raising_one_score_never_lowers_a_learning_level(pair):
    before, after = (assess_tt22(case).learning for case in pair)
    for scope in ("hk1", "hk2", "year"):
        assert rank(after[scope].level) >= rank(before[scope].level), scope


# Both sides of every threshold, where a level (and the Art. 9.3 uplift) can turn.
THRESHOLDS = [
    Decimal(t) for t in ("0.0", "3.4", "3.5", "4.9", "5.0", "6.4", "6.5", "7.9", "8.0", "9.0", "10.0")
]


def near(low: int, high: int = 100) -> st.SearchStrategy[Decimal]:
    """Return averages between low/10 and high/10, often right at a threshold."""
    edges = [t for t in THRESHOLDS if low <= t * 10 <= high]
    plain = tenths(low, high)
    return st.one_of(st.sampled_from(edges), plain) if edges else plain


@FAST
@given(st.integers(30, 100), st.lists(st.sampled_from(["D", "D", "D", "CD", "M"]), max_size=3), st.data())
def test_raising_one_year_average_never_lowers_the_level(student, comments, data):
    count = data.draw(st.one_of(st.integers(6, 10), st.integers(1, 10)))
    averages = data.draw(st.lists(near(student - 25, student + 5), min_size=count, max_size=count))
    values = {f"s{i}": v for i, v in enumerate(averages)} | {f"c{i}": c for i, c in enumerate(comments)}
    code = data.draw(st.sampled_from([f"s{i}" for i in range(count)]))
    better = values | {code: data.draw(near(int(values[code] * 10)))}
    assert rank(compute_learning_level(better).level) >= rank(compute_learning_level(values).level)


@FAST
@given(st.integers(0, 100), st.sampled_from([".", ","]))
def test_every_one_decimal_score_parses(tenth, separator):
    text = f"{tenth // 10}{separator}{tenth % 10}"
    assert parse_score(text) == Decimal(tenth) / 10
    assert ONE_DECIMAL.fullmatch(str(parse_score(text)))
