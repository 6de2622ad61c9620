"""Assess the case on stdin: ``python -m portal.assessment < case.json``.

Prints the result JSON and exits 0; on invalid JSON or an invalid case prints ``{"errors": [...]}`` and
exits 2.
"""

import json
import sys
from decimal import Decimal

from portal.assessment import InvalidCase, assess

INVALID = 2


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} không phải là số hợp lệ")


def _emit(payload: dict, status: int) -> int:
    # Bytes, not text: the output carries Vietnamese whatever the locale of the shell.
    sys.stdout.buffer.write(json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    sys.stdout.flush()
    return status


def main() -> int:
    """Assess the case on stdin, print the result, and return the exit status."""
    try:
        # utf-8-sig: files saved by Windows Notepad start with a byte-order mark.
        text = sys.stdin.buffer.read().decode("utf-8-sig")
        # Decimal, never float, and no NaN/Infinity: scores must stay exact.
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return _emit({"errors": [f"JSON không hợp lệ: {exc}"]}, INVALID)
    try:
        result = assess(data)
    except InvalidCase as exc:
        return _emit({"errors": exc.errors}, INVALID)
    return _emit(result, 0)


if __name__ == "__main__":
    sys.exit(main())
