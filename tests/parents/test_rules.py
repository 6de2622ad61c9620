"""Claim codes as pure functions: the alphabet, the printed form, what a parent may type."""

from __future__ import annotations

import hashlib

import pytest

from portal.parents import rules


def test_alphabet_has_32_symbols_without_look_alikes():
    assert len(rules.CODE_ALPHABET) == len(set(rules.CODE_ALPHABET)) == 32
    assert not set("0O1I") & set(rules.CODE_ALPHABET)
    assert rules.CODE_LENGTH >= 12  # 60 bits


def test_new_codes_are_random_and_in_the_alphabet():
    codes = {rules.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == rules.CODE_LENGTH and set(code) <= set(rules.CODE_ALPHABET)
        assert rules.normalize_code(rules.format_code(code)) == code


@pytest.mark.parametrize(("typed", "expected"), [
    ("ABCD-EFGH-JKLM", "ABCDEFGHJKLM"),
    ("abcd efgh jklm", "ABCDEFGHJKLM"),
    ("  abcd-efgh-jklm\n".strip(), "ABCDEFGHJKLM"),
    ("AB.CD.EF.GH.JK.LM", "ABCDEFGHJKLM"),
    ("ABCD\u00a0EFGH\u00a0JKLM", "ABCDEFGHJKLM"),
    ("2345-6789-ABCD", "23456789ABCD"),
    ("ABCD-EFGH-JKL", None),  # too short
    ("ABCD-EFGH-JKLMN", None),  # too long
    ("ABCD-EFGH-JK0M", None),  # 0 is never used
    ("ABCD-EFGH-JKOM", None),  # nor O
    ("ABCD-EFGH-JK1M", None),
    ("ABCD-EFGH-JKIM", None),
    ("ABCD-EFGH-JKĐM", None),
    ("", None),
    (None, None),
])
def test_normalize_code(typed, expected):
    assert rules.normalize_code(typed) == expected


@pytest.mark.parametrize(("typed", "hint"), [("ABCD-EFGH-JK0M", True), ("abcd-efgh-jkim", True),
                                              ("ABCD-EFGH-JKLM", False), ("", False)])
def test_lookalike_hint(typed, hint):
    assert rules.lookalike_hint(typed) is hint


def test_format_and_digest():
    assert rules.format_code("ABCDEFGHJKLM") == "ABCD-EFGH-JKLM"
    assert rules.code_digest("ABCDEFGHJKLM") == hashlib.sha256(b"ABCDEFGHJKLM").hexdigest()
