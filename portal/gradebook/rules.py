"""Gradebook rules: which cells a subject's term has, how typed values are normalised, and each
student's case in the JSON contract of ``python -m portal.assessment`` (so screens, exports and the CLI
compute with the same law). Pure: no Flask, no session.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from portal.assessment import InvalidScore, parse_score, parse_test_score, required_regular_count

# Primary grades that take mid-term tests, and in which subjects (Circular 27, ASSESSMENT.md §B).
PRIMARY_MIDTERM_TEST_GRADES = (4, 5)
PRIMARY_MIDTERM_TEST_SUBJECTS = ("tieng_viet", "toan")

# Keys a homeroom teacher enters per student (StudentRecord.key): per term (hk1, hk2) conduct (TT22),
# absences_excused, absences_unexcused, and the TT27 qualities and competencies (the year uses hk2's);
# per year homeroom_comment, conduct_retrained (after summer training), award_note.
CONDUCT_LEVELS = ("T", "K", "D", "CD")
PRIMARY_RATINGS = ("T", "D", "CCG")
QUALITIES = ("yeu_nuoc", "nhan_ai", "cham_chi", "trung_thuc", "trach_nhiem")
COMPETENCIES = ("tu_chu_tu_hoc", "giao_tiep_hop_tac", "gqvd_sang_tao", "ngon_ngu", "tinh_toan", "khoa_hoc",
                "cong_nghe", "tin_hoc", "tham_mi", "the_chat")
LEVEL_LABELS = {"T": "Tốt", "K": "Khá", "D": "Đạt", "CD": "Chưa đạt", "HTT": "Hoàn thành tốt",
                "HT": "Hoàn thành", "CHT": "Chưa hoàn thành", "CCG": "Cần cố gắng", "M": "Miễn",
                "HTXS": "Hoàn thành xuất sắc"}
QUALITY_LABELS = {"yeu_nuoc": "Yêu nước", "nhan_ai": "Nhân ái", "cham_chi": "Chăm chỉ", "trung_thuc": "Trung thực",
                  "trach_nhiem": "Trách nhiệm"}
COMPETENCY_LABELS = {"tu_chu_tu_hoc": "Tự chủ và tự học", "giao_tiep_hop_tac": "Giao tiếp và hợp tác",
                     "gqvd_sang_tao": "Giải quyết vấn đề và sáng tạo", "ngon_ngu": "Ngôn ngữ",
                     "tinh_toan": "Tính toán", "khoa_hoc": "Khoa học", "cong_nghe": "Công nghệ",
                     "tin_hoc": "Tin học", "tham_mi": "Thẩm mĩ", "the_chat": "Thể chất"}
DECISION_LABELS = {"len_lop": "Được lên lớp", "o_lai": "Không được lên lớp", "kiem_tra_lai": "Kiểm tra lại",
                   "ren_luyen_he": "Rèn luyện trong kì nghỉ hè"}
AWARD_LABELS = {"xuat_sac": "Học sinh Xuất sắc", "gioi": "Học sinh Giỏi"}


class CellError(ValueError):
    """A typed value that cannot be stored; the message is shown in the cell (Vietnamese)."""


@dataclass(frozen=True)
class Slot:
    code: str  # Assessment.slot
    label: str  # column header
    kind: str  # score | comment | level | test
    title: str  # full Vietnamese name, for tooltips and XLSX


def term_slots(*, subject_kind: str, periods_per_year: int, grade: int, subject_code: str,
               has_periodic_test: bool, term: str) -> list[Slot]:
    """Return the cells of one subject's term for one student, in column order."""
    if term == "year":
        return [Slot("retake", "KT lại", subject_kind, "Điểm hoặc mức đánh giá lại")] if grade >= 6 else []
    if grade >= 6:
        n = required_regular_count(periods_per_year)
        kind = "score" if subject_kind == "score" else "comment"
        slots = [Slot(f"tx{i}", f"TX{i}", kind, f"Đánh giá thường xuyên {i}") for i in range(1, n + 1)]
        slots.append(Slot("gk", "GK", kind, "Đánh giá giữa kì"))
        slots.append(Slot("ck", "CK", kind, "Đánh giá cuối kì"))
        return slots
    slots = [Slot("gk_level", "Mức GK", "level", "Mức đạt được giữa kì")]
    if grade in PRIMARY_MIDTERM_TEST_GRADES and subject_code in PRIMARY_MIDTERM_TEST_SUBJECTS:
        slots.append(Slot("gk_test", "KT GK", "test", "Điểm kiểm tra giữa kì"))
    slots.append(Slot("ck_level", "Mức CK", "level", "Mức đạt được cuối kì"))
    if has_periodic_test:
        slots.append(Slot("ck_test", "KT CK", "test", "Điểm kiểm tra cuối kì"))
    return slots


def _fold(text: str) -> str:
    """Lower-case and strip diacritics (đ → d), so "Đạt", "đạt" and "dat" compare equal."""
    decomposed = unicodedata.normalize("NFD", text.strip().lower().replace("đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


COMMENT_WORDS = {"d": "D", "dat": "D", "cd": "CD", "chua dat": "CD", "m": "M", "mien": "M"}
LEVEL_WORDS = {"htt": "HTT", "hoan thanh tot": "HTT", "ht": "HT", "hoan thanh": "HT", "cht": "CHT",
               "chua hoan thanh": "CHT", "m": "M", "mien": "M"}
CONDUCT_WORDS = {"t": "T", "tot": "T", "k": "K", "kha": "K", "d": "D", "dat": "D", "cd": "CD", "chua dat": "CD"}
RATING_WORDS = {"t": "T", "tot": "T", "d": "D", "dat": "D", "ccg": "CCG", "can co gang": "CCG"}


def normalize(kind: str, raw: str | None) -> str:
    """Return the stored form of a typed value ("" for an empty cell), or raise CellError."""
    text = (raw or "").strip()
    if not text:
        return ""
    if kind == "score":
        try:
            value = parse_score(text)
        except InvalidScore as exc:
            raise CellError(_capitalise(str(exc)) + ". Nhập điểm từ 0 đến 10, tối đa một chữ số thập phân.") from exc
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if kind == "test":
        try:
            return str(parse_test_score(text))
        except InvalidScore as exc:
            raise CellError(_capitalise(str(exc)) + ". Điểm kiểm tra là số nguyên từ 1 đến 10.") from exc
    words = {"comment": COMMENT_WORDS, "level": LEVEL_WORDS, "conduct": CONDUCT_WORDS, "rating": RATING_WORDS}[kind]
    folded = _fold(text)
    if folded in words:
        return words[folded]
    hints = {"comment": "Đ (Đạt) hoặc CĐ (Chưa đạt)", "level": "HTT, HT hoặc CHT",
             "conduct": "T (Tốt), K (Khá), Đ (Đạt) hoặc CĐ (Chưa đạt)",
             "rating": "T (Tốt), Đ (Đạt) hoặc CCG (Cần cố gắng)"}
    raise CellError(f"“{text}” không hợp lệ. Nhập {hints[kind]}.")


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def display(value: str | None) -> str:
    """Show a stored value as teachers write it (Đ/CĐ for comment results, decimal comma for scores)."""
    if not value:
        return ""
    if value in ("D", "CD"):
        return {"D": "Đ", "CD": "CĐ"}[value]
    if value[0].isdigit():
        return value.replace(".", ",")
    return value


def parse_count(raw: str | None, *, maximum: int = 200) -> str:
    """Return a count of sessions (absences) as text, or raise CellError."""
    text = (raw or "").strip()
    if not text:
        return ""
    if not text.isdigit() or int(text) > maximum:
        raise CellError(f"“{text}” không hợp lệ. Nhập số buổi là số nguyên từ 0 đến {maximum}.")
    return str(int(text))


# --- Cases in the CLI's JSON contract ------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectInfo:
    code: str
    name: str
    kind: str
    periods_per_year: int
    has_periodic_test: bool


def secondary_case(*, grade: int, subjects: list[SubjectInfo], cells: dict[tuple[str, str, str], str],
                   records: dict[tuple[str, str], str]) -> dict:
    """Build one student's TT22 case: cells[(subject code, term, slot)], records[(term, key)]."""
    items = []
    retake = {}
    for subject in subjects:
        if cells.get((subject.code, "year", "exempt")) == "M":
            items.append({"code": subject.code, "name": subject.name, "kind": subject.kind, "exempt": True})
            continue
        item = {"code": subject.code, "name": subject.name, "kind": subject.kind,
                "periods_per_year": subject.periods_per_year}
        for term in ("hk1", "hk2"):
            regular = [cells[(subject.code, term, f"tx{i}")] for i in range(1, 5)
                       if cells.get((subject.code, term, f"tx{i}"))]
            item[term] = {"regular": regular, "midterm": cells.get((subject.code, term, "gk")) or None,
                          "final": cells.get((subject.code, term, "ck")) or None}
        items.append(item)
        if cells.get((subject.code, "year", "retake")):
            retake[subject.code] = cells[(subject.code, "year", "retake")]
    case = {"regime": "tt22", "grade": grade, "subjects": items,
            "conduct": {t: records.get((t, "conduct")) or None for t in ("hk1", "hk2")}}
    absences = year_absences(records)
    if absences is not None:
        case["absences"] = absences
    if retake:
        case["retake"] = retake
    if records.get(("year", "conduct_retrained")):
        case["conduct_retrained"] = records[("year", "conduct_retrained")]
    return case


def primary_case(*, grade: int, subjects: list[SubjectInfo], cells: dict[tuple[str, str, str], str],
                 records: dict[tuple[str, str], str]) -> dict:
    """Build one student's TT27 year case from the end-of-year (hk2) levels and tests."""
    items = []
    for subject in subjects:
        item = {"code": subject.code}
        level = cells.get((subject.code, "hk2", "ck_level"))
        if level:
            item["year"] = level
        test = cells.get((subject.code, "hk2", "ck_test"))
        if subject.has_periodic_test and test:
            item["test_year"] = int(test)
        items.append(item)
    return {
        "regime": "tt27", "grade": grade, "subjects": items,
        "qualities": {k: records[("hk2", k)] for k in QUALITIES if records.get(("hk2", k))},
        "competencies": {k: records[("hk2", k)] for k in COMPETENCIES if records.get(("hk2", k))},
    }


def year_absences(records: dict[tuple[str, str], str]) -> int | None:
    """Return the year's absences (both terms, excused or not), or None while a term is not entered."""
    values = [records.get((t, k)) for t in ("hk1", "hk2") for k in ("absences_excused", "absences_unexcused")]
    if any(v in (None, "") for v in values):
        return None
    return sum(int(v) for v in values)


def as_decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value else None
