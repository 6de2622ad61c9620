"""Public verification: what anyone may learn about a transcript without signing in.

Two ways in:
- a PDF someone was given (`verify_pdf`): every PAdES signature is validated against the school's trust
  roots; the signers are compared, by the personal ID in their certificates, with the signer list the
  embedded XML carries (subject teachers → homeroom teacher → principal → school seal); the XML's own
  XAdES seal is checked; and the verification code inside it finds the version in the database, whose
  stored PDF must be byte for byte the uploaded one for the file to count as the one the school issued.
  The report may show the transcript's data: the visitor holds the document that contains it.
- the code printed on paper or in the QR code (`lookup_code`): the status of that version and what
  identifies it without naming anyone (school, year, class, version, dates). The code can leak with a
  photocopy, so nothing personal is shown.

Both are rate-limited per client address through the database (`count_attempt`), so the limit holds across
gunicorn processes and machines. The address itself is not stored: a keyed hash of it is.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, text
from sqlmodel import Session, select

from portal.db import write_session
from portal.errors import DomainError
from portal.models import Transcript, VerifyAttempt, utcnow
from portal.periods.read import local, utc
from portal.periods.service import VN
from portal.transcripts import checks, pades, rules, xmlfile
from portal.transcripts import service as transcripts
from portal.transcripts.data import Record, Signer

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 10 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


class BadUpload(DomainError):
    """The upload is missing, too large or not a PDF."""

    status = 400


class RateLimited(DomainError):
    status = 429


# --- Rate limit ------------------------------------------------------------------------------------------


def client_key(ip: str, secret: str) -> str:
    """A keyed hash of the client address: enough to count, useless to find anyone."""
    return hmac.new(secret.encode(), (ip or "?").encode(), hashlib.sha256).hexdigest()[:32]


def count_attempt(*, app, ip: str, now: datetime | None = None) -> None:
    """Count one verification for this client; raise RateLimited when it has had its share of the window.

    Runs in its own write transaction, committed at once. On PostgreSQL a transaction-scoped advisory lock
    per client serialises concurrent requests of one client (SQLite's BEGIN IMMEDIATE already does).
    Expired rows of every client are pruned on the way.
    """
    cfg = app.config
    now = now or utcnow()
    since = now - cfg["VERIFY_WINDOW"]
    key = client_key(ip, cfg["SECRET_KEY"])
    with write_session(app) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "verify:" + key})
        session.execute(delete(VerifyAttempt).where(VerifyAttempt.at < since))
        used = session.exec(select(func.count()).select_from(VerifyAttempt).where(
            VerifyAttempt.client == key, VerifyAttempt.at >= since)).one()
        allowed = used < cfg["VERIFY_MAX_PER_WINDOW"]
        if allowed:
            session.add(VerifyAttempt(client=key, at=now))
    if not allowed:
        minutes = max(1, int(cfg["VERIFY_WINDOW"].total_seconds() // 60))
        log.info("public verification refused by the rate limit: client %s, %d in %d min", key[:12], used, minutes)
        raise RateLimited(f"Bạn đã tra cứu quá nhiều lần ({cfg['VERIFY_MAX_PER_WINDOW']} lần trong {minutes} phút). "
                          f"Vui lòng đợi {minutes} phút rồi thử lại.")


# --- Lookup by code --------------------------------------------------------------------------------------


@dataclass
class CodeReport:
    """What the code lookup shows: a status and nothing personal."""

    code: str  # as normalised ("" when the text is no code at all)
    state: str  # valid | revoked | superseded | unreleased | unknown
    label: str
    school_name: str = ""
    year_name: str = ""
    class_name: str = ""
    version: int | None = None
    released_on: str = ""  # dd/mm/yyyy, Vietnam time
    revoked_on: str = ""
    newer_version: int | None = None

    @property
    def found(self) -> bool:
        return self.state != "unknown"


def _vn_date(moment: datetime | None) -> str:
    moment = utc(moment)
    return moment.astimezone(VN).strftime("%d/%m/%Y") if moment else ""


def lookup_code(session: Session, code: str) -> CodeReport:
    """The status of the version printed with this code, with the school, year, class and version only."""
    normalized = transcripts.normalize_code(code)
    found = transcripts.status_for_code(session, normalized)
    row = found.transcript
    if row is None:
        return CodeReport(normalized, "unknown", found.label)
    return CodeReport(normalized, found.state, found.label, school_name=found.school_name,
                      year_name=found.year_name, class_name=found.class_name, version=row.version,
                      released_on=_vn_date(row.released_at), revoked_on=_vn_date(row.revoked_at),
                      newer_version=found.newer_version)


# --- Upload ----------------------------------------------------------------------------------------------


def read_pdf_upload(storage) -> bytes:
    """The uploaded file's bytes when it is a PDF of at most MAX_PDF_BYTES; BadUpload otherwise."""
    if storage is None or not storage.filename:
        raise BadUpload("Chọn tệp học bạ PDF cần kiểm tra.")
    data = storage.stream.read(MAX_PDF_BYTES + 1)
    if len(data) > MAX_PDF_BYTES:
        raise BadUpload(f"Tệp lớn hơn {MAX_PDF_BYTES // (1024 * 1024)} MB: đây không phải một tệp học bạ.")
    if not data:
        raise BadUpload("Tệp rỗng: hãy chọn lại tệp học bạ PDF.")
    if not data.startswith(PDF_MAGIC):
        raise BadUpload("Tệp không phải PDF hợp lệ: hãy chọn tệp học bạ PDF mà nhà trường đã cấp.")
    _require_readable(data)
    return data


def _require_readable(data: bytes) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        PdfFileReader(io.BytesIO(data)).xrefs.total_revisions  # noqa: B018 - parse the cross-references
    except Exception:  # a damaged file can fail anywhere in the parser
        raise BadUpload("Tệp không phải PDF hợp lệ hoặc đã bị hỏng, không đọc được.") from None


# --- Verification of a PDF -------------------------------------------------------------------------------


@dataclass
class SignatureLine:
    """One signature found in the file, as the report shows it."""

    index: int  # 1.. in signing order
    signer_name: str
    personal_id: str
    role: str | None  # key of SIGNER_ROLES; None when the signer is not in the transcript's list
    role_label: str
    signed_at: str  # Vietnam time
    intact: bool
    valid: bool
    trusted: bool
    docmdp_ok: bool
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.docmdp_ok


@dataclass
class ChainCheck:
    """The signatures against the signer list of the embedded data, in the legal order."""

    expected: int = 0
    found: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.expected > 0 and not self.missing and not self.extra

    @property
    def in_order(self) -> bool:
        return not self.disorder

    @property
    def ok(self) -> bool:
        return self.complete and self.in_order


@dataclass
class SealCheck:
    ok: bool
    detail: str


@dataclass
class PdfReport:
    verdict: str  # valid | revoked | invalid
    headline: str
    problems: list[str]
    signatures: list[SignatureLine]
    changed_after_last: bool
    chain: ChainCheck
    seal: SealCheck
    status: CodeReport
    issued_copy: bool  # byte for byte the PDF the school stored for this version
    record: Record | None
    sha256: str

    @property
    def summary(self) -> dict | None:
        return summarize(self.record) if self.record else None


def _signer_label(signer: Signer) -> str:
    return rules.signer_label({"role": signer.role, "subjects": list(signer.subjects)})


def _who(signer: Signer) -> str:
    return f"{signer.name} ({_signer_label(signer)})"


def check_chain(signatures: list[pades.SignatureCheck], signers: list[Signer]) -> tuple[ChainCheck, list]:
    """Match each signature to a required signer by personal ID (the field name breaks ties) and check that
    they are all there, none more, in the legal order; return the check and each signature's signer."""
    chain = ChainCheck(expected=len(signers), found=len(signatures))
    unmatched = list(signers)
    matched: list[Signer | None] = []
    for sig in signatures:
        same = [s for s in unmatched if sig.personal_id and s.personal_id == sig.personal_id]
        pick = next((s for s in same if s.field_name == sig.field_name), same[0] if same else None)
        matched.append(pick)
        if pick is None:
            chain.extra.append(f"{sig.signer_name or 'không rõ tên'}"
                               f"{f' (số định danh {sig.personal_id})' if sig.personal_id else ''} "
                               "không có trong danh sách người ký của học bạ")
            continue
        unmatched.remove(pick)
        if pick.field_name != sig.field_name:
            chain.disorder.append(f"{_who(pick)} đã ký vào ô chữ ký “{sig.field_name}” không phải của mình")
    chain.missing = [f"Thiếu chữ ký của {_who(s)}" for s in unmatched]
    highest: Signer | None = None
    for signer in matched:
        if signer is None:
            continue
        if highest is not None and signer.stage < highest.stage:
            chain.disorder.append(f"{_who(signer)} ký sau {_who(highest)}: sai thứ tự (giáo viên môn học → "
                                  "giáo viên chủ nhiệm → hiệu trưởng → con dấu số)")
        elif highest is None or signer.stage > highest.stage:
            highest = signer
    return chain, matched


def _embedded_xml(files: dict[str, bytes]) -> bytes | None:
    names = sorted(n for n in files if n.lower().endswith(".xml"))
    preferred = [n for n in names if n.lower().startswith("hocba_")]
    return files[(preferred or names)[0]] if names else None


def _seal(xml: bytes | None, record: Record | None, roots) -> SealCheck:
    if xml is None:
        return SealCheck(False, "Tệp không kèm dữ liệu học bạ (XML).")
    result = xmlfile.verify_xml(xml, trust_roots=roots)
    if not result.ok:
        return SealCheck(False, result.reason)
    if record is not None and result.serial_number != record.hocba.get("matruong"):
        return SealCheck(False, f"Dữ liệu được ký bởi “{result.common_name}”, không phải bởi trường "
                                f"{record.hocba.get('tentruong', '')} ghi trong dữ liệu.")
    return SealCheck(True, f"Dữ liệu đính kèm còn nguyên vẹn, có dấu số của {result.common_name}.")


def _school_copy(session: Session, record: Record | None, pdf: bytes) -> tuple[CodeReport, bool, str, list[str]]:
    """The status of the version the embedded code names, and whether the file is byte for byte the PDF the
    school stored for it: (status, issued copy, SHA-256 of the file, problems)."""
    code = str(record.morong.get("mamaxacthuc", "") or "")[:40] if record else ""
    status = lookup_code(session, code) if code else CodeReport("", "unknown", "Không tìm thấy")
    digest = hashlib.sha256(pdf).hexdigest()
    stored = session.exec(select(Transcript.pdf_sha256).where(
        Transcript.verify_code == status.code)).first() if status.found else None
    issued = stored is not None and hmac.compare_digest(stored, digest)
    problems = []
    if record is not None and not code:
        problems.append("Dữ liệu học bạ đính kèm không có mã tra cứu.")
    elif code and not status.found:
        problems.append(f"Nhà trường không có học bạ nào mang mã tra cứu “{code}” ghi trong tệp.")
    elif status.found and not issued:
        problems.append("Tệp này không phải tệp học bạ nhà trường đã phát hành (nội dung khác bản lưu tại trường).")
    elif status.state == "unreleased":
        problems.append("Học bạ này chưa được phát hành.")
    return status, issued, digest, problems


@dataclass
class DocumentCheck:
    """A transcript PDF checked on its own, without asking any school's database: its signatures and their
    chain, the embedded data and that data's seal. A receiver (portal/delivery/verify.py) needs exactly this."""

    verification: pades.PdfVerification
    xml: bytes | None  # the embedded XML data file
    record: Record | None
    seal: SealCheck
    chain: ChainCheck
    lines: list[SignatureLine]
    changed_after_last: bool
    problems: list[str]  # Vietnamese, one sentence each

    @property
    def ok(self) -> bool:
        return (not self.problems and self.verification.ok and self.chain.ok and self.seal.ok
                and self.record is not None)


def check_document(pdf: bytes, *, roots) -> DocumentCheck:
    """Check a transcript PDF's signatures against the trust roots, their chain and the embedded data's seal."""
    result = pades.validate(pdf, trust_roots=roots)
    problems: list[str] = []
    xml = _embedded_xml(result.embedded_files)
    record = None
    if xml is not None:
        try:
            record = xmlfile.from_xml(xml)
        except xmlfile.XmlFileError as exc:
            problems.append(f"Dữ liệu học bạ đính kèm không đọc được: {exc}")
    seal = _seal(xml, record, roots)
    signed = [s for s in result.signatures if s.kind == "signature"]
    chain, matched = check_chain(signed, record.signers if record else [])
    lines = []
    for index, (sig, signer) in enumerate(zip(signed, matched, strict=True), start=1):
        lines.append(SignatureLine(
            index=index, signer_name=sig.signer_name or "Không rõ", personal_id=sig.personal_id,
            role=signer.role if signer else None,
            role_label=_signer_label(signer) if signer else "Không thuộc danh sách người ký",
            signed_at=local(sig.timestamp_time or sig.signing_time), intact=sig.intact, valid=sig.valid,
            trusted=sig.trusted, docmdp_ok=sig.docmdp_ok, summary=sig.summary))
    changed_after = bool(result.signatures) and not result.signatures[-1].covers_whole_file

    if not result.signatures:
        problems.append(result.reason or "Tệp không có chữ ký số nào.")
    bad = [line for line in lines if not line.ok]
    if bad:
        who = ": " + ", ".join(line.signer_name for line in bad) if len(bad) <= 3 else ""
        problems.append(f"{len(bad)}/{len(lines)} chữ ký không hợp lệ hoặc không được tin cậy{who}.")
    if changed_after:
        problems.append("Tệp đã bị bổ sung hoặc sửa đổi sau chữ ký cuối cùng.")
    if result.added_fields:
        problems.append(f"Ô chữ ký {', '.join(result.added_fields)} được thêm sau chữ ký đầu tiên "
                        "(chỉ được ký vào các ô tạo sẵn).")
    if record is None and xml is None:
        problems.append("Tệp không kèm dữ liệu học bạ (XML): không phải tệp học bạ số của nhà trường.")
    if record is not None:
        problems += chain.missing + chain.extra + chain.disorder
    if not seal.ok and xml is not None:
        problems.append("Dấu số của dữ liệu đính kèm: " + seal.detail)
    return DocumentCheck(verification=result, xml=xml, record=record, seal=seal, chain=chain, lines=lines,
                         changed_after_last=changed_after, problems=problems)


def verify_pdf(session: Session, *, pdf: bytes, app) -> PdfReport:
    """Check a transcript PDF: its signatures, their chain, the data's seal and its status at the school."""
    doc = check_document(pdf, roots=checks.trust_roots(app.instance_path))
    record, chain, seal = doc.record, doc.chain, doc.seal
    status, issued, digest, trouble = _school_copy(session, record, pdf)
    problems = doc.problems + trouble

    if status.state in ("revoked", "superseded") and issued:
        verdict = "revoked"
        headline = "Học bạ đã bị thu hồi" + (f", thay thế bởi phiên bản {status.newer_version}"
                                              if status.newer_version else "")
    elif not problems and status.state == "valid" and issued and doc.verification.ok and chain.ok and seal.ok:
        verdict, headline = "valid", "Học bạ hợp lệ"
    else:
        verdict, headline = "invalid", "Không xác nhận được học bạ này"
    return PdfReport(verdict=verdict, headline=headline, problems=problems, signatures=doc.lines,
                     changed_after_last=doc.changed_after_last, chain=chain, seal=seal, status=status,
                     issued_copy=issued, record=record, sha256=digest)


# --- What the report shows of the data -------------------------------------------------------------------


def summarize(record: Record) -> dict:
    """The facts a receiving school or an employer reads: who, where, when, and the year's results."""
    h = record.hocba
    facts = [("Họ và tên", h.get("hovaten", "")), ("Ngày sinh", rules.show_date(h.get("ngaythangnamsinh", ""))),
             ("Giới tính", rules.show_sex(h.get("gioitinh", ""))), ("Trường", h.get("tentruong", "")),
             ("Năm học", h.get("namhoc", "")), ("Lớp", h.get("tenlop", "")),
             ("Mã định danh học bạ", h.get("madinhdanhhocba", "")),
             ("Phiên bản", h.get("phienbanthongtinhocba", ""))]
    if record.regime == "tt22":
        results = [("Kết quả học tập cả năm", rules.show_level(h.get("canam", ""))),
                   ("Kết quả rèn luyện cả năm", rules.show_level(h.get("renluyencanam", ""))),
                   ("Học kì I (học tập / rèn luyện)",
                    f"{rules.show_level(h.get('hocky1', ''))} / {rules.show_level(h.get('renluyenhocky1', ''))}"),
                   ("Học kì II (học tập / rèn luyện)",
                    f"{rules.show_level(h.get('hocky2', ''))} / {rules.show_level(h.get('renluyenhocky2', ''))}"),
                   ("Sau kiểm tra lại / rèn luyện hè",
                    " / ".join(x for x in (rules.show_level(h.get("kqhoctaplai", "")),
                                           rules.show_level(h.get("renluyenlai", ""))) if x)),
                   ("Quyết định cuối năm", h.get("ndungduoclenlop", "")),
                   ("Khen thưởng", h.get("ndungkhenthuong", "")),
                   ("Số buổi nghỉ", rules.show_count(h.get("sobuoinghi", "")))]
        head = ("Môn học", "HK I", "HK II", "Cả năm")
        rows = [row[:4] for row in rules.subject_rows(record)]
    else:
        results = [("Đánh giá tổng hợp", h.get("xeploai", "")),
                   ("Hoàn thành chương trình", rules.completion_text(h)),
                   ("Khen thưởng", h.get("ndungkhenthuong", "")),
                   ("Số buổi nghỉ (có phép / không phép)",
                    f"{rules.show_count(h.get('nghicophep', ''))} / {rules.show_count(h.get('nghikhongphep', ''))}")]
        head = ("Môn học", "Mức đạt được", "Điểm KTĐK")
        rows = [row[:3] for row in rules.subject_rows(record)]
    return {"facts": [(k, v) for k, v in facts if v], "results": [(k, v) for k, v in results if v.strip(" /")],
            "head": head, "rows": rows}
