"""Claim codes: made from an alphabet without look-alike characters, typed back however the parent likes.

A code is CODE_LENGTH characters of CODE_ALPHABET (digits and capitals without 0/O and 1/I: 32 symbols of
5 bits, 60 bits a code), printed in groups of four. Only its SHA-256 (of the normalised form) is stored.
"""

from __future__ import annotations

import hashlib
import secrets

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0 O 1 I
CODE_LENGTH = 12
GROUP = 4
# Characters the codes never use, though a parent may believe they read one on the slip.
LEFT_OUT = "0O1I"


def new_code() -> str:
    """Return a fresh random code in its normalised form (CODE_LENGTH characters, no separators)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str | None) -> str | None:
    """Return the code a parent typed in its normalised form, or None when it cannot be one.

    Spaces, dashes and dots are dropped and letters upper-cased; a character outside the alphabet makes the
    whole input invalid (a look-alike is not silently turned into another symbol: it could be a typo).
    """
    cleaned = "".join(ch for ch in (typed or "").upper() if ch not in " -.\t\u00a0")
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def lookalike_hint(typed: str | None) -> bool:
    """Tell whether the input holds a character the codes never use but that looks like one they do."""
    return any(ch in LEFT_OUT for ch in (typed or "").upper())


def format_code(code: str) -> str:
    """ABCD-EFGH-JKMN: the printed form of a normalised code."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def code_digest(code: str) -> str:
    """SHA-256 (hex) of a normalised code: what the database keeps."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()
