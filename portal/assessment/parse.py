"""Validate a case decoded from JSON and turn it into the typed input of tt22 / tt27.

Malformed data is an error, missing data is not: a blank or absent assessment, conduct level, absence
count, subject level, quality or competency is reported later in ``incomplete``. Errors are Vietnamese,
each prefixed with the path of the field ("subjects[0].hk1.regular[2]: điểm 11 ngoài khoảng 0–10"),
and unknown keys are errors so that a typo never silently drops data.
"""

from collections.abc import Callable

from portal.assessment.rules import (
    COMMENT_RESULTS,
    EXEMPT,
    LEARNING_LEVELS,
    PRIMARY_RATINGS,
    PRIMARY_SUBJECT_LEVELS,
    is_blank,
    parse_level,
    parse_score,
    parse_test_score,
)
from portal.assessment.tt22 import TERMS, SecondaryCase, SubjectInput, TermInput
from portal.assessment.tt27 import COMPETENCIES, QUALITIES, PrimaryCase, PrimarySubjectInput

REGIMES = {"tt22": range(6, 13), "tt27": range(1, 6)}
_SECONDARY_KEYS = ("regime", "grade", "absences", "conduct", "subjects", "retake", "conduct_retrained")
_SECONDARY_SUBJECT_KEYS = ("code", "name", "kind", "periods_per_year", "exempt", "hk1", "hk2")
_TERM_KEYS = ("regular", "midterm", "final")
_PRIMARY_KEYS = ("regime", "grade", "subjects", "qualities", "competencies")
_PRIMARY_SUBJECT_KEYS = ("code", "name", "year", "test_year")
_KINDS = ("score", "comment")


class InvalidCase(ValueError):
    """A case that cannot be assessed; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def parse_case(data: object) -> SecondaryCase | PrimaryCase:
    """Return the typed case, or raise InvalidCase listing every error."""
    if not isinstance(data, dict):
        raise InvalidCase(["dữ liệu vào phải là một đối tượng JSON"])
    errors: list[str] = []
    regime = data.get("regime")
    if regime == "tt22":
        case = _secondary(data, errors)
    elif regime == "tt27":
        case = _primary(data, errors)
    else:
        shown = f"“{regime}”" if isinstance(regime, str) else repr(regime)
        errors.append(f"regime: chế độ đánh giá {shown} không hợp lệ (tt22 hoặc tt27)")
    if errors:
        raise InvalidCase(errors)
    return case


def validate(data: object) -> list[str]:
    """Return every error in a case; an empty list means it can be assessed."""
    try:
        parse_case(data)
    except InvalidCase as exc:
        return exc.errors
    return []


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_keys(obj: dict, allowed: tuple[str, ...], path: str, errors: list[str]) -> None:
    errors += [f"{_at(path, str(key))}: trường không được hỗ trợ" for key in obj if key not in allowed]


def _convert(value: object, path: str, parse: Callable, errors: list[str]):
    """Return parse(value), None for a blank, or None after recording the error."""
    if is_blank(value):
        return None
    try:
        return parse(value)
    except ValueError as exc:
        errors.append(f"{path}: {exc}")
        return None


def _level_parser(allowed: tuple[str, ...]) -> Callable[[object], str]:
    return lambda value: parse_level(value, allowed)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _grade(data: dict, regime: str, errors: list[str]) -> int:
    grade, grades = data.get("grade"), REGIMES[regime]
    if not _is_int(grade):
        errors.append("grade: thiếu lớp hoặc lớp không phải số nguyên")
    elif grade not in grades:
        errors.append(f"grade: lớp {grade} không thuộc {regime} ({grades[0]}–{grades[-1]})")
    return grade


def _object(value: object, path: str, errors: list[str]) -> dict:
    """Return a JSON object; None stands for an empty one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{path}: phải là một đối tượng JSON")
        return {}
    return value


def _subject_items(value: object, errors: list[str]) -> list[tuple[str, dict, str]]:
    """Return (path, item, code) for every subject with a usable, unique code."""
    if not isinstance(value, list) or not value:
        errors.append("subjects: phải là một danh sách môn học không rỗng")
        return []
    items, seen = [], set()
    for index, item in enumerate(value):
        path = f"subjects[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{path}: phải là một đối tượng JSON")
            continue
        code = item.get("code")
        if not isinstance(code, str) or not code.strip():
            errors.append(f"{path}.code: thiếu mã môn")
            continue
        if code in seen:
            errors.append(f"{path}.code: mã môn “{code}” bị trùng")
            continue
        seen.add(code)
        if item.get("name") is not None and not isinstance(item["name"], str):
            errors.append(f"{path}.name: phải là chuỗi")
        items.append((path, item, code))
    return items


# -- Circular 22 -----------------------------------------------------------------------------------


def _term(value: object, path: str, parse: Callable, errors: list[str]) -> TermInput | None:
    if value is None:
        return None
    term = _object(value, path, errors)
    _check_keys(term, _TERM_KEYS, path, errors)
    regular = term.get("regular") or []
    if not isinstance(regular, list):
        errors.append(f"{path}.regular: phải là một danh sách")
        regular = []
    return TermInput(
        regular=tuple(_convert(v, f"{path}.regular[{i}]", parse, errors) for i, v in enumerate(regular)),
        midterm=_convert(term.get("midterm"), f"{path}.midterm", parse, errors),
        final=_convert(term.get("final"), f"{path}.final", parse, errors),
    )


def _secondary_subject(path: str, item: dict, code: str, errors: list[str]) -> SubjectInput | None:
    _check_keys(item, _SECONDARY_SUBJECT_KEYS, path, errors)
    kind, exempt, periods = item.get("kind"), item.get("exempt", False), item.get("periods_per_year")
    if not isinstance(exempt, bool):
        errors.append(f"{path}.exempt: phải là true hoặc false")
        return None
    if kind not in _KINDS and not (kind is None and exempt):
        errors.append(f"{path}.kind: loại môn {kind!r} không hợp lệ (score hoặc comment)")
        return None
    if exempt:
        errors += [f"{path}.{term}: môn được miễn không có đánh giá" for term in TERMS if item.get(term)]
        return SubjectInput(code, kind=kind or "score", name=item.get("name"), exempt=True)
    if not _is_int(periods) or periods < 1:
        errors.append(f"{path}.periods_per_year: số tiết/năm phải là số nguyên dương")
        return None
    parse = parse_score if kind == "score" else _level_parser(COMMENT_RESULTS)
    return SubjectInput(
        code,
        kind=kind,
        periods_per_year=periods,
        name=item.get("name"),
        hk1=_term(item.get("hk1"), f"{path}.hk1", parse, errors),
        hk2=_term(item.get("hk2"), f"{path}.hk2", parse, errors),
    )


def _secondary(data: dict, errors: list[str]) -> SecondaryCase:
    _check_keys(data, _SECONDARY_KEYS, "", errors)
    grade = _grade(data, "tt22", errors)
    absences = data.get("absences")
    if absences is not None and (not _is_int(absences) or absences < 0):
        errors.append("absences: số buổi nghỉ phải là số nguyên không âm")
    conduct = _object(data.get("conduct"), "conduct", errors)
    _check_keys(conduct, TERMS, "conduct", errors)
    conduct_level = _level_parser(LEARNING_LEVELS)
    items = _subject_items(data.get("subjects"), errors)
    subjects = {code: _secondary_subject(path, item, code, errors) for path, item, code in items}
    retake = {}
    for code, value in _object(data.get("retake"), "retake", errors).items():
        path, subject = f"retake.{code}", subjects.get(code)
        if code not in subjects:
            errors.append(f"{path}: không có môn “{code}” trong subjects")
        elif subject is None:
            continue  # the subject itself is in error; one message is enough
        elif subject.exempt:
            errors.append(f"{path}: môn được miễn không kiểm tra lại")
        else:
            parse = parse_score if subject.kind == "score" else _level_parser(COMMENT_RESULTS)
            converted = _convert(value, path, parse, errors)
            if converted is not None:
                retake[code] = converted
    return SecondaryCase(
        grade=grade,
        subjects=tuple(subjects.values()),
        absences=absences,
        conduct_hk1=_convert(conduct.get("hk1"), "conduct.hk1", conduct_level, errors),
        conduct_hk2=_convert(conduct.get("hk2"), "conduct.hk2", conduct_level, errors),
        retake=retake,
        conduct_retrained=_convert(data.get("conduct_retrained"), "conduct_retrained", conduct_level, errors),
    )


# -- Circular 27 -----------------------------------------------------------------------------------


def _ratings(value: object, keys: tuple[str, ...], path: str, errors: list[str]) -> dict[str, str | None]:
    given = _object(value, path, errors)
    _check_keys(given, keys, path, errors)
    rating = _level_parser(PRIMARY_RATINGS)
    return {key: _convert(given.get(key), f"{path}.{key}", rating, errors) for key in keys}


def _primary(data: dict, errors: list[str]) -> PrimaryCase:
    _check_keys(data, _PRIMARY_KEYS, "", errors)
    grade = _grade(data, "tt27", errors)
    subject_level = _level_parser((*PRIMARY_SUBJECT_LEVELS, EXEMPT))
    subjects = []
    for path, item, code in _subject_items(data.get("subjects"), errors):
        _check_keys(item, _PRIMARY_SUBJECT_KEYS, path, errors)
        year = _convert(item.get("year"), f"{path}.year", subject_level, errors)
        test = _convert(item.get("test_year"), f"{path}.test_year", parse_test_score, errors)
        if year == EXEMPT and test is not None:
            errors.append(f"{path}.test_year: môn được miễn không có bài kiểm tra")
        subjects.append(PrimarySubjectInput(code, year=year, test_year=test, name=item.get("name")))
    return PrimaryCase(
        grade=grade,
        subjects=tuple(subjects),
        qualities=_ratings(data.get("qualities"), QUALITIES, "qualities", errors),
        competencies=_ratings(data.get("competencies"), COMPETENCIES, "competencies", errors),
    )
