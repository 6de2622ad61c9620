"""Short Vietnamese sentences saying why a result is what it is (the ``explain`` list)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from portal.assessment.rules import PRIMARY_OVERALL, Missing, Shortfall, format_score, level_above

if TYPE_CHECKING:
    from portal.assessment.tt22 import LearningResult, SecondaryCase, SecondaryResult
    from portal.assessment.tt27 import PrimaryCase, PrimaryResult

LEVEL_LABELS = {"T": "Tốt", "K": "Khá", "D": "Đạt", "CD": "Chưa đạt", "M": "Miễn"}
PRIMARY_SUBJECT_LABELS = {"HTT": "Hoàn thành tốt", "HT": "Hoàn thành", "CHT": "Chưa hoàn thành", "M": "Miễn"}
PRIMARY_RATING_LABELS = {"T": "Tốt", "D": "Đạt", "CCG": "Cần cố gắng"}
OVERALL_LABELS = {
    "HTXS": "Hoàn thành xuất sắc",
    "HTT": "Hoàn thành tốt",
    "HT": "Hoàn thành",
    "CHT": "Chưa hoàn thành",
}
QUALITY_LABELS = {
    "yeu_nuoc": "yêu nước",
    "nhan_ai": "nhân ái",
    "cham_chi": "chăm chỉ",
    "trung_thuc": "trung thực",
    "trach_nhiem": "trách nhiệm",
}
COMPETENCY_LABELS = {
    "tu_chu_tu_hoc": "tự chủ và tự học",
    "giao_tiep_hop_tac": "giao tiếp và hợp tác",
    "gqvd_sang_tao": "giải quyết vấn đề và sáng tạo",
    "ngon_ngu": "ngôn ngữ",
    "tinh_toan": "tính toán",
    "khoa_hoc": "khoa học",
    "cong_nghe": "công nghệ",
    "tin_hoc": "tin học",
    "tham_mi": "thẩm mĩ",
    "the_chat": "thể chất",
}
TERM_LABELS = {"hk1": "học kì I", "hk2": "học kì II", "year": "cả năm"}
AVERAGE_LABELS = {"hk1": "ĐTB học kì I", "hk2": "ĐTB học kì II", "year": "ĐTB cả năm"}
FINAL_GRADES = {9: "trung học cơ sở", 12: "trung học phổ thông"}


def _number(value: Decimal | int | str | None) -> str:
    return format_score(value) if isinstance(value, Decimal) else str(value)


def _join(parts: list[str]) -> str:
    """Join clauses the Vietnamese way: "a, b và c"."""
    if len(parts) < 2:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} và {parts[-1]}"


# -- incomplete data -------------------------------------------------------------------------------


def _missing_part(entry: Missing, noun: str) -> str:
    if entry.missing == "regular":
        lacking = (entry.need or 0) - (entry.have or 0)
        unit = "điểm" if noun == "điểm" else "lần"
        return f"{lacking} {unit} đánh giá thường xuyên (có {entry.have}, cần {entry.need})"
    return f"{noun} {'giữa kì' if entry.missing == 'midterm' else 'cuối kì'}"


def incomplete_sentences(
    incomplete: Iterable[Missing], names: Mapping[str, str], kinds: Mapping[str, str]
) -> list[str]:
    """Say what is still missing, one sentence per subject and term."""
    sentences: list[str] = []
    assessments: dict[tuple[str, str], list[Missing]] = {}
    for entry in incomplete:
        if entry.missing in ("regular", "midterm", "final") and entry.subject is not None:
            assessments.setdefault((entry.subject, entry.term), []).append(entry)
            continue
        sentences.append(_missing_sentence(entry, names))
    for (code, term), entries in assessments.items():
        scored = kinds.get(code) == "score"
        noun = "điểm" if scored else "đánh giá"
        parts = _join([_missing_part(entry, noun) for entry in entries])
        head = "Chưa đủ điểm" if scored else "Chưa đủ đánh giá"
        sentences.append(f"{head}: thiếu {parts} môn {names.get(code, code)} {TERM_LABELS[term]}.")
    return sentences


def _missing_sentence(entry: Missing, names: Mapping[str, str]) -> str:
    name = names.get(entry.subject, entry.subject) if entry.subject else None
    if entry.missing == "conduct":
        return f"Chưa có kết quả rèn luyện {TERM_LABELS[entry.term]}."
    if entry.missing == "absences":
        return "Chưa có số buổi nghỉ học cả năm."
    if entry.missing == "retake":
        return f"Chưa có kết quả kiểm tra lại môn {name}."
    if entry.missing.startswith("qualities."):
        key = entry.missing.removeprefix("qualities.")
        return f"Chưa có mức đánh giá phẩm chất {QUALITY_LABELS.get(key, key)}."
    if entry.missing.startswith("competencies."):
        key = entry.missing.removeprefix("competencies.")
        return f"Chưa có mức đánh giá năng lực {COMPETENCY_LABELS.get(key, key)}."
    return f"Chưa có mức đánh giá cuối năm môn {name}."


# -- Circular 22 -----------------------------------------------------------------------------------


def _reason(shortfall: Shortfall, names: Mapping[str, str], average: str) -> str:
    name = names.get(shortfall.subject, shortfall.subject) if shortfall.subject else ""
    if shortfall.kind == "comment":
        return f"môn {name} được đánh giá Chưa đạt"
    if shortfall.kind == "comments":
        return f"có {shortfall.count} môn đánh giá bằng nhận xét ở mức Chưa đạt (tối đa {shortfall.need})"
    if shortfall.kind == "below":
        return f"môn {name} có {average} {_number(shortfall.value)} < {_number(shortfall.threshold)}"
    reaching = f"chỉ có {shortfall.count} môn" if shortfall.count else "không có môn nào"
    return f"{reaching} có {average} ≥ {_number(shortfall.threshold)} (cần ít nhất {shortfall.need})"


def learning_sentences(result: LearningResult, scope: str, names: Mapping[str, str], where: str) -> list[str]:
    """Say the learning level of one scope, why it is not one higher, and whether Art. 9.3 raised it."""
    if result.level is None:
        return []  # the incomplete sentences already say what is missing
    label = LEVEL_LABELS[result.level]
    above = level_above(result.level)
    reasons = _join([_reason(s, names, AVERAGE_LABELS[scope]) for s in result.shortfalls])
    if above is None:
        sentences = [f"Xếp loại học tập {where} {label}."]
    elif result.level == "CD":
        sentences = [f"Xếp loại học tập {where} Chưa đạt vì {reasons}."]
    else:
        sentences = [f"Xếp loại học tập {where} {label}, không phải {LEVEL_LABELS[above]}, vì {reasons}."]
    if result.uplift:
        code, without = result.uplift
        sentences.append(
            f"Áp dụng khoản 3 Điều 9: xếp loại học tập {where} được nâng từ {LEVEL_LABELS[result.raw_level]} "
            f"lên {label} vì chỉ do môn {names.get(code, code)} "
            f"(nếu không tính môn này thì đạt mức {LEVEL_LABELS[without]})."
        )
    return sentences


def _decision_sentences(case: SecondaryCase, result: SecondaryResult, names: Mapping[str, str]) -> list[str]:
    decision = result.decision
    final_level = FINAL_GRADES.get(case.grade)
    if final_level:  # grades 9 and 12: the same test decides completion of the programme
        passed = f"Hoàn thành chương trình {final_level}"
        failed = f"Chưa hoàn thành chương trình {final_level}"
    else:
        passed, failed = "Được lên lớp", "Không được lên lớp (ở lại lớp)"
    if decision.code is None:
        return ["Chưa xét lên lớp vì còn thiếu dữ liệu."]
    if decision.code == "len_lop":
        learning = result.learning_after_retake or result.learning["year"]
        conduct = result.conduct_after_training or result.conduct_year
        return [
            f"{passed}: rèn luyện {LEVEL_LABELS[conduct]}, học tập {LEVEL_LABELS[learning.level]}, "
            f"nghỉ {case.absences} buổi (không quá 45)."
        ]
    if decision.code == "o_lai":
        if decision.cause == "absences":
            return [f"{failed} vì nghỉ {case.absences} buổi, quá 45 buổi."]
        if decision.cause == "conduct":
            return [f"{failed} vì sau rèn luyện trong kì nghỉ hè, rèn luyện vẫn Chưa đạt."]
        if not result.retake_needed:
            return [
                f"{failed} vì xếp loại học tập cả năm Chưa đạt và không có môn nào thuộc diện kiểm tra lại "
                "(ĐTB cả năm dưới 5.0 hoặc Chưa đạt)."
            ]
        return [f"{failed} vì sau kiểm tra lại, xếp loại học tập vẫn Chưa đạt."]
    sentences = []
    if "kiem_tra_lai" in decision.pending:
        subjects = ", ".join(names.get(code, code) for code in result.retake_needed)
        sentences.append(f"Kiểm tra lại các môn: {subjects} (xếp loại học tập cả năm Chưa đạt).")
    if "ren_luyen_he" in decision.pending:
        sentences.append("Rèn luyện trong kì nghỉ hè vì rèn luyện cả năm Chưa đạt.")
    return sentences


def _award_sentences(result: SecondaryResult) -> list[str]:
    award = result.award
    if award is None or award.code is None:
        return []
    if award.code == "xuat_sac":
        return [
            f"Đạt danh hiệu Học sinh Xuất sắc: rèn luyện Tốt, học tập Tốt, {award.excellent_count} môn "
            "có ĐTB cả năm ≥ 9.0."
        ]
    return [
        f"Đạt danh hiệu Học sinh Giỏi; chưa đạt Học sinh Xuất sắc vì chỉ có {award.excellent_count} môn "
        "có ĐTB cả năm ≥ 9.0 (cần ít nhất 6)."
    ]


def explain_secondary(case: SecondaryCase, result: SecondaryResult) -> tuple[str, ...]:
    """Return the explanation of a Circular 22 result."""
    names = {s.code: s.name or s.code for s in case.subjects}
    kinds = {s.code: s.kind for s in case.subjects}
    sentences = incomplete_sentences(result.incomplete, names, kinds)
    for scope in ("hk1", "hk2", "year"):
        sentences += learning_sentences(result.learning[scope], scope, names, TERM_LABELS[scope])
    if result.conduct_year is not None:
        sentences.append(
            f"Rèn luyện cả năm {LEVEL_LABELS[result.conduct_year]} "
            f"(học kì I {LEVEL_LABELS[case.conduct_hk1]}, học kì II {LEVEL_LABELS[case.conduct_hk2]})."
        )
    if result.learning_after_retake is not None and result.retake_needed:
        values = ", ".join(
            f"{names[code]} {_number(result.subjects[code].retake)}" for code in result.retake_needed
        )
        sentences.append(f"Điểm/mức đánh giá lại: {values}.")
        sentences += learning_sentences(result.learning_after_retake, "year", names, "sau kiểm tra lại")
    sentences += _decision_sentences(case, result, names)
    sentences += _award_sentences(result)
    for item in result.ignored:
        if item == "conduct_retrained":
            sentences.append("Bỏ qua kết quả rèn luyện hè: rèn luyện cả năm không ở mức Chưa đạt.")
            continue
        code = item.removeprefix("retake.")
        why = (
            "môn này không thuộc diện kiểm tra lại"
            if result.learning["year"].level == "CD"
            else "xếp loại học tập cả năm không ở mức Chưa đạt"
        )
        sentences.append(f"Bỏ qua điểm kiểm tra lại môn {names.get(code, code)}: {why}.")
    return tuple(sentences)


# -- Circular 27 -----------------------------------------------------------------------------------


def _primary_reason(shortfall: Shortfall, names: Mapping[str, str]) -> str:
    key = shortfall.subject or ""
    if shortfall.kind == "subject":
        return f"môn {names.get(key, key)} ở mức {PRIMARY_SUBJECT_LABELS[shortfall.value]}"
    if shortfall.kind == "quality":
        return f"phẩm chất {QUALITY_LABELS.get(key, key)} ở mức {PRIMARY_RATING_LABELS[shortfall.value]}"
    if shortfall.kind == "competency":
        return f"năng lực {COMPETENCY_LABELS.get(key, key)} ở mức {PRIMARY_RATING_LABELS[shortfall.value]}"
    return (
        f"bài kiểm tra cuối năm môn {names.get(key, key)} được {shortfall.value} điểm "
        f"(dưới {shortfall.threshold})"
    )


def explain_primary(case: PrimaryCase, result: PrimaryResult) -> tuple[str, ...]:
    """Return the explanation of a Circular 27 result."""
    names = {s.code: s.name or s.code for s in case.subjects}
    sentences = incomplete_sentences(result.incomplete, names, {})
    level = result.overall.level
    if level is None:
        return tuple(sentences)
    reasons = _join([_primary_reason(s, names) for s in result.overall.shortfalls])
    if level == "HTXS":
        sentences.append("Đánh giá cuối năm: Hoàn thành xuất sắc.")
    elif level == "CHT":
        sentences.append(f"Đánh giá cuối năm: Chưa hoàn thành vì {reasons}.")
    else:
        above = PRIMARY_OVERALL[PRIMARY_OVERALL.index(level) - 1]
        sentences.append(
            f"Đánh giá cuối năm: {OVERALL_LABELS[level]}, không phải {OVERALL_LABELS[above]}, vì {reasons}."
        )
    if result.award == "xuat_sac":
        sentences.append("Khen thưởng danh hiệu Học sinh Xuất sắc.")
    elif level == "HTT":
        sentences.append(
            "Danh hiệu Học sinh Tiêu biểu hoàn thành tốt trong học tập và rèn luyện do tập thể lớp và "
            "giáo viên đề nghị, không được tính tự động."
        )
    completion = {
        "completed_primary": "Hoàn thành chương trình tiểu học.",
        "completed_grade": f"Hoàn thành chương trình lớp {case.grade}.",
        "not_completed": f"Chưa hoàn thành chương trình lớp {case.grade}.",
    }
    sentences.append(completion[result.completion])
    return tuple(sentences)
