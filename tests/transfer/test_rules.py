"""The package's shape: which zip directories may be read, what a manifest and a profile must hold."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from portal.transfer import rules
from portal.transfer.rules import Member

OK = [Member("manifest.json", 900), Member("student.json", 700), Member("hocba_HS0001_2024-2025_v1.pdf", 400_000),
      Member("hocba_HS0001_2024-2025_v1.xml", 30_000)]
MB = 1024 * 1024


@pytest.mark.parametrize("extra, expected", [
    ([], None),
    ([Member("../evil.pdf", 10)], "“../evil.pdf” trong gói có đường dẫn thư mục"),
    ([Member("a/hocba_HS0001_2024-2025_v2.pdf", 10)], "đường dẫn thư mục"),
    ([Member("..\\evil.xml", 10)], "đường dẫn thư mục"),
    ([Member("C:evil.pdf", 10)], "đường dẫn thư mục"),
    ([Member("/etc/passwd", 10)], "đường dẫn thư mục"),
    ([Member("thumuc/", 0, is_dir=True)], "đường dẫn thư mục"),
    ([Member("readme.txt", 10)], "“readme.txt” không thuộc gói"),
    ([Member("hocba_HS0001_2024-2025_v1.pdf", 10)], "xuất hiện hai lần"),
    ([Member("hocba_HS0001_2025-2026_v1.pdf", 11 * MB)], "vượt mức 10 MB"),
    ([Member("hocba_HS0001_2025-2026_v1.xml", 3 * MB)], "vượt mức 2 MB"),
    ([Member("hocba_HS0001_2025-2026_v1.pdf", 10, encrypted=True)], "mã hóa bằng mật khẩu"),
    ([Member(f"hocba_HS0001_20{i:02d}-20{i + 1:02d}_v1.pdf", 8 * MB) for i in range(9)], "Tổng dung lượng"),
    ([Member(f"hocba_HS0001_2024-2025_v{i}.pdf", 10) for i in range(2, 90)], "nhiều hơn mức cho phép"),
])
def test_check_members(extra, expected):
    problems = rules.check_members(OK + extra)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_missing_manifest_or_student_is_named():
    assert rules.check_members(OK[1:]) == ["Gói thiếu tệp manifest.json."]
    assert rules.check_members([OK[0], *OK[2:]]) == ["Gói thiếu tệp student.json."]


def manifest(**changes) -> dict:
    doc = {"namhoc": "2024-2025", "tenlop": "6A1", "phienban": 1, "madinhdanhhocba": "m-1", "mamaxacthuc": "HB-X",
           "status": "released"}
    value = {"format": rules.FORMAT, "format_version": 1, "created_at": "2026-01-01T00:00:00Z",
             "school": {"tentruong": "Trường A", "matruong": "37101234"},
             "files": [{"name": "student.json", "kind": "student", "sha256": "a" * 64, "size": 10},
                       {"name": "hocba_HS1_2024-2025_v1.pdf", "kind": "pdf", "sha256": "b" * 64, "size": 20, **doc},
                       {"name": "hocba_HS1_2024-2025_v1.xml", "kind": "xml", "sha256": "c" * 64, "size": 30, **doc}]}
    for key, item in changes.items():
        if key.startswith("file"):
            value["files"][int(key[4:])].update(item)
        else:
            value[key] = item
    return value


@pytest.mark.parametrize("changes, expected", [
    ({}, None),
    ({"format": "zip"}, "không phải bản kê"),
    ({"format_version": 2}, "Không hỗ trợ phiên bản định dạng"),
    ({"school": {}}, "Bản kê không ghi tên và mã trường"),
    ({"file1": {"sha256": "xyz"}}, "thiếu mã băm SHA-256"),
    ({"file1": {"size": "20"}}, "thiếu dung lượng"),
    ({"file1": {"kind": "xml"}}, "loại “xml” không khớp"),
    ({"file1": {"namhoc": "2023-2024"}}, "không khớp tên tệp"),
    ({"file1": {"phienban": 2}}, "không khớp tên tệp"),
    ({"file1": {"status": "draft"}}, "trạng thái “draft”"),
    ({"file2": {"name": "hocba_HS1_2024-2025_v2.xml"}}, "không có tệp dữ liệu XML đi kèm"),
    ({"file1": {"name": "../x.pdf"}}, "tên tệp không hợp lệ"),
    ({"file0": {"name": "hocba_HS1_2024-2025_v1.xml"}}, "ghi hai lần"),
])
def test_parse_manifest(changes, expected):
    parsed, problems = rules.parse_manifest(manifest(**changes))
    if expected is None:
        assert problems == [] and parsed.school_code == "37101234"
        assert [e.kind for e in parsed.entries] == ["student", "pdf", "xml"]
        assert parsed.entry("hocba_HS1_2024-2025_v1.pdf").madinhdanhhocba == "m-1"
    else:
        assert any(expected in p for p in problems), problems


STUDENT = SimpleNamespace(full_name="Nguyễn Thị Ánh", personal_id="037312009001", student_code="HS0001",
                          date_of_birth=date(2012, 4, 5), sex=2, ethnicity="01", nationality="VN",
                          birthplace="Ninh Bình", birthplace_province_code="37", hometown="Gia Viễn",
                          residence="Hoa Lư", policy_group=None, disability_not_assessed=False,
                          registration_number="001/2023", father_name="Nguyễn Văn Bình", father_occupation=None,
                          mother_name="Lê Thị Hương", mother_occupation="Giáo viên", guardian_name=None,
                          guardian_occupation=None)


def test_profile_round_trip():
    profile = rules.profile_of(STUDENT)
    assert profile["gioitinh"] == "2" and profile["ngaythangnamsinh"] == "2012-04-05"
    assert profile["cokhuyettatkhongdanhgia"] == "0" and profile["doituongchinhsach"] == ""
    parsed, problems = rules.parse_profile(profile)
    assert problems == []
    assert rules.student_values(parsed) == vars(STUDENT)


@pytest.mark.parametrize("field, value, expected", [
    ("sodinhdanh", "12345", "số định danh"),
    ("mahocsinh", "HS 1", "mã học sinh"),
    ("hovaten", "", "thiếu họ và tên"),
    ("ngaythangnamsinh", "05/04/2012", "ngày sinh không hợp lệ"),
    ("gioitinh", "3", "giới tính"),
    ("quoctich", "Việt Nam", "quốc tịch"),
    ("hotencha", 5, "hotencha phải là chuỗi"),
    ("hotenme", "x" * 151, "dài quá 150"),
])
def test_parse_profile_refuses(field, value, expected):
    profile = {**rules.profile_of(STUDENT), field: value}
    _parsed, problems = rules.parse_profile(profile)
    assert any(expected in p for p in problems), problems


def test_identity_compares_names_in_nfc():
    profile = rules.profile_of(STUDENT)
    decomposed = {"sodinhdanh": "037312009001", "mahocsinh": "HS0001", "ngaythangnamsinh": "2012-04-05",
                  "hovaten": "Nguye\u0302\u0303n  Thị Ánh"}
    assert rules.identity_mismatches(profile, decomposed) == []
    assert rules.identity_mismatches(profile, {**decomposed, "ngaythangnamsinh": "2012-04-06"}) == ["ngày sinh"]
