"""Parse and check submitted administration forms: one Vietnamese message per bad field, no Flask needed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from werkzeug.datastructures import MultiDict

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
DIGITS_12 = r"\d{12}"
USERNAME = r"[a-z0-9._-]{3,64}"
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
PHONE = r"\+?\d{8,15}"
TRUE_VALUES = {"1", "on", "true", "yes", "y"}


def parse_date(value: str) -> date:
    """Parse dd/mm/yyyy or yyyy-mm-dd; raise ValueError otherwise."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


def capitalize(label: str) -> str:
    return label[:1].upper() + label[1:]


class FormChecker:
    """Read the fields of a submitted form and collect one message per bad field in `errors`."""

    def __init__(self, data: Mapping):
        self.data = data
        self.errors: dict[str, str] = {}

    def raw(self, name: str) -> str:
        value = self.data.get(name)
        return "" if value is None else str(value).strip()

    def values(self, name: str) -> list[str]:
        """Return every value of a multi-valued field (checkboxes), from a MultiDict or a plain dict."""
        if hasattr(self.data, "getlist"):
            items = self.data.getlist(name)
        else:
            value = self.data.get(name)
            items = [] if value is None else (value if isinstance(value, list | tuple | set) else [value])
        return [str(v).strip() for v in items if str(v).strip()]

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, label: str, *, required: bool = False, max_length: int = 150,
             pattern: str | None = None, message: str | None = None) -> str:
        """Return the field with inner whitespace collapsed ("" when empty)."""
        value = " ".join(self.raw(name).split())
        if not value:
            if required:
                self.fail(name, f"Vui lòng nhập {label}.")
            return ""
        if len(value) > max_length:
            self.fail(name, f"{capitalize(label)} không được dài quá {max_length} ký tự.")
        elif pattern and not re.fullmatch(pattern, value):
            self.fail(name, message or f"{capitalize(label)} không đúng định dạng.")
        return value

    def optional(self, name: str, label: str, **kwargs) -> str | None:
        """Like text(), but None when empty (for nullable columns)."""
        return self.text(name, label, **kwargs) or None

    def compact(self, name: str, label: str, **kwargs) -> str | None:
        """A code or number typed with spaces, dots or dashes (phone numbers): keep the characters that count."""
        value = re.sub(r"[\s.\-()]", "", self.raw(name))
        if not value:
            if kwargs.get("required"):
                self.fail(name, f"Vui lòng nhập {label}.")
            return None
        pattern = kwargs.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            self.fail(name, kwargs.get("message") or f"{capitalize(label)} không đúng định dạng.")
        return value

    def choice(self, name: str, label: str, options, *, required: bool = True):
        """Return the value when it is one of options (keys compared as strings), else None."""
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Vui lòng chọn {label}.")
            return None
        for option in options:
            if str(option) == value:
                return option
        self.fail(name, f"{capitalize(label)} không hợp lệ.")
        return None

    def integer(self, name: str, label: str, *, required: bool = True, min_value: int | None = None,
                max_value: int | None = None) -> int | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Vui lòng nhập {label}.")
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"{capitalize(label)} phải là số nguyên.")
            return None
        if min_value is not None and number < min_value:
            self.fail(name, f"{capitalize(label)} phải lớn hơn hoặc bằng {min_value}.")
        elif max_value is not None and number > max_value:
            self.fail(name, f"{capitalize(label)} không được lớn hơn {max_value}.")
        return number

    def date(self, name: str, label: str, *, required: bool = True) -> date | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, f"Vui lòng nhập {label}.")
            return None
        try:
            return parse_date(value)
        except ValueError:
            self.fail(name, f"{capitalize(label)} không hợp lệ: nhập theo dạng ngày/tháng/năm, ví dụ 05/09/2025.")
            return None

    def flag(self, name: str) -> bool:
        return self.raw(name).lower() in TRUE_VALUES

    def id_or_none(self, name: str, label: str) -> int | None:
        """An optional foreign key from a select: "" → None, a number → int, anything else → an error."""
        value = self.raw(name)
        if not value:
            return None
        if not value.isdigit():
            self.fail(name, f"{capitalize(label)} không hợp lệ.")
            return None
        return int(value)


def initial(obj, fields, **extra) -> MultiDict:
    """Return a model's current values as form data (the shape a re-shown submitted form has)."""
    data = MultiDict()
    for name in fields:
        value = getattr(obj, name, None) if obj is not None else None
        if isinstance(value, bool):
            value = "1" if value else ""
        elif isinstance(value, date):
            value = value.strftime("%d/%m/%Y")
        data[name] = "" if value is None else str(value)
    for name, value in extra.items():
        if isinstance(value, list | tuple):
            data.setlist(name, [str(v) for v in value])
        else:
            data[name] = "" if value is None else str(value)
    return data
