"""Pure helpers of the audit-trail screens: filters from a query string, Vietnam days, the before → after diff."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

VN = timezone(timedelta(hours=7), "ICT")  # Vietnam: UTC+7, no daylight saving time
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # AuditEvent.at (portal.audit.now_text)
PAGE_SIZE = 50
# Query-string names of the filters (short Vietnamese words, as elsewhere in the portal).
ARG_NAMES = {"person": "nguoi", "class_id": "lop", "student": "hs", "period": "ky", "action": "hd",
             "since": "tu", "until": "den"}
FIELD_LABELS = {"value": "Giá trị", "text": "Nội dung", "version": "Phiên bản"}
EMPTY = "(trống)"


@dataclass(frozen=True)
class Filters:
    """What the principal asked for; every field empty means the whole trail."""

    person: str = ""
    class_id: int | None = None
    student: str = ""
    period: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    errors: tuple[str, ...] = field(default=(), compare=False)

    def args(self) -> dict[str, str]:
        """The non-empty filters as query-string arguments (for links and the CSV export)."""
        out = {}
        for name, arg in ARG_NAMES.items():
            value = getattr(self, name)
            if value not in (None, ""):
                out[arg] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    @property
    def active(self) -> bool:
        return bool(self.args())


def parse_day(raw: str | None) -> date | None:
    """A day typed as YYYY-MM-DD (an <input type=date>) or DD/MM/YYYY; None when empty; ValueError when bad."""
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def parse_filters(args: Mapping[str, str], *, periods: Mapping[str, str], actions: Mapping[str, str]) -> Filters:
    """Read the filters from a query string, dropping (and naming) the values that make no sense."""
    errors = []
    values: dict = {}
    for name in ("person", "student"):
        values[name] = (args.get(ARG_NAMES[name]) or "").strip()[:100]
    raw_class = (args.get(ARG_NAMES["class_id"]) or "").strip()
    if raw_class:
        if raw_class.isdigit():
            values["class_id"] = int(raw_class)
        else:
            errors.append("Lớp không hợp lệ.")
    for name, known, message in (("period", periods, "Kì đánh giá không hợp lệ."),
                                 ("action", actions, "Loại hoạt động không hợp lệ.")):
        raw = (args.get(ARG_NAMES[name]) or "").strip()
        if raw and raw not in known:
            errors.append(message)
        elif raw:
            values[name] = raw
    for name, label in (("since", "Từ ngày"), ("until", "Đến ngày")):
        try:
            values[name] = parse_day(args.get(ARG_NAMES[name]))
        except ValueError:
            errors.append(f"{label} không hợp lệ (cần dạng ngày/tháng/năm).")
    if values.get("since") and values.get("until") and values["since"] > values["until"]:
        errors.append("“Từ ngày” phải trước hoặc bằng “Đến ngày”.")
        values["since"], values["until"] = values["until"], values["since"]
    return Filters(**values, errors=tuple(errors))


def day_start_utc(day: date) -> str:
    """The UTC instant (as AuditEvent.at text) at which the Vietnam day begins."""
    return datetime.combine(day, time.min, tzinfo=VN).astimezone(UTC).strftime(AT_FORMAT)


def day_bounds_utc(since: date | None, until: date | None) -> tuple[str | None, str | None]:
    """[start, end) in UTC text for Vietnam days `since`..`until` inclusive; None for an open side."""
    return (day_start_utc(since) if since else None,
            day_start_utc(until + timedelta(days=1)) if until else None)


def local_time(at: str) -> datetime:
    """An event's time in Vietnam."""
    return datetime.strptime(at, AT_FORMAT).replace(tzinfo=UTC).astimezone(VN)


@dataclass(frozen=True)
class DiffRow:
    name: str
    label: str
    before: str
    after: str
    changed: bool


def _loads(text: str):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


SCORE = re.compile(r"\d{1,2}\.\d")


def shown(value) -> str:
    """A JSON value as the screen shows it: text as it is, "(trống)" for nothing, JSON for structures."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str):
        # A stored score ("7.5") is shown the Vietnamese way ("7,5"), as everywhere else on screen.
        return value.replace(".", ",") if SCORE.fullmatch(value) else value
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def compute_diff(before: str, after: str) -> list[DiffRow]:
    """Field by field before → after of two canonical JSON texts (objects compared key by key)."""
    old, new = _loads(before), _loads(after)
    if old is None and new is None:
        return []
    if isinstance(old, dict | None) and isinstance(new, dict | None) and (old or new) is not None:
        old, new = old or {}, new or {}
        keys = sorted(set(old) | set(new))
        return [DiffRow(key, FIELD_LABELS.get(key, key), shown(old.get(key)), shown(new.get(key)),
                        old.get(key) != new.get(key)) for key in keys]
    return [DiffRow("", "Giá trị", shown(old), shown(new), old != new)]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading apostrophe (shown, not run)."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text
