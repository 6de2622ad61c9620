"""``python -m portal.assessment`` as schools and auditors run it: JSON in on stdin, JSON out."""

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.assessment import assess
from portal.assessment.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

WORKED_EXAMPLE = {
    "regime": "tt22",
    "grade": 8,
    "absences": 3,
    "conduct": {"hk1": "T", "hk2": "K"},
    "subjects": [
        {
            "code": "toan",
            "name": "Toán",
            "kind": "score",
            "periods_per_year": 140,
            "hk1": {"regular": ["8", "7.5", "9", "8"], "midterm": "7.5", "final": "8"},
            "hk2": {"regular": ["7", "8", "8.5", "9"], "midterm": "8", "final": "7.5"},
        },
        {
            "code": "gdtc",
            "name": "Giáo dục thể chất",
            "kind": "comment",
            "periods_per_year": 70,
            "hk1": {"regular": ["D", "D", "D"], "midterm": "D", "final": "D"},
            "hk2": {"regular": ["D", "D", "D"], "midterm": "D", "final": "D"},
        },
        {"code": "gdtc2", "kind": "comment", "exempt": True},
    ],
    "retake": {"toan": "5.5"},
    "conduct_retrained": "D",
}

PRIMARY_EXAMPLE = {
    "regime": "tt27",
    "grade": 4,
    "subjects": [{"code": "tieng_viet", "year": "HTT", "test_year": 9}, {"code": "dao_duc", "year": "HTT"}],
    "qualities": {"yeu_nuoc": "T", "nhan_ai": "T", "cham_chi": "T", "trung_thuc": "T", "trach_nhiem": "T"},
    "competencies": {
        "tu_chu_tu_hoc": "T",
        "giao_tiep_hop_tac": "T",
        "gqvd_sang_tao": "T",
        "ngon_ngu": "T",
        "tinh_toan": "T",
        "khoa_hoc": "T",
        "cong_nghe": "T",
        "tin_hoc": "T",
        "tham_mi": "T",
        "the_chat": "T",
    },
}


def run(stdin: str | bytes, **env) -> tuple[int, dict]:
    """Run the command in the project root and return its exit status and decoded output."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    completed = subprocess.run(
        [sys.executable, "-m", "portal.assessment"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    return completed.returncode, json.loads(completed.stdout.decode("utf-8"))


def full_year() -> dict:
    """Return the worked example with a full subject list: Toán plus seven subjects at 8.5 then 7.0."""
    case = copy.deepcopy(WORKED_EXAMPLE)
    del case["retake"], case["conduct_retrained"]
    for code in ("van", "anh", "ly", "hoa", "sinh", "su", "dia"):
        case["subjects"].append(
            {
                "code": code,
                "kind": "score",
                "periods_per_year": 105,
                "hk1": {"regular": ["8.5"] * 4, "midterm": "8.5", "final": "8.5"},
                "hk2": {"regular": ["7"] * 4, "midterm": "7", "final": "7"},
            }
        )
    return case


def test_worked_example():
    status, output = run(json.dumps(WORKED_EXAMPLE))
    assert status == 0
    assert set(output) == {"subjects", "learning", "conduct", "decision", "award", "incomplete", "explain"}
    assert output["subjects"] == {
        "toan": {"hk1": "7.9", "hk2": "7.9", "year": "7.9"},
        "gdtc": {"hk1": "D", "hk2": "D", "year": "D"},
        "gdtc2": {"year": "M"},
    }
    assert output["conduct"] == {"year": "K"}
    assert output["incomplete"] == []
    # Abridged to one score subject, "at least 6 of S" cannot hold: CD, and nothing to re-assess.
    assert output["learning"] == {"hk1": "CD", "hk2": "CD", "year": "CD"}
    assert output["decision"] == "o_lai"
    assert "Bỏ qua điểm kiểm tra lại môn Toán: môn này không thuộc diện kiểm tra lại." in output["explain"]


def test_worked_example_with_a_full_subject_list():
    status, output = run(json.dumps(full_year()))
    assert status == 0
    assert output["subjects"]["toan"] == {"hk1": "7.9", "hk2": "7.9", "year": "7.9"}
    assert output["subjects"]["van"] == {"hk1": "8.5", "hk2": "7.0", "year": "7.5"}
    assert output["learning"] == {"hk1": "T", "hk2": "K", "year": "K"}
    assert output["conduct"] == {"year": "K"}
    assert (output["decision"], output["award"], output["incomplete"]) == ("len_lop", None, [])
    assert (
        "Xếp loại học tập học kì II Khá, không phải Tốt, vì không có môn nào có ĐTB học kì II ≥ 8.0 "
        "(cần ít nhất 6)." in output["explain"]
    )


def test_decimal_comma_equals_decimal_point():
    comma = copy.deepcopy(WORKED_EXAMPLE)
    comma["subjects"][0]["hk1"] = {"regular": ["8", "7,5", "9", "8"], "midterm": "7,5", "final": "8"}
    status, output = run(json.dumps(comma))
    assert status == 0
    assert output["subjects"]["toan"]["hk1"] == "7.9"
    assert output == assess(WORKED_EXAMPLE)


def test_numbers_are_read_as_decimals():
    case = copy.deepcopy(WORKED_EXAMPLE)
    case["subjects"][0]["hk1"] = {"regular": [8, 7.5, 9, 8], "midterm": 7.5, "final": 8}
    status, output = run(json.dumps(case))
    assert status == 0
    assert output["subjects"]["toan"]["hk1"] == "7.9"


def test_primary_example():
    status, output = run(json.dumps(PRIMARY_EXAMPLE))
    assert status == 0
    assert {k: output[k] for k in ("overall", "award", "completion", "incomplete")} == {
        "overall": "HTXS",
        "award": "xuat_sac",
        "completion": "completed_grade",
        "incomplete": [],
    }


def test_output_is_utf8_whatever_the_locale():
    status, output = run(json.dumps(PRIMARY_EXAMPLE), LANG="C", LC_ALL="C", PYTHONIOENCODING="ascii")
    assert status == 0
    assert "Hoàn thành chương trình lớp 4." in output["explain"]


def with_score(value) -> dict:
    case = copy.deepcopy(WORKED_EXAMPLE)
    case["subjects"][0]["hk1"]["regular"][2] = value
    return case


def with_test(value) -> dict:
    case = copy.deepcopy(PRIMARY_EXAMPLE)
    case["subjects"][0]["test_year"] = value
    return case


@pytest.mark.parametrize(
    ("stdin", "error"),
    [
        (json.dumps(with_score("11")), "subjects[0].hk1.regular[2]: điểm 11 ngoài khoảng 0–10"),
        (json.dumps(with_test(0)), "subjects[0].test_year: điểm kiểm tra 0 ngoài khoảng 1–10"),
        (json.dumps(with_test(11)), "subjects[0].test_year: điểm kiểm tra 11 ngoài khoảng 1–10"),
        (
            json.dumps(with_test(7.5)),
            "subjects[0].test_year: điểm kiểm tra 7.5 phải là số nguyên (không có phần thập phân)",
        ),
        (
            json.dumps({**WORKED_EXAMPLE, "conduct": {"hk1": "G", "hk2": "K"}}),
            "conduct.hk1: mức “G” không hợp lệ",
        ),
        (json.dumps({**PRIMARY_EXAMPLE, "regime": "tt58"}), "regime: chế độ đánh giá “tt58” không hợp lệ"),
        ("[1, 2, 3]", "dữ liệu vào phải là một đối tượng JSON"),
        ("{not json", "JSON không hợp lệ"),
    ],
)
def test_invalid_input_exits_2_with_errors(stdin, error):
    status, output = run(stdin)
    assert status == 2
    assert list(output) == ["errors"]
    assert any(message.startswith(error) for message in output["errors"]), output["errors"]


# The decoding edge cases run main() in-process: the subprocess above already proves the wiring.


def run_main(stdin: bytes, monkeypatch) -> tuple[int, dict]:
    stdout = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout))
    status = main()
    return status, json.loads(stdout.getvalue().decode("utf-8"))


@pytest.mark.parametrize(
    ("stdin", "error"),
    [
        (json.dumps(with_score(11)).encode(), "subjects[0].hk1.regular[2]: điểm 11 ngoài khoảng 0–10"),
        (b'"tt22"', "dữ liệu vào phải là một đối tượng JSON"),
        (b"null", "dữ liệu vào phải là một đối tượng JSON"),
        (b"42", "dữ liệu vào phải là một đối tượng JSON"),
        (b"", "JSON không hợp lệ"),
        (b'{"regime": "tt22", "grade": NaN}', "JSON không hợp lệ"),  # NaN is not a score
        (b"\xff\xfe{}", "JSON không hợp lệ"),  # not UTF-8
    ],
)
def test_decoding_edge_cases_exit_2(stdin, error, monkeypatch):
    status, output = run_main(stdin, monkeypatch)
    assert status == 2
    assert any(message.startswith(error) for message in output["errors"]), output["errors"]


def test_byte_order_mark_is_accepted(monkeypatch):
    status, output = run_main(b"\xef\xbb\xbf" + json.dumps(PRIMARY_EXAMPLE).encode(), monkeypatch)
    assert (status, output["overall"]) == (0, "HTXS")
