"""Rules of sending and receiving, as pure functions: events and versions, backoff, the envelope, reasons.

No Flask, no session, no I/O: the outbox, the send job and the receiver call these with plain values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

VN = timezone(timedelta(hours=7), "ICT")
EVENTS = ("NEW", "UPDATE", "CANCEL")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # thoigiancapnhat: Vietnam time, as the national feed writes it
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
# Fields of the sending envelope (besides the files): national names where the dictionary has one.
ENVELOPE_FIELDS = ("bang", "idbanghi", "sukien", "phienban", "thoigiancapnhat", "matruong")
TABLES = ("thongtinsohocbasothcsthpt", "thongtinsohocbasotieuhoc")
MAX_REASON = 1000


# --- The outbox -------------------------------------------------------------------------------------------


def next_phienban(highest: int | None) -> int:
    """The next phienban of a record at an endpoint: strictly above every one sent there (1 for the first)."""
    return (highest or 0) + 1


def release_event(version: int, sent_before: bool) -> str:
    """NEW for a record's first release at an endpoint (version 1, or the first this endpoint hears of it),
    UPDATE for a later version's release."""
    return "UPDATE" if version > 1 and sent_before else "NEW"


def history_position(version: int, event: str) -> tuple[int, int]:
    """Where an event stands in its record's history: version 1 released, revoked, version 2 released, …"""
    return (version, 1 if event == "CANCEL" else 0)


def vn_timestamp(moment: datetime) -> str:
    """An instant written as thoigiancapnhat: "YYYY-MM-DD HH:MM:SS" in Vietnam time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN).strftime(TIMESTAMP_FORMAT)


def idempotency_key(idbanghi: str, phienban: int) -> str:
    """The key a receiver deduplicates on: one record, one version."""
    return f"{idbanghi}:{phienban}"


# --- Retries ----------------------------------------------------------------------------------------------


def backoff_seconds(attempts: int, *, base: float = 10.0, cap: float = 3600.0) -> float:
    """Wait before the next attempt after `attempts` failed ones: base × 2^(attempts-1), at most cap."""
    if attempts <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(attempts - 1, 40)))


PERMANENT_STATUSES = frozenset({409, 422})


def permanent_refusal(status: int | None) -> bool:
    """Whether a receiver's answer refuses the content itself, so that the same submission would be refused again:
    422 (unsigned, tampered, not matching its envelope) or 409 (another content under the same idbanghi+phienban).
    Such an attempt is not retried automatically; 5xx, timeouts and connection errors are."""
    return status in PERMANENT_STATUSES


def lease_expired(updated_at: datetime, now: datetime, lease_seconds: float) -> bool:
    """Whether a claimed ("sending") row's holder has had longer than its lease: it is presumed dead."""
    return now - updated_at > timedelta(seconds=lease_seconds)


def failure_reason(label: str, *, status: int | None = None, body: str = "", error: str = "",
                   timeout: float | None = None) -> str:
    """Why an attempt failed, in Vietnamese, for the dashboard (at most MAX_REASON characters)."""
    if error == "timeout":
        text = f"{label} không trả lời trong {timeout:g} giây."
    elif error:
        text = f"Không kết nối được tới {label}: {error}"
    elif status in (401, 403):
        text = f"{label} từ chối mã xác thực (HTTP {status}): kiểm tra mã (token) trong cấu hình SEND_ENDPOINTS."
    elif status == 409:
        text = (f"{label} đã nhận một nội dung khác với cùng mã bản ghi và phiên bản (HTTP 409)"
                + (f": {body}" if body else "."))
    elif status == 422:
        text = f"{label} không chấp nhận học bạ (HTTP 422)" + (f": {body}" if body else ".")
    elif status is not None and status >= 500:
        text = f"{label} đang gặp lỗi (HTTP {status}); sẽ gửi lại."
    elif status is not None:
        text = f"{label} trả lời HTTP {status}" + (f": {body}" if body else ".")
    else:
        text = f"Gửi tới {label} không thành công."
    return text[:MAX_REASON]


def receiver_reasons(payload: bytes) -> str:
    """The receiver's reasons from its JSON answer, joined into one sentence (or a short raw excerpt)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        reasons = data.get("lydo") or data.get("loi") or []
        if isinstance(reasons, str):
            reasons = [reasons]
        return " ".join(str(r) for r in reasons)[:MAX_REASON]
    return ""


# --- The envelope -----------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Envelope:
    """What a receiver read from one submission: the envelope fields and the two files."""

    bang: str
    idbanghi: str
    sukien: str
    phienban: int
    thoigiancapnhat: str
    matruong: str
    xml: bytes
    pdf: bytes
    revocation: dict

    @property
    def key(self) -> str:
        return idempotency_key(self.idbanghi, self.phienban)

    def fingerprint(self) -> str:
        """One hash of everything sent, so that a resend can be told from a different payload under one key."""
        head = json.dumps({name: getattr(self, name) for name in ENVELOPE_FIELDS}, sort_keys=True,
                          ensure_ascii=False)
        return sha256("\n".join([head, sha256(self.xml), sha256(self.pdf),
                                 json.dumps(self.revocation, sort_keys=True, ensure_ascii=False)]).encode())


def build_envelope(*, bang: str, idbanghi: str, sukien: str, phienban: int, thoigiancapnhat: str, matruong: str,
                   xml: bytes, pdf: bytes, revocation: dict | None = None) -> dict:
    """The JSON body a sender posts: the envelope fields, the sealed XML and the signed PDF in base64."""
    body = {"bang": bang, "idbanghi": idbanghi, "sukien": sukien, "phienban": phienban,
            "thoigiancapnhat": thoigiancapnhat, "matruong": matruong,
            "xml": base64.b64encode(xml).decode(), "xml_sha256": sha256(xml),
            "pdf": base64.b64encode(pdf).decode(), "pdf_sha256": sha256(pdf)}
    if revocation:
        body["thuhoi"] = revocation
    return body


def _decode(body: dict, name: str, problems: list[str]) -> bytes:
    raw = body.get(name)
    if not isinstance(raw, str) or not raw:
        problems.append(f"Thiếu tệp {name.upper()} (base64) trong trường “{name}”.")
        return b""
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"Trường “{name}” không phải base64 hợp lệ.")
        return b""
    digest = body.get(f"{name}_sha256")
    if digest is not None and digest != sha256(data):
        problems.append(f"Mã băm SHA-256 của tệp {name.upper()} không khớp với “{name}_sha256”: tệp đã bị thay đổi "
                        "trên đường truyền.")
    return data


def parse_envelope(body) -> tuple[Envelope | None, list[str]]:
    """Read a posted JSON body; return the envelope, or None and why it cannot be read (Vietnamese)."""
    if not isinstance(body, dict):
        return None, ["Nội dung gửi lên phải là một đối tượng JSON."]
    problems = []
    texts = {}
    for name in ("bang", "idbanghi", "sukien", "thoigiancapnhat", "matruong"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"Thiếu trường “{name}”.")
        texts[name] = (value or "").strip() if isinstance(value, str) else ""
    if texts["bang"] and texts["bang"] not in TABLES:
        problems.append(f"Bảng “{texts['bang']}” không phải bảng học bạ số ({' hoặc '.join(TABLES)}).")
    if texts["sukien"] and texts["sukien"].upper() not in EVENTS:
        problems.append(f"Sự kiện “{texts['sukien']}” không hợp lệ (NEW, UPDATE hoặc CANCEL).")
    if len(texts["idbanghi"]) > 150:
        problems.append("Mã bản ghi (idbanghi) dài quá 150 kí tự.")
    if texts["thoigiancapnhat"] and not TIMESTAMP_RE.match(texts["thoigiancapnhat"]):
        problems.append("Thời gian cập nhật phải theo mẫu YYYY-MM-DD HH:MM:SS.")
    version = body.get("phienban")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 100000:
        problems.append("Phiên bản (phienban) phải là số nguyên dương.")
        version = 0
    xml = _decode(body, "xml", problems)
    pdf = _decode(body, "pdf", problems)
    revocation = body.get("thuhoi") or {}
    if not isinstance(revocation, dict):
        problems.append("Trường “thuhoi” phải là một đối tượng JSON.")
        revocation = {}
    if problems:
        return None, problems
    return Envelope(bang=texts["bang"], idbanghi=texts["idbanghi"], sukien=texts["sukien"].upper(),
                    phienban=version, thoigiancapnhat=texts["thoigiancapnhat"], matruong=texts["matruong"],
                    xml=xml, pdf=pdf, revocation=revocation), []


def envelope_problems(envelope: Envelope, *, table: str, hocba: dict, sender: str) -> list[str]:
    """Where the envelope disagrees with the signed data it carries, or with who sent it."""
    problems = []
    if envelope.bang != table:
        problems.append(f"Bảng trong phong bì (“{envelope.bang}”) khác bảng của dữ liệu học bạ (“{table}”).")
    if envelope.idbanghi != hocba.get("madinhdanhhocba", ""):
        problems.append(f"Mã bản ghi (idbanghi “{envelope.idbanghi}”) khác mã định danh học bạ trong dữ liệu đã ký "
                        f"(“{hocba.get('madinhdanhhocba', '')}”).")
    if envelope.matruong != sender:
        problems.append(f"Mã trường trong phong bì (“{envelope.matruong}”) khác mã trường của mã xác thực đã dùng "
                        f"(“{sender}”).")
    if hocba.get("matruong", "") != sender:
        problems.append(f"Dữ liệu học bạ là của trường mã “{hocba.get('matruong', '')}”, không phải của trường gửi "
                        f"(“{sender}”).")
    return problems


# --- The dashboard ----------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> int:
    """A whole percentage rounded down (100 only when everything is done)."""
    return 100 * part // whole if whole else 0


def days_left(due, today) -> int:
    return (due - today).days
