"""Tables of cases for the assessment rules (Circulars 22/2021 and 27/2020); no app needed."""

from decimal import Decimal

import pytest

from portal.assessment import (
    InvalidCase,
    InvalidScore,
    Missing,
    PrimaryCase,
    PrimarySubjectInput,
    SecondaryCase,
    SubjectInput,
    TermInput,
    assess,
    assess_tt22,
    assess_tt27,
    compute_award,
    compute_comment_term,
    compute_completion,
    compute_conduct_year,
    compute_decision,
    compute_learning_level,
    compute_primary_award,
    compute_primary_overall,
    compute_term_average,
    compute_year_average,
    parse_score,
    parse_test_score,
    required_regular_count,
    retake_subjects,
    round_score,
    validate,
)
from portal.assessment.explain import learning_sentences
from portal.assessment.tt27 import COMPETENCIES, QUALITIES

D = Decimal


def year_values(*scores, comments=()):
    """Return a learning-level input: score subjects s0, s1, … and comment subjects c0, c1, …."""
    values = {f"s{i}": D(str(score)) if score != "M" else "M" for i, score in enumerate(scores)}
    values.update({f"c{i}": result for i, result in enumerate(comments)})
    return values


def flat_subject(code, hk1, hk2, *, kind="score", periods=70, name=None):
    """Return a subject whose every assessment in a term has the same value (so the average is that value)."""

    def term(value):
        if value is None:
            return None
        return TermInput(regular=(value,) * required_regular_count(periods), midterm=value, final=value)

    return SubjectInput(code, kind=kind, periods_per_year=periods, name=name, hk1=term(hk1), hk2=term(hk2))


def secondary(subjects, *, conduct=("T", "T"), absences=0, retake=None, conduct_retrained=None, grade=8):
    return SecondaryCase(
        grade=grade,
        subjects=tuple(subjects),
        absences=absences,
        conduct_hk1=conduct[0],
        conduct_hk2=conduct[1],
        retake=retake or {},
        conduct_retrained=conduct_retrained,
    )


def scored(*values, comments=(), periods=70):
    """Return flat score subjects s0… (same value in both terms) and flat comment subjects c0…."""
    subjects = [flat_subject(f"s{i}", str(v), str(v), periods=periods) for i, v in enumerate(values)]
    subjects += [flat_subject(f"c{i}", c, c, kind="comment") for i, c in enumerate(comments)]
    return subjects


# -- scores ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("8,5", "8.5"),
        ("8.5", "8.5"),
        (8, "8.0"),
        ("10", "10.0"),
        ("10.0", "10.0"),
        ("0", "0.0"),
        (0, "0.0"),
        (" 7 ", "7.0"),
        ("0,1", "0.1"),
        (D("9.5"), "9.5"),
        (D("8.50"), "8.5"),  # a Decimal from a database column: the value has one decimal
    ],
)
def test_parse_score_accepts(given, expected):
    assert parse_score(given) == D(expected)
    assert str(parse_score(given)) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("11", "điểm 11 ngoài khoảng 0–10"),
        (11, "điểm 11 ngoài khoảng 0–10"),
        ("10.1", "điểm 10.1 ngoài khoảng 0–10"),
        ("-1", "điểm -1 ngoài khoảng 0–10"),
        ("-0,5", "điểm -0,5 ngoài khoảng 0–10"),
        ("8.25", "điểm 8.25 có quá một chữ số thập phân"),
        ("8,25", "điểm 8,25 có quá một chữ số thập phân"),
        ("8.50", "điểm 8.50 có quá một chữ số thập phân"),
        (D("8.25"), "điểm 8.25 có quá một chữ số thập phân"),
        ("abc", "không phải là điểm hợp lệ"),
        ("", "không phải là điểm hợp lệ"),
        ("8..5", "không phải là điểm hợp lệ"),
        ("8,5,1", "không phải là điểm hợp lệ"),
        (".5", "không phải là điểm hợp lệ"),
        (D("NaN"), "không phải là điểm hợp lệ"),
        (8.5, "không phải là số"),  # float is refused: scores are Decimal
        (True, "không phải là số"),
        (None, "không phải là số"),
    ],
)
def test_parse_score_rejects(given, message):
    with pytest.raises(InvalidScore, match=message):
        parse_score(given)


def test_invalid_score_is_a_value_error():
    assert issubclass(InvalidScore, ValueError)


@pytest.mark.parametrize(("given", "expected"), [(1, 1), (10, 10), ("9", 9), (" 5 ", 5), (D("7"), 7)])
def test_parse_test_score_accepts(given, expected):
    assert parse_test_score(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (0, "ngoài khoảng 1–10"),
        ("0", "ngoài khoảng 1–10"),
        (11, "ngoài khoảng 1–10"),
        (-1, "ngoài khoảng 1–10"),
        (D("7.5"), "phải là số nguyên"),
        ("7.5", "phải là số nguyên"),
        ("7,5", "phải là số nguyên"),
        ("9.0", "phải là số nguyên"),
        ("chín", "không phải là điểm kiểm tra hợp lệ"),
        (True, "không phải là số"),
    ],
)
def test_parse_test_score_rejects(given, message):
    with pytest.raises(InvalidScore, match=message):
        parse_test_score(given)


def test_rounding_trap_half_up():
    # Python's round works on the binary float 8.2499999… and rounds half to even: both give 8.2.
    assert round(8.25, 1) == 8.2
    assert round_score(D("8.25")) == D("8.3")
    assert round_score(D("8.35")) == D("8.4")
    assert round_score(D("0.05")) == D("0.1")
    assert round_score(D("8.2499")) == D("8.2")


def test_term_average_hits_the_rounding_trap():
    # (8 + 8 + 8 + 2·9 + 3·8) / 8 = 66 / 8 = 8.25 exactly
    assert compute_term_average(["8", "8", "8"], "9", "8", 70).value == D("8.3")


# -- regular assessments and averages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("periods", "count"), [(1, 2), (35, 2), (36, 3), (52, 3), (70, 3), (71, 4), (105, 4), (140, 4)]
)
def test_required_regular_count(periods, count):
    assert required_regular_count(periods) == count


@pytest.mark.parametrize("periods", [0, -35, True, "35", None])
def test_required_regular_count_rejects_nonsense(periods):
    with pytest.raises(ValueError):
        required_regular_count(periods)


def test_worked_example_averages():
    hk1 = compute_term_average(["8", "7.5", "9", "8"], "7.5", "8", 140)
    hk2 = compute_term_average(["7", "8", "8.5", "9"], "8", "7.5", 140)
    assert (hk1.value, hk2.value) == (D("7.9"), D("7.9"))  # 71.5 / 9 = 7.94…; 71 / 9 = 7.88…
    assert compute_year_average(hk1.value, hk2.value) == D("7.9")


def test_year_average_uses_rounded_term_averages():
    hk1 = compute_term_average(["7", "7", "7", "7.3"], "7.5", "7", 140)  # 64.3 / 9 = 7.144… → 7.1
    hk2 = compute_term_average(["7", "7", "7", "6.4"], "7.5", "7", 140)  # 63.4 / 9 = 7.044… → 7.0
    assert (hk1.value, hk2.value) == (D("7.1"), D("7.0"))
    assert compute_year_average(hk1.value, hk2.value) == D("7.0")  # (7.1 + 14.0) / 3 = 7.03…
    unrounded = (D("64.3") / 9 + 2 * D("63.4") / 9) / 3
    assert round_score(unrounded) == D("7.1")  # what averaging the exact values would wrongly give


@pytest.mark.parametrize(
    ("hk1", "hk2", "year"),
    [
        ("7.9", "7.9", "7.9"),
        ("10", "10", "10.0"),
        ("0", "0", "0.0"),
        ("6.0", "6.5", "6.3"),
        ("5.0", "4.9", "4.9"),
    ],
)
def test_year_average_table(hk1, hk2, year):
    assert str(compute_year_average(hk1, hk2)) == year


def test_term_average_weights_and_extra_regular_scores():
    # Five regular scores where four are required: all count, n_tx = 5.
    result = compute_term_average(["10", "10", "10", "10", "0"], "5", "6", 140)
    assert result.value == round_score(D(40 + 10 + 18) / 10)
    assert result.regular_count == 5


def test_a_deliberate_zero_is_a_score():
    result = compute_term_average(["0", "0"], "0", "0", 35)
    assert result.value == D("0.0")
    assert result.missing == ()


@pytest.mark.parametrize(
    ("regular", "midterm", "final", "missing"),
    [
        (["8", "8", "8", "8"], "8", None, ("final",)),
        (["8", "8", "8", "8"], None, "8", ("midterm",)),
        (["8", "8", None, ""], "8", "8", ("regular",)),  # blanks are not scores, not zeros
        ([], None, None, ("regular", "midterm", "final")),
        (["8", "8", "8", "8"], "", "8", ("midterm",)),
    ],
)
def test_term_average_reports_missing_scores(regular, midterm, final, missing):
    result = compute_term_average(regular, midterm, final, 140)
    assert result.value is None
    assert result.missing == missing


def test_missing_regular_scores_are_counted():
    result = compute_term_average(["8", None, "7"], "8", "8", 140)
    assert (result.regular_count, result.regular_required) == (2, 4)


@pytest.mark.parametrize(
    ("regular", "midterm", "final", "expected"),
    [
        (["D", "D", "D"], "D", "D", "D"),
        (["D", "CD", "D"], "D", "D", "CD"),
        (["D", "D", "D"], "D", "CD", "CD"),
        (["D", "D", "D", "D"], "CD", "D", "CD"),
        (["D", "D"], "D", "D", None),  # 70 periods need three regular assessments
        (["D", "D", "D"], "D", None, None),
    ],
)
def test_comment_term(regular, midterm, final, expected):
    assert compute_comment_term(regular, midterm, final, 70).value == expected


def test_comment_term_rejects_a_score():
    with pytest.raises(ValueError, match="không hợp lệ"):
        compute_comment_term(["D", "8", "D"], "D", "D", 70)


# -- learning level --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "comments", "level"),
    [
        # T: every S ≥ 6.5, at least six S ≥ 8.0, every C D
        ([8.0] * 6 + [6.5] * 2, ["D", "D"], "T"),
        ([8.0] * 6 + [6.5, 6.4], ["D", "D"], "K"),
        ([8.0] * 5 + [7.9] * 3, ["D", "D"], "K"),
        ([10.0] * 6, [], "T"),
        # K: every S ≥ 5.0, at least six S ≥ 6.5
        ([6.5] * 6 + [5.0] * 2, ["D"], "K"),
        ([6.5] * 6 + [5.0, 4.9], ["D"], "D"),
        ([6.5] * 5 + [6.4] * 3, ["D"], "D"),
        # D: at least six S ≥ 5.0, no S < 3.5, at most one C CD
        ([5.0] * 6 + [3.5] * 2, ["D"], "D"),
        ([5.0] * 6 + [3.5, 3.4], ["D"], "CD"),
        ([5.0] * 5 + [4.9] * 3, ["D"], "CD"),
        ([5.0] * 6, ["CD", "D"], "D"),
        ([5.0] * 6, ["CD", "CD"], "CD"),
        # fewer than six score subjects can never make "at least 6 of S": the literal text
        ([10.0] * 5, ["D", "D"], "CD"),
        ([10.0] * 5 + ["M"], ["D"], "CD"),  # an exempt subject does not count as a sixth
        ([8.0] * 6 + ["M"], ["D"], "T"),
    ],
)
def test_learning_level_thresholds(scores, comments, level):
    assert compute_learning_level(year_values(*scores, comments=comments)).level == level


def test_exempt_comment_subject_is_left_out():
    values = {**year_values(*[9.0] * 6), "gdtc": "M"}
    assert compute_learning_level(values).level == "T"


@pytest.mark.parametrize(
    ("scores", "comments", "raw", "level", "uplift"),
    [
        # T-level student at CD because of one subject → D
        ([9.0] * 7 + [3.0], [], "CD", "D", ("s7", "T")),
        ([9.0] * 7 + [0.0], ["D"], "CD", "D", ("s7", "T")),  # a deliberate 0
        ([9.0] * 6 + [3.0], [], "CD", "D", ("s6", "T")),  # six remain: still T without it
        # T-level student at D because of one subject → K
        ([9.0] * 7 + [4.0], [], "D", "K", ("s7", "T")),
        # K-level student at CD because of one subject → D
        ([7.0] * 7 + [3.0], ["D"], "CD", "D", ("s7", "K")),
        # a comment subject causes it: T-level student at D because of one CD → K
        ([9.0] * 7, ["CD", "D"], "D", "K", ("c0", "T")),
    ],
)
def test_uplift_applies(scores, comments, raw, level, uplift):
    result = compute_learning_level(year_values(*scores, comments=comments))
    assert (result.raw_level, result.level, result.uplift) == (raw, level, uplift)


@pytest.mark.parametrize(
    ("scores", "comments", "level"),
    [
        ([9.0] * 7 + [3.0, 3.0], [], "CD"),  # two subjects block: leaving out either still leaves CD
        ([9.0] * 7, ["CD", "CD"], "CD"),  # two comment subjects block
        ([9.0] * 7 + [3.0], ["CD"], "CD"),  # a score and a comment subject block
        ([9.0] * 7 + [4.0, 4.0], [], "D"),
        ([9.0] * 5 + [3.0], [], "CD"),  # without it only five score subjects remain: not T
        ([7.0] * 7 + [4.0], [], "D"),  # K-level at D is one level down: no uplift
        ([9.0] * 7 + [6.0], [], "K"),  # T-level at K is one level down: no uplift
    ],
)
def test_uplift_does_not_apply(scores, comments, level):
    result = compute_learning_level(year_values(*scores, comments=comments))
    assert (result.level, result.uplift) == (level, None)


def test_learning_level_with_a_missing_subject_is_unknown():
    result = compute_learning_level({**year_values(*[9.0] * 8), "van": None})
    assert result.level is None
    assert result.missing == ("van",)


def test_learning_level_rejects_a_float():
    with pytest.raises(ValueError):
        compute_learning_level({"toan": 8.5})


def test_explain_names_the_subject_that_blocks_tot():
    values = {**year_values(*[9.0] * 7), "toan": D("6.3")}
    result = compute_learning_level(values)
    sentences = learning_sentences(result, "year", {"toan": "Toán"}, "cả năm")
    assert sentences == ["Xếp loại học tập cả năm Khá, không phải Tốt, vì môn Toán có ĐTB cả năm 6.3 < 6.5."]


def test_explain_states_the_uplift():
    result = compute_learning_level({**year_values(*[9.0] * 7), "toan": D("3.0")})
    sentences = learning_sentences(result, "year", {"toan": "Toán"}, "cả năm")
    assert sentences[1] == (
        "Áp dụng khoản 3 Điều 9: xếp loại học tập cả năm được nâng từ Chưa đạt lên Đạt vì chỉ do môn Toán "
        "(nếu không tính môn này thì đạt mức Tốt)."
    )


def test_explain_counts_subjects_at_eight():
    result = compute_learning_level(year_values(*[8.0] * 5 + [7.9] * 3))
    sentence = learning_sentences(result, "hk1", {}, "học kì I")[0]
    assert sentence.endswith("vì chỉ có 5 môn có ĐTB học kì I ≥ 8.0 (cần ít nhất 6).")


# -- conduct ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hk1", "hk2", "year"),
    [
        ("T", "T", "T"),
        ("K", "T", "T"),
        ("D", "T", "K"),
        ("CD", "T", "K"),
        ("T", "K", "K"),
        ("K", "K", "K"),
        ("D", "K", "K"),
        ("CD", "K", "D"),
        ("T", "D", "K"),
        ("K", "D", "D"),
        ("D", "D", "D"),
        ("CD", "D", "D"),
        ("T", "CD", "CD"),
        ("K", "CD", "CD"),
        ("D", "CD", "CD"),
        ("CD", "CD", "CD"),
    ],
)
def test_conduct_year_table(hk1, hk2, year):
    assert compute_conduct_year(hk1, hk2) == year


def test_conduct_year_rejects_unknown_level():
    with pytest.raises(ValueError):
        compute_conduct_year("A", "T")


# -- decision and award ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("learning", "conduct", "absences", "after_retake", "retrained", "code", "pending"),
    [
        ("K", "K", 45, None, None, "len_lop", ()),
        ("K", "K", 46, None, None, "o_lai", ()),
        ("T", "T", 46, None, None, "o_lai", ()),
        ("D", "D", 0, None, None, "len_lop", ()),
        ("CD", "K", 3, None, None, "kiem_tra_lai", ("kiem_tra_lai",)),
        ("K", "CD", 3, None, None, "ren_luyen_he", ("ren_luyen_he",)),
        ("CD", "CD", 3, None, None, "kiem_tra_lai", ("kiem_tra_lai", "ren_luyen_he")),
        ("CD", "CD", 46, None, None, "o_lai", ()),
        ("CD", "K", 3, "D", None, "len_lop", ()),
        ("CD", "K", 3, "CD", None, "o_lai", ()),
        ("K", "CD", 3, None, "D", "len_lop", ()),
        ("K", "CD", 3, None, "CD", "o_lai", ()),
        ("CD", "CD", 3, "D", None, "ren_luyen_he", ("ren_luyen_he",)),
        ("CD", "CD", 3, "CD", None, "o_lai", ()),
        ("CD", "CD", 3, None, "CD", "o_lai", ()),
        ("CD", "CD", 3, "K", "D", "len_lop", ()),
        ("K", "K", 3, "CD", "CD", "len_lop", ()),  # re-evaluations only count when they were due
        (None, "K", 3, None, None, None, ()),
        ("K", None, 3, None, None, None, ()),
        ("K", "K", None, None, None, None, ()),
        (None, None, 46, None, None, "o_lai", ()),  # absences decide whatever else
    ],
)
def test_decision_table(learning, conduct, absences, after_retake, retrained, code, pending):
    decision = compute_decision(
        learning=learning,
        conduct=conduct,
        absences=absences,
        learning_after_retake=after_retake,
        conduct_retrained=retrained,
    )
    assert (decision.code, decision.pending) == (code, pending)


@pytest.mark.parametrize(
    ("learning", "conduct", "cause"),
    [("CD", "K", "learning"), ("K", "CD", "conduct")],
)
def test_decision_cause_after_re_evaluation(learning, conduct, cause):
    decision = compute_decision(
        learning=learning, conduct=conduct, absences=0, learning_after_retake="CD", conduct_retrained="CD"
    )
    assert (decision.code, decision.cause) == ("o_lai", cause)


@pytest.mark.parametrize(
    ("conduct", "learning", "scores", "code"),
    [
        ("T", "T", [9.0] * 6 + [8.0] * 2, "xuat_sac"),
        ("T", "T", [9.0] * 5 + [8.9] * 3, "gioi"),
        ("T", "T", [10.0] * 5, "gioi"),
        ("T", "K", [10.0] * 8, None),
        ("K", "T", [10.0] * 8, None),
        ("D", "D", [10.0] * 8, None),
    ],
)
def test_award_table(conduct, learning, scores, code):
    award = compute_award(conduct=conduct, learning=learning, year_scores=[D(str(s)) for s in scores])
    assert award.code == code


def test_award_is_unknown_without_levels():
    assert compute_award(conduct=None, learning="T", year_scores=[]) is None


def test_retake_subjects_are_below_five_or_cd():
    values = {"toan": D("4.9"), "van": D("5.0"), "ly": D("0.0"), "gdtc": "CD", "am_nhac": "D", "tin": "M"}
    assert retake_subjects(values) == ("toan", "ly", "gdtc")


# -- a whole year (Circular 22) --------------------------------------------------------------------


def test_assess_full_year():
    subjects = [flat_subject("toan", "9", "9", name="Toán")]
    subjects += scored(*[8.5] * 7, comments=["D", "D"])
    result = assess_tt22(secondary(subjects, absences=2))
    assert {scope: r.level for scope, r in result.learning.items()} == {"hk1": "T", "hk2": "T", "year": "T"}
    assert (result.conduct_year, result.decision.code, result.award.code) == ("T", "len_lop", "gioi")
    assert result.incomplete == ()
    assert "Được lên lớp: rèn luyện Tốt, học tập Tốt, nghỉ 2 buổi (không quá 45)." in result.explain


def test_assess_grade_nine_completes_the_programme():
    result = assess_tt22(secondary(scored(*[9.5] * 8), grade=9))
    assert result.decision.code == "len_lop"
    assert result.award.code == "xuat_sac"
    assert any(s.startswith("Hoàn thành chương trình trung học cơ sở") for s in result.explain)


def test_assess_missing_final_is_reported_not_guessed():
    subjects = scored(*[8.0] * 7)
    subjects.append(
        SubjectInput(
            "van",
            kind="score",
            periods_per_year=105,
            name="Ngữ văn",
            hk1=TermInput(("8", "8", "8", "8"), "8", "8"),
            hk2=TermInput(("8", "8", "8", "8"), "8", None),
        )
    )
    result = assess_tt22(secondary(subjects))
    assert result.incomplete == (Missing("van", "hk2", "final"),)
    assert result.to_json()["incomplete"] == [{"subject": "van", "term": "hk2", "missing": "final"}]
    assert result.subjects["van"].hk2 is None and result.subjects["van"].year is None
    assert result.learning["hk1"].level == "T"
    assert (result.learning["hk2"].level, result.learning["year"].level) == (None, None)
    assert (result.decision.code, result.award) == (None, None)
    assert "Chưa đủ điểm: thiếu điểm cuối kì môn Ngữ văn học kì II." in result.explain


def test_assess_missing_regular_scores_say_how_many():
    subjects = scored(*[8.0] * 7)
    subjects.append(
        SubjectInput("toan", periods_per_year=140, name="Toán", hk1=TermInput(("8", "9"), "8", "8"))
    )
    result = assess_tt22(secondary(subjects))
    assert Missing("toan", "hk1", "regular", 2, 4) in result.incomplete
    assert {(m.subject, m.term, m.missing) for m in result.incomplete if m.subject == "toan"} == {
        ("toan", "hk1", "regular"),
        ("toan", "hk2", "regular"),
        ("toan", "hk2", "midterm"),
        ("toan", "hk2", "final"),
    }
    assert (
        "Chưa đủ điểm: thiếu 2 điểm đánh giá thường xuyên (có 2, cần 4) môn Toán học kì I." in result.explain
    )


def test_assess_comment_subject_gap_in_term_one_leaves_the_year_known():
    subjects = scored(*[8.0] * 7)
    subjects.append(
        SubjectInput(
            "gdtc",
            kind="comment",
            periods_per_year=70,
            name="Giáo dục thể chất",
            hk1=TermInput(("D", "D", "D"), "D", None),
            hk2=TermInput(("D", "D", "D"), "D", "D"),
        )
    )
    result = assess_tt22(secondary(subjects))
    assert result.incomplete == (Missing("gdtc", "hk1", "final"),)
    assert result.learning["hk1"].level is None
    assert result.learning["year"].level == "T"  # a comment subject's year result is its term II result
    assert result.decision.code == "len_lop"
    assert "Chưa đủ đánh giá: thiếu đánh giá cuối kì môn Giáo dục thể chất học kì I." in result.explain


def test_assess_missing_conduct_and_absences():
    case = SecondaryCase(grade=7, subjects=tuple(scored(*[8.0] * 7)), conduct_hk1="T")
    result = assess_tt22(case)
    assert result.incomplete == (Missing(None, "hk2", "conduct"), Missing(None, "year", "absences"))
    assert (result.conduct_year, result.decision.code, result.award) == (None, None, None)
    assert result.learning["year"].level == "T"


def test_assess_too_many_absences_decide_even_with_missing_scores():
    subjects = scored(*[8.0] * 6) + [flat_subject("van", "8", None)]
    result = assess_tt22(secondary(subjects, absences=46))
    assert result.learning["year"].level is None
    assert result.decision.code == "o_lai"
    assert "Không được lên lớp (ở lại lớp) vì nghỉ 46 buổi, quá 45 buổi." in result.explain


@pytest.mark.parametrize(
    ("retake", "after", "code"),
    [
        ({}, None, "kiem_tra_lai"),  # not re-assessed yet
        ({"s6": D("5.0"), "s7": D("5.5")}, "K", "len_lop"),
        ({"s6": D("3.0"), "s7": D("6.0")}, "D", "len_lop"),  # the Art. 9.3 uplift applies again
        ({"s6": D("3.0"), "s7": D("3.0")}, "CD", "o_lai"),
    ],
)
def test_retake_replaces_year_values(retake, after, code):
    result = assess_tt22(secondary(scored(*[7.0] * 6, 3.0, 3.0), retake=retake))
    assert result.learning["year"].level == "CD"
    assert result.retake_needed == ("s6", "s7")
    assert (result.learning_after_retake.level if result.learning_after_retake else None) == after
    assert result.decision.code == code
    if after is not None:
        output = result.to_json()
        assert output["learning"]["after_retake"] == after
        assert output["subjects"]["s6"]["retake"] == str(retake["s6"])
        assert output["learning"]["year"] == "CD"  # the year level stays on record


def test_partial_retake_is_incomplete():
    result = assess_tt22(secondary(scored(*[7.0] * 6, 3.0, 3.0), retake={"s6": D("6.0")}))
    assert Missing("s7", "year", "retake") in result.incomplete
    assert result.decision.code is None


def test_retake_of_a_comment_subject():
    subjects = scored(*[7.0] * 6, comments=["CD", "CD"])
    result = assess_tt22(secondary(subjects))
    assert (result.learning["year"].level, result.retake_needed) == ("CD", ("c0", "c1"))
    result = assess_tt22(secondary(subjects, retake={"c0": "D", "c1": "D"}))
    assert (result.learning_after_retake.level, result.decision.code) == ("K", "len_lop")


def test_retake_when_nothing_can_be_re_assessed():
    result = assess_tt22(secondary(scored(*[9.0] * 5)))  # CD only because there are five score subjects
    assert (result.learning["year"].level, result.retake_needed) == ("CD", ())
    assert (result.decision.code, result.decision.cause) == ("o_lai", "learning")


def test_retake_not_due_is_ignored_and_said():
    subjects = [flat_subject("toan", "8", "8", name="Toán")] + scored(*[8.0] * 6)
    result = assess_tt22(secondary(subjects, retake={"toan": D("5.5")}, conduct_retrained="D"))
    assert result.decision.code == "len_lop"
    assert "retake" not in result.to_json()["subjects"]["toan"]
    assert result.ignored == ("retake.toan", "conduct_retrained")
    assert (
        "Bỏ qua điểm kiểm tra lại môn Toán: xếp loại học tập cả năm không ở mức Chưa đạt." in result.explain
    )


@pytest.mark.parametrize(("retrained", "code"), [(None, "ren_luyen_he"), ("D", "len_lop"), ("CD", "o_lai")])
def test_summer_conduct_training(retrained, code):
    result = assess_tt22(secondary(scored(*[8.0] * 7), conduct=("K", "CD"), conduct_retrained=retrained))
    assert result.conduct_year == "CD"
    assert result.decision.code == code
    assert result.to_json()["conduct"].get("after_training") == retrained


def test_both_re_assessment_and_summer_training_due():
    result = assess_tt22(secondary(scored(*[7.0] * 6, 3.0, 3.0), conduct=("CD", "CD")))
    assert (result.decision.code, result.decision.pending) == (
        "kiem_tra_lai",
        ("kiem_tra_lai", "ren_luyen_he"),
    )
    assert "Kiểm tra lại các môn: s6, s7 (xếp loại học tập cả năm Chưa đạt)." in result.explain
    assert "Rèn luyện trong kì nghỉ hè vì rèn luyện cả năm Chưa đạt." in result.explain


# -- Circular 27 (primary) -------------------------------------------------------------------------

ALL_T = {key: "T" for key in QUALITIES}
ALL_T_COMPETENCIES = {key: "T" for key in COMPETENCIES}


def overall(subjects=None, tests=None, qualities=None, competencies=None):
    return compute_primary_overall(
        subjects=subjects if subjects is not None else {"tieng_viet": "HTT", "toan": "HTT", "dao_duc": "HTT"},
        tests=tests if tests is not None else {"tieng_viet": 10, "toan": 10},
        qualities={**ALL_T, **(qualities or {})},
        competencies={**ALL_T_COMPETENCIES, **(competencies or {})},
    )


@pytest.mark.parametrize(
    ("toan_test", "level"),
    [(10, "HTXS"), (9, "HTXS"), (8, "HTT"), (7, "HTT"), (6, "HT"), (5, "HT"), (4, "CHT")],
)
def test_primary_test_boundaries(toan_test, level):
    assert overall(tests={"tieng_viet": 10, "toan": toan_test}).level == level


@pytest.mark.parametrize(
    ("subjects", "qualities", "competencies", "level"),
    [
        ({"toan": "HTT", "dao_duc": "HT"}, {}, {}, "HT"),
        ({"toan": "HTT", "dao_duc": "CHT"}, {}, {}, "CHT"),
        ({"toan": "HTT", "the_duc": "M"}, {}, {}, "HTXS"),  # exempt subject left out
        ({"toan": "HTT"}, {"cham_chi": "D"}, {}, "HT"),
        ({"toan": "HTT"}, {}, {"tin_hoc": "D"}, "HT"),
        ({"toan": "HTT"}, {"trung_thuc": "CCG"}, {}, "CHT"),
        ({"toan": "HTT"}, {}, {"the_chat": "CCG"}, "CHT"),
    ],
)
def test_primary_overall_levels(subjects, qualities, competencies, level):
    result = overall(subjects=subjects, tests={"toan": 10}, qualities=qualities, competencies=competencies)
    assert result.level == level


def test_primary_overall_missing_rating_is_incomplete():
    result = compute_primary_overall(
        subjects={"toan": "HTT", "tieng_viet": None},
        tests={"toan": 10},
        qualities={key: "T" for key in QUALITIES if key != "nhan_ai"},
        competencies=ALL_T_COMPETENCIES,
    )
    assert result.level is None
    assert result.missing == (
        Missing("tieng_viet", "year", "year"),
        Missing(None, "year", "qualities.nhan_ai"),
    )


@pytest.mark.parametrize(
    ("level", "grade", "completion", "award"),
    [
        ("HTXS", 4, "completed_grade", "xuat_sac"),
        ("HTT", 4, "completed_grade", None),
        ("HT", 5, "completed_primary", None),
        ("HTXS", 5, "completed_primary", "xuat_sac"),
        ("CHT", 5, "not_completed", None),
        ("CHT", 1, "not_completed", None),
        (None, 3, None, None),
    ],
)
def test_primary_completion_and_award(level, grade, completion, award):
    assert compute_completion(level, grade) == completion
    assert compute_primary_award(level) == award


def primary_case(grade=4, toan_test=9, **ratings):
    return PrimaryCase(
        grade=grade,
        subjects=(
            PrimarySubjectInput("toan", year="HTT", test_year=toan_test, name="Toán"),
            PrimarySubjectInput("dao_duc", year="HTT", name="Đạo đức"),
        ),
        qualities={**ALL_T, **ratings},
        competencies=ALL_T_COMPETENCIES,
    )


def test_primary_explain_names_the_blocking_test():
    result = assess_tt27(primary_case(toan_test=8))
    assert result.to_json()["overall"] == "HTT"
    assert result.explain[0] == (
        "Đánh giá cuối năm: Hoàn thành tốt, không phải Hoàn thành xuất sắc, vì bài kiểm tra cuối năm "
        "môn Toán được 8 điểm (dưới 9)."
    )


def test_primary_whole_year():
    result = assess_tt27(primary_case(grade=5, toan_test=10))
    assert result.to_json() == {
        "overall": "HTXS",
        "award": "xuat_sac",
        "completion": "completed_primary",
        "incomplete": [],
        "explain": [
            "Đánh giá cuối năm: Hoàn thành xuất sắc.",
            "Khen thưởng danh hiệu Học sinh Xuất sắc.",
            "Hoàn thành chương trình tiểu học.",
        ],
    }


def test_primary_cht_is_not_completed():
    result = assess_tt27(primary_case(grade=3, cham_chi="CCG"))
    assert (result.overall.level, result.completion, result.award) == ("CHT", "not_completed", None)
    assert "Chưa hoàn thành chương trình lớp 3." in result.explain


# -- input validation ------------------------------------------------------------------------------


def tt22_input(**overrides):
    case = {
        "regime": "tt22",
        "grade": 8,
        "absences": 0,
        "conduct": {"hk1": "T", "hk2": "T"},
        "subjects": [
            {
                "code": "toan",
                "kind": "score",
                "periods_per_year": 70,
                "hk1": {"regular": ["8", "7", "9"], "midterm": "8", "final": "8"},
            }
        ],
    }
    case.update(overrides)
    return case


def test_valid_input_has_no_errors():
    assert validate(tt22_input()) == []


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ([1, 2], "dữ liệu vào phải là một đối tượng JSON"),
        ("tt22", "dữ liệu vào phải là một đối tượng JSON"),
        (tt22_input(regime="tt99"), "regime: chế độ đánh giá “tt99” không hợp lệ (tt22 hoặc tt27)"),
        ({"grade": 8}, "regime: chế độ đánh giá None không hợp lệ (tt22 hoặc tt27)"),
        (tt22_input(grade=5), "grade: lớp 5 không thuộc tt22 (6–12)"),
        (tt22_input(grade="8"), "grade: thiếu lớp hoặc lớp không phải số nguyên"),
        (tt22_input(absences=-1), "absences: số buổi nghỉ phải là số nguyên không âm"),
        (tt22_input(conduct={"hk1": "Tốt"}), "conduct.hk1: mức “Tốt” không hợp lệ (T, K, D, CD)"),
        (tt22_input(conduct_retrained="X"), "conduct_retrained: mức “X” không hợp lệ (T, K, D, CD)"),
        (tt22_input(subjects=[]), "subjects: phải là một danh sách môn học không rỗng"),
        (tt22_input(extra=1), "extra: trường không được hỗ trợ"),
        (tt22_input(retake={"ly": "5"}), "retake.ly: không có môn “ly” trong subjects"),
        (tt22_input(retake={"toan": "11"}), "retake.toan: điểm 11 ngoài khoảng 0–10"),
    ],
)
def test_invalid_input(case, error):
    assert error in validate(case)


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        (
            {"code": "toan", "kind": "score", "periods_per_year": 70, "hk1": {"regular": ["8", "7", "11"]}},
            "subjects[0].hk1.regular[2]: điểm 11 ngoài khoảng 0–10",
        ),
        (
            {"code": "toan", "kind": "score", "periods_per_year": 70, "hk2": {"final": "8.25"}},
            "subjects[0].hk2.final: điểm 8.25 có quá một chữ số thập phân",
        ),
        (
            {"code": "gdtc", "kind": "comment", "periods_per_year": 70, "hk1": {"midterm": "Đ"}},
            "subjects[0].hk1.midterm: mức “Đ” không hợp lệ (D, CD)",
        ),
        (
            {"code": "toan", "kind": "diem", "periods_per_year": 70},
            "subjects[0].kind: loại môn 'diem' không hợp lệ",
        ),
        (
            {"code": "toan", "kind": "score"},
            "subjects[0].periods_per_year: số tiết/năm phải là số nguyên dương",
        ),
        ({"kind": "score", "periods_per_year": 70}, "subjects[0].code: thiếu mã môn"),
        (
            {"code": "gdtc", "exempt": True, "hk1": {"final": "D"}},
            "subjects[0].hk1: môn được miễn không có đánh giá",
        ),
        (
            {"code": "toan", "kind": "score", "periods_per_year": 70, "hk1": {"midtem": "8"}},
            "subjects[0].hk1.midtem: trường không được hỗ trợ",
        ),
    ],
)
def test_invalid_subject(subject, error):
    errors = validate(tt22_input(subjects=[subject]))
    assert any(e.startswith(error) for e in errors), errors


def test_duplicate_subject_code():
    subject = {"code": "toan", "kind": "score", "periods_per_year": 70}
    assert "subjects[1].code: mã môn “toan” bị trùng" in validate(tt22_input(subjects=[subject, subject]))


def test_every_error_is_reported_at_once():
    subject = {"code": "toan", "kind": "score", "periods_per_year": 70, "hk1": {"regular": ["11", "-1", "x"]}}
    assert len(validate(tt22_input(grade=13, subjects=[subject]))) == 4


def tt27_input(**overrides):
    case = {
        "regime": "tt27",
        "grade": 4,
        "subjects": [
            {"code": "tieng_viet", "year": "HTT", "test_year": 9},
            {"code": "dao_duc", "year": "HTT"},
        ],
        "qualities": dict(ALL_T),
        "competencies": dict(ALL_T_COMPETENCIES),
    }
    case.update(overrides)
    return case


@pytest.mark.parametrize(
    ("test_year", "error"),
    [
        (0, "subjects[0].test_year: điểm kiểm tra 0 ngoài khoảng 1–10"),
        (11, "subjects[0].test_year: điểm kiểm tra 11 ngoài khoảng 1–10"),
        (D("7.5"), "subjects[0].test_year: điểm kiểm tra 7.5 phải là số nguyên (không có phần thập phân)"),
    ],
)
def test_invalid_primary_test_score(test_year, error):
    subjects = [{"code": "toan", "year": "HTT", "test_year": test_year}]
    assert validate(tt27_input(subjects=subjects)) == [error]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"grade": 6}, "grade: lớp 6 không thuộc tt27 (1–5)"),
        (
            {"subjects": [{"code": "toan", "year": "HT+"}]},
            "subjects[0].year: mức “HT+” không hợp lệ (HTT, HT, CHT, M)",
        ),
        ({"qualities": {"yeu_nuoc": "A"}}, "qualities.yeu_nuoc: mức “A” không hợp lệ (T, D, CCG)"),
        ({"qualities": {"dung_cam": "T"}}, "qualities.dung_cam: trường không được hỗ trợ"),
        (
            {"subjects": [{"code": "the_duc", "year": "M", "test_year": 9}]},
            "subjects[0].test_year: môn được miễn không có bài kiểm tra",
        ),
    ],
)
def test_invalid_primary_input(overrides, error):
    assert error in validate(tt27_input(**overrides))


def test_missing_primary_ratings_are_incomplete_not_errors():
    qualities = dict(ALL_T)
    del qualities["yeu_nuoc"]
    case = tt27_input(qualities=qualities, competencies={**ALL_T_COMPETENCIES, "tin_hoc": None})
    assert validate(case) == []
    output = assess(case)
    assert output["overall"] is None and output["completion"] is None
    assert output["incomplete"] == [
        {"subject": None, "term": "year", "missing": "qualities.yeu_nuoc"},
        {"subject": None, "term": "year", "missing": "competencies.tin_hoc"},
    ]


def test_assess_raises_invalid_case():
    with pytest.raises(InvalidCase) as caught:
        assess(tt22_input(regime="tt99"))
    assert caught.value.errors == ["regime: chế độ đánh giá “tt99” không hợp lệ (tt22 hoặc tt27)"]
