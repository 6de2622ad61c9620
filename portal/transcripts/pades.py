"""The PAdES signature chain of a transcript PDF and its validation (pyHanko over PKCS#11).

DocMDP / field-lock design
--------------------------
A transcript needs its signatures in a legal order (subject teachers → homeroom teacher → principal → school
seal) and nothing may change once the school has sealed it. Each signature is one incremental update, so
every signer signs everything signed before them.

1. `prepare` adds one empty, invisible signature field per required signer, in signing order, to the freshly
   rendered (unsigned) PDF in one incremental update. Every field exists before the first signature, so no
   later revision ever needs to add a field: `validate` reports any field added after the first signature.
2. The last field (the school seal) is created with a field lock (``/Lock``: ``/Action /All``, ``/P 1``):
   whoever signs it locks the document. Being part of the certified revision, that lock cannot be removed.
3. The first signature is a certification signature with DocMDP permission P2 (``MDPPerm.FILL_FORMS``):
   afterwards only form filling and the signing of the existing fields are allowed — no change of page
   content, no annotations, no new attachments.
4. The middle signatures are approval signatures, each filling its own pre-created field.
5. The seal signs the locked field: DocMDP P1 (``MDPPerm.NO_CHANGES``) through the field lock, so no
   revision at all may follow it. `sign(..., lock_document=True)` checks that lock (it may add one only
   while nothing is signed: adding it later changes a field the earlier signatures cover, and pyHanko's
   difference analysis rightly rejects that). A prepared lock applies whatever the signer asks.

`validate` runs pyHanko's validation and difference analysis on every signature: a signature is good when
its digest matches (intact), its signature is cryptographically valid, its certificate chains to the given
trust roots (trusted) and the revisions after it stay within the DocMDP policy in force (docmdp_ok). The
file is good when every signature is, the last signature covers the whole file (nothing appended after
it) and no signature field appeared after the first signature (pyHanko's policy tolerates new invisible
signature fields after a certification, meant for document timestamps; ours has no use for them).
Earlier signatures cover the file up to their own revision, which is normal for a chain.

Signatures are PAdES (``ETSI.CAdES.detached``) baseline B-B, or B-T when a timestamp URL is given
(RFC 3161 through pyHanko's HTTPTimeStamper). Keys stay on their PKCS#11 token (`portal.pki.tokens`).

Speed (bench/transcripts_sign.py): a 14-signature chain is 14 sequential incremental updates, each
re-parsing the file and building a CMS object in pure Python (asn1crypto, over half of the time; the token's
RSA operation is ~1 ms). `sign_many` opens each token once and runs the chain in one event loop (~20 % less
than one `sign` call per signature); the space for the CMS object is computed from the certificates instead
of by pyHanko's dry-run signature (with a timestamp pyHanko measures a sample token, requested once per TSA
URL and process). pyHanko's parser reads the hexadecimal ``/Contents`` of each signature byte by byte (~5 ms
per signature per re-read): PDF parsing stays pyHanko's own, unpatched. Validation is
quadratic: pyHanko diffs every later revision against each signed one (105 comparisons for 15 signatures).

pyHanko's synchronous entry points call `asyncio.run`, which fails in a thread whose event loop is running
(a browser test may leave Playwright's loop running): the sync functions here run their coroutine in a
worker thread in that case; `async_sign_many` and `async_validate` are the coroutines themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import io
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime

import pkcs11
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm, SigFieldSpec
from pyhanko.sign.general import SigningError
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from portal.models import SignerKey
from portal.pki import tokens

CERTIFY_PERMISSION = MDPPerm.FILL_FORMS  # P2: after the first signature only the existing fields may be signed
SEAL_PERMISSION = MDPPerm.NO_CHANGES  # P1: nothing at all after the school seal
MD_ALGORITHM = "sha256"
# Bytes of a CMS SignedData beyond its certificates, raw signature and the issuer name (twice): measured
# ~1.3 KB for our attributes (content type, digest, signing time, signing-certificate-v2, algorithm protection).
_CMS_OVERHEAD = 2048
_TIMESTAMPERS: dict = {}

MODIFICATION_LEVELS = {
    "NONE": "không có thay đổi",
    "LTA_UPDATES": "chỉ bổ sung dữ liệu kiểm tra dài hạn",
    "FORM_FILLING": "chỉ ký vào các ô chữ ký có sẵn",
    "ANNOTATIONS": "thêm chú thích",
    "OTHER": "thay đổi nội dung hoặc cấu trúc tài liệu",
}


class PadesError(Exception):
    """A signing problem, with a message for the user (Vietnamese)."""


# --- Signing ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignStep:
    """One signature of the chain: who signs which pre-created field, and how."""

    key: SignerKey
    pin: str
    field_name: str
    reason: str
    location: str
    certify: bool = False  # the first signature: certification, DocMDP P2
    lock_document: bool = False  # the last signature (school seal): DocMDP P1 through the field lock
    timestamp_url: str | None = None  # RFC 3161 TSA: PAdES B-T instead of B-B
    ca_chain: tuple[x509.Certificate, ...] = ()  # certificates to embed next to the signer's


def prepare(pdf: bytes, field_names: Sequence[str], *, lock_last: bool = True) -> bytes:
    """Add one empty invisible signature field per signer (in signing order); lock the last one (the seal)."""
    names = list(field_names)
    if not names:
        raise PadesError("Cần ít nhất một ô chữ ký.")
    if len(set(names)) != len(names) or any(not n or "." in n for n in names):
        raise PadesError("Tên ô chữ ký phải khác nhau, không rỗng và không chứa dấu chấm.")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    existing = {name: value for name, value, _ref in fields.enumerate_sig_fields(writer.prev)}
    if any(value is not None for value in existing.values()):
        raise PadesError("Tệp đã có chữ ký: chỉ tạo ô chữ ký trên tệp vừa kết xuất, chưa ký.")
    if existing.keys() & set(names):
        raise PadesError(f"Tệp đã có ô chữ ký {', '.join(sorted(existing.keys() & set(names)))}.")
    for index, name in enumerate(names):
        last = lock_last and index == len(names) - 1
        fields.append_signature_field(writer, SigFieldSpec(
            sig_field_name=name,
            field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL) if last else None,
            doc_mdp_update_value=SEAL_PERMISSION if last else None))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(pdf: bytes, *, key: SignerKey, pin: str, field_name: str, reason: str, location: str,
         certify: bool = False, lock_document: bool = False, timestamp_url: str | None = None,
         ca_chain: Sequence[x509.Certificate] = ()) -> bytes:
    """Sign the named pre-created field in one incremental update; return the new file."""
    return sign_many(pdf, [SignStep(key=key, pin=pin, field_name=field_name, reason=reason, location=location,
                                    certify=certify, lock_document=lock_document, timestamp_url=timestamp_url,
                                    ca_chain=tuple(ca_chain))])


def sign_many(pdf: bytes, steps: Sequence[SignStep]) -> bytes:
    """Apply consecutive signatures (one incremental update each), opening each token once."""
    return _run(async_sign_many(pdf, steps))


async def async_sign_many(pdf: bytes, steps: Sequence[SignStep]) -> bytes:
    with ExitStack() as stack:
        sessions = {}
        for step in steps:
            where = (step.key.module, step.key.token_label, step.pin)
            if where not in sessions:
                sessions[where] = stack.enter_context(tokens.open_session(*where))
        for step in steps:
            pdf = await _sign_one(pdf, step, sessions[(step.key.module, step.key.token_label, step.pin)])
    return pdf


class _TokenSigner(PKCS11Signer):
    """pyHanko's PKCS#11 signer, without listing the signing certificate twice in the CMS certificate set.

    PKCS11Signer registers `signing_cert` in its registry and the CMS builder adds it again; NSS (poppler's
    pdfsig) then fails to validate the certificate ("Unknown issue with Certificate") when the same person
    signs a second time in the file (a subject teacher who is also the homeroom teacher).
    """

    @property
    def cert_registry(self):
        own = self.signing_cert.dump() if self.signing_cert is not None else None
        return SimpleCertificateStore.from_certs([c for c in super().cert_registry if c.dump() != own])


async def _sign_one(pdf: bytes, step: SignStep, session) -> bytes:
    cert = x509.Certificate.load(step.key.certificate)
    signer = _TokenSigner(session, key_label=step.key.key_label, signing_cert=cert,
                          ca_chain=list(step.ca_chain) or None)
    meta = signers.PdfSignatureMetadata(
        field_name=step.field_name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm=MD_ALGORITHM,
        reason=step.reason, location=step.location, certify=step.certify,
        docmdp_permissions=SEAL_PERMISSION if step.lock_document else CERTIFY_PERMISSION)
    timestamper = _timestamper(step.timestamp_url) if step.timestamp_url else None
    # Without a timestamp the CMS size is known from the certificates: skip pyHanko's dry-run signature.
    reserved = None if timestamper else _reserve(cert, step.ca_chain)
    try:
        try:
            return await _sign_pdf(pdf, step, signers.PdfSigner(meta, signer, timestamper=timestamper), reserved)
        except SigningError:
            if reserved is None:
                raise
            # our estimate was too small (an unusual certificate): let pyHanko measure
            return await _sign_pdf(pdf, step, signers.PdfSigner(meta, signer, timestamper=timestamper), None)
    except SigningError as exc:
        raise PadesError(f"Không ký được ô “{step.field_name}”: {exc}") from exc
    except pkcs11.PKCS11Error as exc:  # e.g. no key or certificate with that label on the token
        raise PadesError(f"Lỗi token “{step.key.token_label}” khi ký ô “{step.field_name}” bằng khóa "
                         f"“{step.key.key_label}”: {exc or type(exc).__name__}") from exc


async def _sign_pdf(pdf: bytes, step: SignStep, pdf_signer: signers.PdfSigner, reserved: int | None) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    found = list(fields.enumerate_sig_fields(writer.prev, with_name=step.field_name))
    if not found:
        raise PadesError(f"Tệp không có ô chữ ký “{step.field_name}”.")
    _name, value, field_ref = found[0]
    if value is not None:
        raise PadesError(f"Ô chữ ký “{step.field_name}” đã được ký.")
    if step.lock_document:
        _ensure_lock(writer, field_ref, step.field_name)
    out = await pdf_signer.async_sign_pdf(writer, existing_fields_only=True, bytes_reserved=reserved)
    return out.getvalue()


def _ensure_lock(writer: IncrementalPdfFileWriter, field_ref: generic.IndirectObject, name: str) -> None:
    """Make sure the field carries a lock with DocMDP P1 (pyHanko signs by it), adding one if nothing is signed yet.

    A lock added after a signature changes a field that signature covers: pyHanko's difference analysis
    rejects that, so a locking field must be prepared as such (`prepare(lock_last=True)`).
    """
    sig_field = field_ref.get_object()
    lock = _value(sig_field, "/Lock")
    if lock is not None:
        if _value(lock, "/P") != SEAL_PERMISSION.value:
            raise PadesError(f"Ô chữ ký “{name}” có khóa nhưng không khóa toàn bộ tài liệu.")
        return
    if any(True for _ in fields.enumerate_sig_fields(writer.prev, filled_status=True)):
        raise PadesError(f"Ô chữ ký “{name}” không được tạo sẵn với khóa tài liệu; thêm khóa lúc này sẽ làm "
                         "hỏng các chữ ký trước.")
    lock = FieldMDPSpec(FieldMDPAction.ALL).as_sig_field_lock()
    lock["/P"] = generic.NumberObject(SEAL_PERMISSION.value)
    sig_field["/Lock"] = writer.add_object(lock)
    writer.mark_update(field_ref)


def _timestamper(url: str):
    """One HTTPTimeStamper per TSA URL and process: pyHanko sizes the CMS object with a sample token that it
    requests once per timestamper and caches (an extra request per signature otherwise)."""
    stamper = _TIMESTAMPERS.get(url)
    if stamper is None:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        stamper = _TIMESTAMPERS.setdefault(url, HTTPTimeStamper(url))
    return stamper


def _reserve(cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> int:
    """Hex digits to reserve for a CMS object without timestamp signed by `cert` embedding `chain`."""
    embedded = {cert.dump(), *(c.dump() for c in chain)}
    raw_signature = max(512, cert.public_key.bit_size // 8 + 16)
    size = sum(map(len, embedded)) + raw_signature + 2 * len(cert.issuer.dump()) + _CMS_OVERHEAD
    return 2 * size


# --- Validation ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignatureCheck:
    """What pyHanko found for one embedded signature."""

    field_name: str
    kind: str  # signature | timestamp (a document timestamp)
    signer_name: str  # CN of the signer's certificate
    personal_id: str  # serialNumber of its subject (12-digit personal ID; the school's code for the seal)
    signing_time: datetime | None  # as claimed by the signer
    timestamp_time: datetime | None  # from a timestamp token (PAdES B-T) whose TSA is trusted
    timestamp_valid: bool | None  # None: no timestamp token; False: a token that does not match or verify
    intact: bool  # the digest of the signed byte ranges matches
    valid: bool  # the signature is cryptographically valid
    trusted: bool  # the certificate chains to the trust roots (and has the required key usage)
    docmdp_ok: bool  # the revisions after it stay within the modification policy in force
    certification: bool  # a certification (author) signature
    docmdp: int | None  # DocMDP permission this signature sets (P1–P3), by certification or field lock
    revision: int  # the revision it signs (0 = the file as rendered)
    covers_whole_file: bool
    coverage: str  # pyHanko's SignatureCoverageLevel name
    modification_level: str | None  # pyHanko's ModificationLevel name for the revisions after it
    summary: str  # Vietnamese
    error: str | None = None  # why it could not be validated at all

    @property
    def ok(self) -> bool:
        return (self.error is None and self.intact and self.valid and self.trusted and self.docmdp_ok
                and self.timestamp_valid is not False)


@dataclasses.dataclass(frozen=True)
class PdfVerification:
    """The verdict on a signed PDF, its signatures in signing order and its attachments."""

    ok: bool
    status: str  # valid | invalid
    reason: str  # Vietnamese
    signatures: list[SignatureCheck] = dataclasses.field(default_factory=list)
    # attachments as the latest revision has them: the signed ones only when `ok` (nothing after the last signature)
    embedded_files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    unsigned_fields: list[str] = dataclasses.field(default_factory=list)
    added_fields: list[str] = dataclasses.field(default_factory=list)  # signature fields added after the 1st signature
    revisions: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def invalid(cls, reason: str, **kwargs) -> PdfVerification:
        return cls(ok=False, status="invalid", reason=reason, problems=[reason], **kwargs)


def validate(pdf: bytes, *, trust_roots: Sequence[x509.Certificate]) -> PdfVerification:
    """Validate every embedded signature against the trust roots (no network); never raise on a bad file."""
    return _run(async_validate(pdf, trust_roots=trust_roots))


async def async_validate(pdf: bytes, *, trust_roots: Sequence[x509.Certificate]) -> PdfVerification:
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        revisions = reader.xrefs.total_revisions
        filled = [name for name, _value, _ref in fields.enumerate_sig_fields(reader, filled_status=True)]
        unsigned = [name for name, _value, _ref in fields.enumerate_sig_fields(reader, filled_status=False)]
        embedded = reader.embedded_signatures
        files = embedded_files(reader)
    except Exception as exc:  # a damaged file can fail anywhere in the parser
        return PdfVerification.invalid(f"Tệp PDF bị hỏng hoặc không đọc được ({_describe(exc)}).")
    if not embedded:
        return PdfVerification.invalid("Tệp không có chữ ký số nào.", embedded_files=files,
                                       unsigned_fields=unsigned, revisions=revisions)
    context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
    checks = [await _check(sig, context, revisions) for sig in embedded]
    problems = [f"{c.field_name}: {c.summary}" for c in checks if not c.ok]
    # pyHanko's policy lets invisible signature fields be created after a certification (for timestamps);
    # ours does not: every field is created before the first signature.
    try:
        first = reader.get_historical_resolver(embedded[0].signed_revision)
        at_first = {name for name, _value, _ref in fields.enumerate_sig_fields(first)}
    except Exception as exc:  # a damaged historical revision
        return PdfVerification.invalid(f"Tệp PDF bị hỏng hoặc không đọc được ({_describe(exc)}).",
                                       signatures=checks, embedded_files=files, revisions=revisions)
    added = [name for name in filled + unsigned if name not in at_first]
    if added:
        problems.append(f"Ô chữ ký {', '.join(added)} được thêm sau chữ ký đầu tiên "
                        "(chỉ được ký vào các ô tạo sẵn).")
    if len(filled) != len(embedded):
        problems.append("Có chữ ký thuộc loại không được hỗ trợ nên không kiểm tra được.")
    if not checks[-1].covers_whole_file:
        problems.append("Tệp đã bị bổ sung hoặc sửa đổi sau chữ ký cuối cùng.")
    if problems:
        return PdfVerification(ok=False, status="invalid", reason=" ".join(problems), signatures=checks,
                               embedded_files=files, unsigned_fields=unsigned, added_fields=added,
                               revisions=revisions, problems=problems)
    return PdfVerification(
        ok=True, status="valid", signatures=checks, embedded_files=files, unsigned_fields=unsigned,
        revisions=revisions,
        reason=f"Tệp hợp lệ: {len(checks)} chữ ký đều nguyên vẹn, đúng và được tin cậy; "
               "không có thay đổi nào sau chữ ký cuối cùng.")


async def _check(sig, context: ValidationContext, revisions: int) -> SignatureCheck:
    name = sig.field_name
    timestamp = sig.sig_object_type == "/DocTimeStamp"
    try:
        cert = sig.signer_cert
        subject = cert.subject.native
        signer_name, personal_id = subject.get("common_name", ""), subject.get("serial_number", "")
    except Exception:  # noqa: BLE001 - a CMS without the signer's certificate
        signer_name = personal_id = ""
    base = {"field_name": name, "kind": "timestamp" if timestamp else "signature", "signer_name": signer_name,
            "personal_id": personal_id, "revision": sig.signed_revision}
    try:
        if timestamp:
            status = await async_validate_pdf_timestamp(sig, context)
        else:
            status = await async_validate_pdf_signature(sig, context)
        certification = _is_certification(sig.sig_object)
        docmdp = sig.docmdp_level
    except Exception as exc:  # a malformed signature dictionary or CMS object
        reason = f"không kiểm tra được chữ ký ({_describe(exc)})"
        return SignatureCheck(**base, signing_time=None, timestamp_time=None, timestamp_valid=None, intact=False,
                              valid=False, trusted=False, docmdp_ok=False, certification=False, docmdp=None,
                              covers_whole_file=False, coverage="UNKNOWN", modification_level=None,
                              summary=f"Không hợp lệ: {reason}.", error=reason)
    level = status.modification_level
    docmdp_ok = bool(status.docmdp_ok) if not timestamp else level is not None and level != ModificationLevel.OTHER
    coverage = status.coverage
    whole = coverage == SignatureCoverageLevel.ENTIRE_FILE
    if timestamp:
        signing_time, ts_time, ts_valid = status.timestamp, status.timestamp, None
    else:
        ts = status.timestamp_validity
        signing_time = status.signer_reported_dt
        ts_time = ts.timestamp if ts is not None and ts.valid and ts.intact and ts.trusted else None
        ts_valid = None if ts is None else ts.valid and ts.intact
    check = SignatureCheck(
        **base, signing_time=signing_time, timestamp_time=ts_time, timestamp_valid=ts_valid,
        intact=status.intact, valid=status.valid, trusted=status.trusted, docmdp_ok=docmdp_ok,
        certification=certification,
        docmdp=docmdp.value if docmdp is not None else None, covers_whole_file=whole, coverage=coverage.name,
        modification_level=level.name if level is not None else None, summary="")
    return _with_summary(check, revisions)


def _with_summary(check: SignatureCheck, revisions: int) -> SignatureCheck:
    who = check.signer_name or "không rõ người ký"
    if check.covers_whole_file:
        scope = "bao phủ toàn bộ tệp"
    else:
        scope = f"ký phiên bản {check.revision + 1}/{revisions} của tệp"
    problems = []
    if not check.intact:
        problems.append("nội dung được ký đã bị thay đổi (mã băm không khớp)")
    elif not check.valid:
        problems.append("chữ ký số không đúng về mặt mật mã")
    if check.intact and check.valid and not check.trusted:
        problems.append("chứng thư số không thuộc tổ chức chứng thực được tin cậy")
    if not check.docmdp_ok:
        level = MODIFICATION_LEVELS.get(check.modification_level or "OTHER", check.modification_level)
        problems.append(f"tài liệu bị sửa đổi sau khi ký ngoài phạm vi cho phép ({level})")
    if check.timestamp_valid is False:
        problems.append("dấu thời gian kèm chữ ký không hợp lệ")
    kind = "Dấu thời gian" if check.kind == "timestamp" else "Chữ ký"
    if problems:
        summary = f"Không hợp lệ: {kind.lower()} của {who} — {'; '.join(problems)}."
    else:
        after = MODIFICATION_LEVELS.get(check.modification_level or "NONE", "")
        role = " (chữ ký chứng nhận)" if check.certification else ""
        summary = f"{kind} của {who}{role} hợp lệ, được tin cậy; {scope}; sau khi ký: {after}."
        if check.timestamp_time is not None and check.kind == "signature":
            summary += f" Dấu thời gian tin cậy: {check.timestamp_time:%d/%m/%Y %H:%M:%S %Z}."
        elif check.timestamp_valid:
            summary += " Có dấu thời gian nhưng đơn vị cấp dấu thời gian không được tin cậy."
    return dataclasses.replace(check, summary=summary)


def _is_certification(sig_object) -> bool:
    for ref in _value(sig_object, "/Reference", ()):
        if _value(ref.get_object(), "/TransformMethod") == "/DocMDP":
            return True
    return False


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def embedded_files(reader: PdfFileReader) -> dict[str, bytes]:
    """The document's attachments (name → decoded bytes) from the catalog's /EmbeddedFiles name tree."""
    try:
        tree = reader.root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return {}
    files: dict[str, bytes] = {}
    pending, seen = [tree], 0
    while pending and seen < 10_000:  # bounded: a damaged tree must not loop
        node = pending.pop().get_object()
        seen += 1
        pending.extend(_value(node, "/Kids", ()))
        names = list(_value(node, "/Names", ()))
        for key, spec in zip(names[0::2], names[1::2], strict=False):
            spec = spec.get_object()
            name = str(_value(spec, "/UF") or _value(spec, "/F") or key)
            streams = spec["/EF"]
            files[name] = (_value(streams, "/UF") or streams["/F"]).data
    return files


def _value(dictionary, key: str, default=None):
    """dictionary[key] dereferenced (pyHanko's `get` returns indirect references as they are)."""
    try:
        return dictionary[key]
    except KeyError:
        return default


# --- Plumbing ----------------------------------------------------------------------------------------------


def _run(coroutine):
    """Run a coroutine to completion from sync code, even in a thread whose event loop is running."""
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if not running:  # (not inside the except block: errors would carry this RuntimeError as their context)
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
