"""Display rules of the transcript: national encodings → what the paper template shows."""

from __future__ import annotations

import pytest

from portal.transcripts import rules


@pytest.mark.parametrize(("function", "value", "shown"), [
    (rules.show_score, "7.9", "7,9"),
    (rules.show_score, "10", "10"),
    (rules.show_score, "6.25", "6,25"),
    (rules.show_score, "0", "0"),
    (rules.show_score, "Đ", "Đ"),
    (rules.show_score, "CĐ", "CĐ"),
    (rules.show_score, "M", "M"),
    (rules.show_score, "", ""),
    (rules.show_level, "T", "Tốt"),
    (rules.show_level, "K", "Khá"),
    (rules.show_level, "Đ", "Đạt"),
    (rules.show_level, "CĐ", "Chưa đạt"),
    (rules.show_level, "", ""),
    (rules.show_mastery, "T", "Hoàn thành tốt"),
    (rules.show_mastery, "H", "Hoàn thành"),
    (rules.show_mastery, "C", "Chưa hoàn thành"),
    (rules.show_mastery, "M", "Miễn"),
    (rules.show_rating, "T", "Tốt"),
    (rules.show_rating, "Đ", "Đạt"),
    (rules.show_rating, "C", "Cần cố gắng"),
    (rules.show_rating, "", ""),
    (rules.show_sex, "1", "Nam"),
    (rules.show_sex, "2", "Nữ"),
    (rules.show_sex, "0", ""),
    (rules.show_date, "2014-06-24", "24/06/2014"),
    (rules.show_date, "2015-01-05", "05/01/2015"),
    (rules.show_date, "", ""),
    (rules.show_long_date, "2025-05-31", "ngày 31 tháng 5 năm 2025"),
    (rules.show_long_date, "2025-01-05", "ngày 05 tháng 01 năm 2025"),
    (rules.show_long_date, "2025-02-28", "ngày 28 tháng 02 năm 2025"),
    (rules.show_long_date, "2025-12-09", "ngày 09 tháng 12 năm 2025"),
    (rules.show_number, "32.50", "32,5"),
    (rules.show_number, "135", "135"),
    (rules.show_number, "", ""),
    (rules.show_count, "2", "2"),
    (rules.show_count, "2.5", "2,5"),
    (rules.show_count, "3.0", "3"),
    (rules.show_count, "", "0"),
    (rules.show_ethnicity, "01", "Kinh"),
    (rules.show_ethnicity, "06", "Mường"),
    (rules.show_nationality, "VN", "Việt Nam"),
    (rules.show_nationality, "LA", "LA"),
    (rules.level_title, "4", "TIỂU HỌC"),
    (rules.level_title, "6", "TRUNG HỌC CƠ SỞ"),
    (rules.level_title, "12", "TRUNG HỌC PHỔ THÔNG"),
])
def test_display(function, value, shown):
    assert function(value) == shown


@pytest.mark.parametrize(("title", "lines"), [
    ("Hiệu trưởng", ["HIỆU TRƯỞNG"]),
    ("", ["HIỆU TRƯỞNG"]),
    ("Phó Hiệu trưởng", ["KT. HIỆU TRƯỞNG", "PHÓ HIỆU TRƯỞNG"]),
])
def test_signer_titles(title, lines):
    assert rules.signer_titles(title) == lines


@pytest.mark.parametrize(("signer", "label"), [
    ({"role": "subject", "subjects": ["Toán", "Tin học"]}, "Giáo viên môn học: Toán, Tin học"),
    ({"role": "homeroom", "subjects": []}, "Giáo viên chủ nhiệm"),
    ({"role": "principal", "subjects": []}, "Hiệu trưởng"),
    ({"role": "school", "subjects": []}, "Con dấu số của nhà trường"),
])
def test_signer_label(signer, label):
    assert rules.signer_label(signer) == label


@pytest.mark.parametrize(("hocba", "text"), [
    ({"ndunghoanthanh": "Hoàn thành chương trình tiểu học", "dahthanhctrinhlophoc": "1"},
     "Hoàn thành chương trình tiểu học"),
    ({"ndunghoanthanh": "", "dahthanhctrinhlophoc": "1"}, "Hoàn thành chương trình lớp học"),
    ({"ndunghoanthanh": "", "dahthanhctrinhlophoc": "0"}, "Chưa hoàn thành chương trình lớp học"),
])
def test_completion_text(hocba, text):
    assert rules.completion_text(hocba) == text
