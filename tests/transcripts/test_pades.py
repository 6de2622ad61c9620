"""The PAdES chain of a transcript PDF on the test's SoftHSM2 token: 12 teachers, the principal and the school
seal sign pre-created fields; pyHanko and poppler's pdfsig (trusting the demo CA through an NSS database)
validate it, and tampering — a flipped byte, a signature or an annotation after the seal, a page changed
between two signatures, a certificate from another CA — is reported."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import x509
from sqlmodel import select

from portal.models import SignerKey
from portal.pki import ca, tokens
from portal.transcripts import pades
from portal.transcripts.data import Signer, principal_of

pytestmark = [
    pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed"),
    pytest.mark.skipif(shutil.which("pdfsig") is None or shutil.which("certutil") is None,
                       reason="poppler-utils / libnss3-tools are not installed"),
]

XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<hocba><hovaten>Nguyễn Thị Hoa</hovaten>'
       '<namhoc>2024-2025</namhoc><ketqua>Được lên lớp</ketqua></hocba>\n').encode()
SUBJECTS = ["Ngữ văn", "Toán", "Tiếng Anh", "Giáo dục công dân", "Lịch sử và Địa lí", "Khoa học tự nhiên",
            "Công nghệ", "Tin học", "Giáo dục thể chất", "Nghệ thuật", "Hoạt động trải nghiệm"]


@pytest.fixture(scope="module")
def unsigned_pdf() -> bytes:
    """A two-page Vietnamese transcript-like page rendered by WeasyPrint, with the XML attached."""
    import weasyprint

    rows = "".join(f"<tr><td>{s}</td><td>8.{i}</td><td>8.{9 - i}</td><td>Đ</td></tr>"
                   for i, s in enumerate(SUBJECTS))
    html = ("<html style='font-family: Liberation Serif'><body><h1>HỌC BẠ SỐ</h1>"
            "<p>Họ và tên: Nguyễn Thị Hoa — Lớp 6A1 — Năm học 2024-2025</p>"
            f"<table>{rows}</table><p style='page-break-before: always'>Nhận xét của giáo viên chủ nhiệm: "
            "Chăm ngoan, học tốt, tích cực tham gia hoạt động tập thể.</p></body></html>")
    return weasyprint.HTML(string=html).write_pdf(
        attachments=[weasyprint.Attachment(file_obj=io.BytesIO(XML), name="hocba.xml")])


@dataclass
class Pki:
    instance: str
    pin: str
    ca: x509.Certificate
    teachers: list[SignerKey]
    principal: SignerKey
    seal: SignerKey


@pytest.fixture
def pki(app, session) -> Pki:
    """The test token's signer keys: 12 distinct teachers, the principal and the school seal."""
    tokens.configure(app.instance_path)
    keys = session.exec(select(SignerKey).where(SignerKey.active).order_by(SignerKey.id)).all()
    principal_user, _profile = principal_of(session)
    principal = next(k for k in keys if k.user_id == principal_user.id)
    seal = next(k for k in keys if k.kind == "school")
    teachers = [k for k in keys if k.kind == "person" and k.user_id != principal_user.id][:12]
    assert len(teachers) == 12
    return Pki(instance=app.instance_path, pin=tokens.pin_for(app.instance_path, seal.token_label),
               ca=ca.read_ca(app.instance_path), teachers=teachers, principal=principal, seal=seal)


def chain_signers(pki: Pki) -> list[tuple[Signer, SignerKey]]:
    """The legal order: 11 subject teachers, the homeroom teacher, the principal, the school seal."""
    out = []
    for position, key in enumerate(pki.teachers, start=1):
        role, stage = ("subject", 1) if position <= 11 else ("homeroom", 2)
        out.append((Signer(position=position, stage=stage, role=role, user_id=key.user_id, name="",
                           personal_id="", subjects=(SUBJECTS[position - 1],) if position <= 11 else ()), key))
    out.append((Signer(position=13, stage=3, role="principal", user_id=pki.principal.user_id, name="",
                       personal_id=""), pki.principal))
    out.append((Signer(position=14, stage=4, role="school", user_id=None, name="", personal_id=""), pki.seal))
    return out


def steps(pki: Pki, signers: list[tuple[Signer, SignerKey]], total: int) -> list[pades.SignStep]:
    return [pades.SignStep(key=key, pin=pki.pin, field_name=signer.field_name, reason="Xác nhận học bạ",
                           location="Ninh Bình", certify=signer.position == 1,
                           lock_document=signer.position == total, ca_chain=(pki.ca,))
            for signer, key in signers]


def field_names(pki: Pki) -> list[str]:
    return [signer.field_name for signer, _key in chain_signers(pki)]


def full_chain(pki: Pki, pdf: bytes) -> bytes:
    """Teachers one call each (as they sign on different days), then principal + seal in one call."""
    all_steps = steps(pki, chain_signers(pki), 14)
    signed = pades.prepare(pdf, field_names(pki))
    for step in all_steps[:12]:
        signed = pades.sign(signed, key=step.key, pin=step.pin, field_name=step.field_name, reason=step.reason,
                            location=step.location, certify=step.certify, ca_chain=step.ca_chain)
    return pades.sign_many(signed, all_steps[12:])


@pytest.fixture
def nss(pki, tmp_path) -> str:
    """An NSS database trusting the demo CA, for pdfsig."""
    folder = tmp_path / "nss"
    folder.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{folder}", "-n", "ca", "-t", "CT,C,C", "-i",
                    ca.ca_path(pki.instance)], check=True, capture_output=True)
    return f"sql:{folder}"


def pdfsig(nssdir: str, data: bytes, tmp_path) -> list[dict[str, str]]:
    """pdfsig's report, one {label: value} per signature."""
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdfsig", "-nssdir", nssdir, str(path)], capture_output=True, text=True).stdout
    report = []
    for block in out.split("Signature #")[1:]:
        entry = {}
        for line in block.splitlines()[1:]:
            label, _, value = line.strip().lstrip("- ").partition(":")
            entry[label.strip()] = value.strip() if value else label.strip()
        report.append(entry)
    return report


def subject(key: SignerKey) -> dict:
    return x509.Certificate.load(key.certificate).subject.native


# --- prepare --------------------------------------------------------------------------------------------


def test_prepare_adds_one_empty_invisible_field_per_signer_and_locks_the_seal(pki, unsigned_pdf):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    names = field_names(pki)
    assert names[0] == "ChuKy01_subject" and names[11] == "ChuKy12_homeroom" and names[-1] == "ChuKy14_school"
    prepared = pades.prepare(unsigned_pdf, names)
    assert prepared.startswith(unsigned_pdf)  # an incremental update of the rendered file
    found = list(enumerate_sig_fields(PdfFileReader(io.BytesIO(prepared))))
    assert [name for name, _value, _ref in found] == names
    for name, value, ref in found:
        sig_field = ref.get_object()
        assert value is None and [float(x) for x in sig_field["/Rect"]] == [0, 0, 0, 0]
        if name == names[-1]:
            assert sig_field["/Lock"]["/P"] == 1 and sig_field["/Lock"]["/Action"] == "/All"
        else:
            assert "/Lock" not in sig_field
    report = pades.validate(prepared, trust_roots=[pki.ca])
    assert not report.ok and report.status == "invalid" and "không có chữ ký" in report.reason
    assert report.unsigned_fields == names and report.embedded_files == {"hocba.xml": XML}
    with pytest.raises(pades.PadesError):
        pades.prepare(unsigned_pdf, ["A", "A"])
    with pytest.raises(pades.PadesError, match="đã có ô chữ ký"):
        pades.prepare(prepared, ["ChuKy01_subject"])


# --- the chain ------------------------------------------------------------------------------------------


def test_fourteen_signatures_validate_in_pyhanko_and_pdfsig(pki, unsigned_pdf, nss, tmp_path):
    signed = full_chain(pki, unsigned_pdf)
    report = pades.validate(signed, trust_roots=[pki.ca])
    assert report.ok and report.status == "valid", report.reason
    assert [c.field_name for c in report.signatures] == field_names(pki)
    assert report.unsigned_fields == [] and report.embedded_files == {"hocba.xml": XML}
    assert report.revisions == 16  # rendered file + fields + 14 signatures
    keys = [key for _signer, key in chain_signers(pki)]
    for index, (check, key) in enumerate(zip(report.signatures, keys, strict=True)):
        assert check.intact and check.valid and check.trusted and check.docmdp_ok, check.summary
        assert check.kind == "signature" and check.error is None and check.signing_time is not None
        assert check.signer_name == subject(key)["common_name"]
        assert check.personal_id == subject(key)["serial_number"]
        assert check.revision == index + 2
        assert check.covers_whole_file == (index == 13)
        assert check.modification_level == ("NONE" if index == 13 else "FORM_FILLING")
        assert check.summary.startswith("Chữ ký của") and "hợp lệ" in check.summary
    assert len(report.signatures[5].personal_id) == 12 and report.signatures[5].personal_id.isdigit()
    first, seal = report.signatures[0], report.signatures[-1]
    assert first.certification and first.docmdp == 2 and "chữ ký chứng nhận" in first.summary
    assert not any(c.certification for c in report.signatures[1:])
    assert seal.docmdp == 1 and "bao phủ toàn bộ tệp" in seal.summary
    assert all(c.docmdp is None for c in report.signatures[1:-1])

    entries = pdfsig(nss, signed, tmp_path)
    assert [e["Signature Field Name"] for e in entries] == field_names(pki)
    for index, entry in enumerate(entries):
        assert entry["Signature Validation"] == "Signature is Valid."
        assert entry["Certificate Validation"] == "Certificate is Trusted."
        assert entry["Signature Type"] == "ETSI.CAdES.detached"
        assert ("Total document signed" in entry) == (index == 13)
        assert ("Not total document signed" in entry) == (index != 13)
    assert entries[-1]["Signer Certificate Common Name"] == subject(pki.seal)["common_name"]


def test_a_flipped_byte_breaks_every_signature_that_covers_it(pki, unsigned_pdf, nss, tmp_path):
    signed = full_chain(pki, unsigned_pdf)
    # In the rendered file (revision 0): inside every signature's signed range.
    broken = bytearray(signed)
    position = signed.index(b"WeasyPrint")
    broken[position] ^= 0x01
    report = pades.validate(bytes(broken), trust_roots=[pki.ca])
    assert not report.ok and report.status == "invalid"
    assert len(report.signatures) == 14 and not any(c.intact for c in report.signatures)
    assert "mã băm không khớp" in report.signatures[0].summary
    assert not any(e["Signature Validation"] == "Signature is Valid." for e in pdfsig(nss, bytes(broken), tmp_path))
    # In the seal's own revision (its signing date): only the seal covers it.
    broken = bytearray(signed)
    date = signed.rindex(b"/M (D")
    position = signed.index(b"Z)", date) - 1  # the last digit of the seconds
    broken[position] ^= 0x01
    report = pades.validate(bytes(broken), trust_roots=[pki.ca])
    assert not report.ok
    assert [c.intact for c in report.signatures] == [True] * 13 + [False]
    entries = pdfsig(nss, bytes(broken), tmp_path)
    assert [e["Signature Validation"] == "Signature is Valid." for e in entries] == [True] * 13 + [False]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_file_is_reported_invalid_not_raised(pki, unsigned_pdf, damage):
    signed = pades.sign(pades.prepare(unsigned_pdf, ["ChuKy01_subject"]), key=pki.teachers[0], pin=pki.pin,
                        field_name="ChuKy01_subject", reason="Xác nhận", location="Ninh Bình", certify=True,
                        lock_document=True)
    data = {"truncated": signed[: len(signed) // 2], "garbage": b"%PDF-1.7\n" + os.urandom(2000),
            "empty": b""}[damage]
    report = pades.validate(data, trust_roots=[pki.ca])
    assert not report.ok and report.status == "invalid" and report.reason


# --- nothing after the seal; nothing but signatures after the certification ------------------------------------


def test_a_signature_in_a_new_field_after_the_seal_is_a_violation(pki, unsigned_pdf):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.pkcs11 import PKCS11Signer

    signed = full_chain(pki, unsigned_pdf)

    async def append_signature() -> bytes:
        with tokens.open_session(pki.seal.module, pki.seal.token_label, pki.pin) as session:
            signer = PKCS11Signer(session, key_label=pki.teachers[0].key_label,
                                  signing_cert=x509.Certificate.load(pki.teachers[0].certificate))
            meta = signers.PdfSignatureMetadata(field_name="ChuKyThem", subfilter=fields.SigSeedSubFilter.PADES)
            out = await signers.PdfSigner(meta, signer, new_field_spec=fields.SigFieldSpec("ChuKyThem")) \
                .async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(signed)))
            return out.getvalue()

    appended = pades._run(append_signature())
    report = pades.validate(appended, trust_roots=[pki.ca])
    assert not report.ok and len(report.signatures) == 15
    extra, seal = report.signatures[-1], report.signatures[-2]
    assert extra.field_name == "ChuKyThem" and extra.covers_whole_file and extra.trusted
    assert seal.field_name == "ChuKy14_school" and not seal.docmdp_ok and not seal.covers_whole_file
    assert "ngoài phạm vi cho phép" in seal.summary
    # pyHanko lets a certification (P2) be followed by a new invisible signature field; our rule does not
    assert report.added_fields == ["ChuKyThem"] and "được thêm sau chữ ký đầu tiên" in report.reason


def test_an_annotation_after_the_seal_is_a_violation(pki, unsigned_pdf):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = full_chain(pki, unsigned_pdf)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    note = writer.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"), generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (50, 50, 80, 80)]),
        generic.pdf_name("/Contents"): generic.pdf_string("Điểm Toán sửa thành 10"),
    }))
    annots = page.get("/Annots")
    if isinstance(annots, generic.ArrayObject):
        annots.append(note)
        writer.update_container(annots)
    page["/Annots"] = annots if annots is not None else generic.ArrayObject([note])
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)

    report = pades.validate(out.getvalue(), trust_roots=[pki.ca])
    assert not report.ok and len(report.signatures) == 14
    seal = report.signatures[-1]
    assert not seal.covers_whole_file and not seal.docmdp_ok
    assert "sau chữ ký cuối cùng" in report.reason


def test_a_page_changed_between_two_signatures_is_detected(pki, unsigned_pdf):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    all_steps = steps(pki, chain_signers(pki), 14)
    signed = pades.sign_many(pades.prepare(unsigned_pdf, field_names(pki)), all_steps[:5])
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    extra = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (Toan: 10) Tj ET"))
    contents = page.raw_get("/Contents")
    page["/Contents"] = generic.ArrayObject([*(contents if isinstance(contents, list) else [contents]), extra])
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)
    signed = pades.sign_many(out.getvalue(), all_steps[5:])  # the others sign without noticing

    report = pades.validate(signed, trust_roots=[pki.ca])
    assert not report.ok
    assert [c.docmdp_ok for c in report.signatures] == [False] * 5 + [True] * 9
    assert all(c.intact and c.valid and c.trusted for c in report.signatures)
    assert report.signatures[0].modification_level == "OTHER"
    assert report.signatures[-1].covers_whole_file
    assert "ChuKy01_subject" in report.reason and "ChuKy06_subject" not in report.reason


# --- trust -----------------------------------------------------------------------------------------------------


def test_a_certificate_from_another_ca_is_untrusted(pki, unsigned_pdf, nss, tmp_path):
    assert tokens.init_softhsm_token(pki.instance, "khac")
    other_pin = tokens.pin_for(pki.instance, "khac")
    with tokens.open_session(tokens.SOFTHSM_MODULE, "khac", other_pin, rw=True) as session:
        other_ca = ca.create_ca(session, "Trường khác")
        tokens.generate_rsa_key(session, "nguoi-la")
        cert = ca.issue(session, other_ca, ca.build_csr(session, "nguoi-la",
                                                        ca.Holder("Người Lạ", serial_number="001099000001")))
        tokens.store_certificate(session, "nguoi-la", cert.dump())
    stranger = SignerKey(kind="person", module=tokens.SOFTHSM_MODULE, token_label="khac", key_label="nguoi-la",
                         certificate=cert.dump())
    names = ["ChuKy01_subject", "ChuKy02_school"]
    signed = pades.sign_many(pades.prepare(unsigned_pdf, names), [
        pades.SignStep(key=pki.teachers[0], pin=pki.pin, field_name=names[0], reason="Xác nhận",
                       location="Ninh Bình", certify=True),
        pades.SignStep(key=stranger, pin=other_pin, field_name=names[1], reason="Xác nhận", location="Hà Nội",
                       lock_document=True),
    ])
    report = pades.validate(signed, trust_roots=[pki.ca])
    assert not report.ok
    own, foreign = report.signatures
    assert own.ok and own.trusted
    assert foreign.intact and foreign.valid and not foreign.trusted and foreign.docmdp_ok
    assert foreign.signer_name == "Người Lạ" and "không thuộc tổ chức chứng thực" in foreign.summary
    entries = pdfsig(nss, signed, tmp_path)
    assert [e["Signature Validation"] for e in entries] == ["Signature is Valid."] * 2
    assert entries[0]["Certificate Validation"] == "Certificate is Trusted."
    assert entries[1]["Certificate Validation"] != "Certificate is Trusted."
    # Trusting the other CA too makes it good.
    assert pades.validate(signed, trust_roots=[pki.ca, other_ca]).ok


# --- signing rules --------------------------------------------------------------------------------------------


def test_fields_are_signed_once_and_the_lock_must_be_prepared(pki, unsigned_pdf):
    key = pki.teachers[0]
    common = {"pin": pki.pin, "reason": "Xác nhận", "location": "Ninh Bình"}
    prepared = pades.prepare(unsigned_pdf, ["A", "B"], lock_last=False)
    signed = pades.sign(prepared, key=key, field_name="A", certify=True, **common)
    with pytest.raises(pades.PadesError, match="đã được ký"):
        pades.sign(signed, key=key, field_name="A", **common)
    with pytest.raises(pades.PadesError, match="không có ô chữ ký"):
        pades.sign(signed, key=key, field_name="C", **common)
    with pytest.raises(pades.PadesError, match="không được tạo sẵn với khóa"):
        pades.sign(signed, key=key, field_name="B", lock_document=True, **common)
    with pytest.raises(tokens.TokenError, match="PIN"):
        pades.sign(signed, key=key, field_name="B", **{**common, "pin": "0000"})
    missing = SignerKey(module=key.module, token_label=key.token_label, key_label="khong-co",
                        certificate=key.certificate)
    with pytest.raises(pades.PadesError, match="khong-co"):
        pades.sign(signed, key=missing, field_name="B", **common)
    # A single signature may certify and lock an unlocked field: nothing is signed before it.
    alone = pades.sign(pades.prepare(unsigned_pdf, ["A"], lock_last=False), key=key, field_name="A",
                       certify=True, lock_document=True, **common)
    report = pades.validate(alone, trust_roots=[pki.ca])
    assert report.ok and report.signatures[0].certification and report.signatures[0].docmdp == 1


def test_sync_api_works_inside_a_running_event_loop(pki, unsigned_pdf):
    async def inside_a_loop():
        signed = pades.sign(pades.prepare(unsigned_pdf, ["A"]), key=pki.seal, pin=pki.pin, field_name="A",
                            reason="Đóng dấu", location="Ninh Bình", certify=True, lock_document=True)
        return pades.validate(signed, trust_roots=[pki.ca])

    # (in a thread of its own: a browser test may have left Playwright's loop running in this worker's thread)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        report = pool.submit(asyncio.run, inside_a_loop()).result()
    assert report.ok and report.signatures[0].signer_name == subject(pki.seal)["common_name"]


def test_b_t_signature_with_a_timestamp_from_a_tsa(pki, unsigned_pdf):
    from asn1crypto import tsp

    tsa_cert, stamper = _test_tsa()
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            requests.append(self.path)
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        signed = pades.sign(pades.prepare(unsigned_pdf, ["A", "B"]), key=pki.teachers[0], pin=pki.pin,
                            field_name="A", reason="Xác nhận", location="Ninh Bình", certify=True, timestamp_url=url)
        signed = pades.sign(signed, key=pki.seal, pin=pki.pin, field_name="B", reason="Đóng dấu",
                            location="Ninh Bình", lock_document=True, timestamp_url=url)
    finally:
        server.shutdown()
        server.server_close()
    assert len(requests) == 3  # one sample token to size the CMS objects (cached per URL), one per signature
    report = pades.validate(signed, trust_roots=[pki.ca, tsa_cert])
    assert report.ok, report.reason
    assert all(c.timestamp_time is not None and c.timestamp_valid for c in report.signatures)
    assert "Dấu thời gian tin cậy" in report.signatures[0].summary
    untrusted_tsa = pades.validate(signed, trust_roots=[pki.ca])  # still B-B valid; the time is not vouched for
    assert untrusted_tsa.ok
    assert all(c.timestamp_time is None and c.timestamp_valid for c in untrusted_tsa.signatures)
    assert "không được tin cậy" in untrusted_tsa.signatures[0].summary
    assert all(c.timestamp_valid is None for c in pades.validate(
        pades.sign(pades.prepare(unsigned_pdf, ["A"]), key=pki.seal, pin=pki.pin, field_name="A", reason="r",
                   location="l", certify=True, lock_document=True), trust_roots=[pki.ca]).signatures)


def _test_tsa():
    """A self-signed software TSA (timeStamping EKU) and pyHanko's in-process timestamper using it."""
    from datetime import UTC, datetime, timedelta

    from asn1crypto import keys
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "TSA thử nghiệm")])
    now = datetime.now(UTC)
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(cx509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(cx509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                          crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    tsa_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tsa_key = keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tsa_cert, DummyTimeStamper(tsa_cert=tsa_cert, tsa_key=tsa_key)
