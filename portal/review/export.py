"""XLSX exports of the class summary (bảng tổng hợp) and the school summary, built with openpyxl.

Each workbook opens with title rows naming the school, the class or the school, the term and the school
year; headings are in Vietnamese with diacritics; averages are numbers with one decimal, levels are words.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from portal.review.service import (
    AWARD_KEYS,
    DECISION_KEYS,
    LEARNING_KEYS,
    MISSING_LABEL,
    PRIMARY_KEYS,
    SUMMARY_TERMS,
    ClassResults,
    Counts,
    SchoolSummary,
    award_label,
    decision_label,
    level_label,
)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
MISSING_FILL = PatternFill("solid", fgColor="FFF4E0")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _titles(ws: Worksheet, lines: list[str], width: int) -> int:
    """Write the title rows merged across the table's width; return the next free row."""
    for i, text in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=text)
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=max(width, 1))
        cell = ws.cell(row=i, column=1)
        cell.font = Font(bold=True, size=14 if i == 2 else 11)
        cell.alignment = Alignment(horizontal="left" if i == 1 else "center")
    return len(lines) + 2


def _header(ws: Worksheet, row: int, headings: list[str]) -> None:
    for col, text in enumerate(headings, start=1):
        cell = ws.cell(row=row, column=col, value=text)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = CENTER
        cell.border = BORDER
    ws.row_dimensions[row].height = 45


def _value(text: str | None):
    """A stored average as a number; a level code as its Vietnamese word; nothing as an empty cell."""
    if text is None or text == "":
        return None
    if text[0].isdigit():
        return Decimal(text)
    if text in ("D", "CD"):
        return {"D": "Đạt", "CD": "Chưa đạt"}[text]
    return level_label(text)


def _save(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def class_summary_xlsx(results: ClassResults, *, term: str, school: str) -> bytes:
    """The class summary of a term or the year: one row per student, one column per subject."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"Lớp {results.klass.name}"[:31]
    primary = results.regime == "tt27"
    headings = ["STT", "Mã học sinh", "Họ và tên"] + [s.name for s in results.subjects]
    if primary:
        headings += ["Kết quả cuối năm", "Khen thưởng"] if term == "year" else []
    else:
        headings += ["Kết quả học tập", "Kết quả rèn luyện"]
    headings += ["Nghỉ có phép", "Nghỉ không phép"]
    if not primary and term == "year":
        headings += ["Danh hiệu", "Quyết định cuối năm"]
    row = _titles(ws, [
        school.upper(),
        "BẢNG TỔNG HỢP KẾT QUẢ ĐÁNH GIÁ",
        f"Lớp {results.klass.name} · {SUMMARY_TERMS[term]} · Năm học {results.year.name}",
        f"Giáo viên chủ nhiệm: {results.homeroom or 'chưa phân công'} · Sĩ số: {len(results.lines)}",
    ], len(headings))
    _header(ws, row, headings)
    first = row + 1
    for i, line in enumerate(results.lines, start=1):
        r = row + i
        values: list = [line.number or i, line.student.student_code, line.student.full_name]
        for subject in results.subjects:
            value = line.subject(subject.code, term)
            shown = _value(value)
            if primary and line.test_score(subject.code, term):
                shown = f"{shown or ''} ({line.test_score(subject.code, term)})".strip()
            values.append(shown)
        if primary:
            if term == "year":
                values += [_value(line.overall()) or MISSING_LABEL, award_label(line.award())]
        else:
            values += [level_label(line.learning(term)), level_label(line.conduct(term))]
        values += list(line.absences(term))
        if not primary and term == "year":
            values += [award_label(line.award()), decision_label(line.decision(), results.grade.number)]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=value)
            cell.border = BORDER
            if isinstance(value, Decimal):
                cell.number_format = "0.0"
                cell.alignment = Alignment(horizontal="center")
            elif col > 3:
                cell.alignment = Alignment(horizontal="center")
            if col > 3 and (value is None or value == MISSING_LABEL):
                cell.fill = MISSING_FILL
    ws.freeze_panes = ws.cell(row=first, column=4)
    widths = [6, 14, 28] + [12] * (len(headings) - 3)
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    last = row + len(results.lines) + 2
    ws.cell(row=last, column=1, value="Ô tô màu: chưa đủ dữ liệu để tính. Điểm trung bình làm tròn đến một chữ số "
                                     "thập phân (Thông tư 22/2021/TT-BGDĐT).").font = Font(italic=True, size=9)
    return _save(wb)


def _count_row(counts: Counts, term: str, primary: bool) -> list:
    if primary:
        return [counts.size, *(counts.overall[k] for k in PRIMARY_KEYS), counts.award["xuat_sac"]]
    values = [counts.size, *(counts.learning[k] for k in LEARNING_KEYS), *(counts.conduct[k] for k in LEARNING_KEYS)]
    if term == "year":
        values += [counts.decision[k] for k in DECISION_KEYS] + [counts.award[k] for k in AWARD_KEYS]
    return values


def _count_headings(term: str, primary: bool) -> list[str]:
    if primary:
        return ["Lớp", "Sĩ số", *(level_label(k) for k in PRIMARY_KEYS), "Học sinh Xuất sắc"]
    levels = [level_label(k) for k in LEARNING_KEYS]
    headings = ["Lớp", "Sĩ số", *(f"Học tập: {x}" for x in levels), *(f"Rèn luyện: {x}" for x in levels)]
    if term == "year":
        headings += [decision_label(k) for k in DECISION_KEYS] + [award_label(k) for k in AWARD_KEYS]
    return headings


def _count_sheet(ws: Worksheet, summary: SchoolSummary, grades, primary: bool, title: str) -> None:
    term = summary.term
    headings = _count_headings(term, primary)
    row = _titles(ws, [
        summary.school.upper(),
        title,
        f"{SUMMARY_TERMS[term]} · Năm học {summary.year.name if summary.year else ''}",
    ], len(headings))
    if primary and term != "year":
        ws.cell(row=row, column=1, value="Tiểu học (Thông tư 27/2020/TT-BGDĐT): kết quả giáo dục chỉ tổng hợp "
                                         "cuối năm học. Hãy xuất bảng cả năm.").font = Font(italic=True)
        return
    _header(ws, row, headings)
    first = row + 1

    def put(values, *, bold=False, fill=None):
        nonlocal row
        row += 1
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            cell.border = BORDER
            if col > 1:
                cell.alignment = Alignment(horizontal="center")
            if bold:
                cell.font = Font(bold=True)
            if fill:
                cell.fill = fill

    for grade in grades:
        for item in grade.classes:
            put([item.klass.name, *_count_row(item.counts, term, primary)])
        put([f"Cộng {grade.grade.name.lower()}", *_count_row(grade.total, term, primary)], bold=True, fill=TOTAL_FILL)
    put(["Toàn trường", *_count_row(summary.total_of(grades), term, primary)], bold=True, fill=HEAD_FILL)
    ws.freeze_panes = ws.cell(row=first, column=2)
    ws.column_dimensions["A"].width = 16
    for col in range(2, len(headings) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12
    if not primary and term != "year":
        ws.cell(row=row + 2, column=1,
                value="Quyết định lên lớp và danh hiệu chỉ xét ở bảng cả năm.").font = Font(italic=True, size=9)


def school_summary_xlsx(summary: SchoolSummary) -> bytes:
    """The school summary of a term or the year: counts per level for each class, grade and the school."""
    wb = Workbook()
    ws = wb.active
    made = False
    if summary.secondary or not summary.primary:
        ws.title = "Tổng hợp"
        _count_sheet(ws, summary, summary.secondary, False, "BẢNG TỔNG HỢP KẾT QUẢ HỌC TẬP VÀ RÈN LUYỆN")
        made = True
    if summary.primary:
        sheet = wb.create_sheet("Tiểu học") if made else ws
        sheet.title = "Tiểu học"
        _count_sheet(sheet, summary, summary.primary, True, "BẢNG TỔNG HỢP KẾT QUẢ GIÁO DỤC TIỂU HỌC")
    return _save(wb)


def ascii_filename(*parts: str) -> str:
    """A download name in plain ASCII (Windows and old phones mangle anything else)."""
    import re
    import unicodedata

    text = "-".join(parts).replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") + ".xlsx"
