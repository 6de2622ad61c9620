"""PKCS#11 tokens and the demo CA on a real SoftHSM2 token (Debian softhsm2): keys never leave the token,
certificates chain to the demo CA, a PDF signed through pyHanko's PKCS#11 signer validates in pyHanko and
in poppler's pdfsig, and a changed byte breaks it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import stat
import subprocess

import pytest
from asn1crypto import x509

from portal.pki import ca, tokens

TOKEN = tokens.DEFAULT_TOKEN
pytestmark = pytest.mark.skipif(not os.path.exists(tokens.SOFTHSM_MODULE), reason="softhsm2 is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    instance = str(tmp_path_factory.mktemp("instance"))
    assert tokens.init_softhsm_token(instance) is True
    pin = tokens.pin_for(instance, TOKEN)
    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pin, rw=True) as session:
        ca_cert = ca.create_ca(session, "Trường THCS Hoa Lư")
        ca.write_ca(instance, ca_cert)
        tokens.generate_rsa_key(session, "user-7")
        request = ca.build_csr(session, "user-7", ca.Holder("Nguyễn Thị Hoa", serial_number="037185000123"))
        cert = ca.issue(session, ca_cert, request)
        tokens.store_certificate(session, "user-7", cert.dump())
    return {"instance": instance, "pin": pin, "ca": ca_cert, "cert": cert}


def in_thread(function, *args):
    """Run pyHanko's sync entry points (they call asyncio.run) off this thread: a browser test may have left
    Playwright's event loop running in this worker process."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def test_token_is_created_once_with_pins_kept_private(pki):
    instance = pki["instance"]
    assert tokens.init_softhsm_token(instance) is False  # found by label: not created again
    mode = stat.S_IMODE(os.stat(tokens.secrets_path(instance)).st_mode)
    assert mode == 0o600
    conf = open(os.path.join(instance, "softhsm", "softhsm2.conf"), encoding="utf-8").read()
    assert os.path.join(instance, "softhsm", "tokens") in conf


def test_keys_are_sensitive_and_never_extractable(pki):
    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pki["pin"]) as session:
        for label in ("user-7", ca.CA_LABEL):
            assert tokens.key_attributes(session, label) == {
                "sensitive": True, "extractable": False, "always_sensitive": True, "never_extractable": True}


def test_a_wrong_pin_or_unknown_token_is_a_clear_error(pki):
    with pytest.raises(tokens.TokenError, match="PIN"), \
            tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, "0000"):
        pass
    with pytest.raises(tokens.TokenError, match="Không tìm thấy token"), \
            tokens.open_session(tokens.SOFTHSM_MODULE, "khong-co", pki["pin"]):
        pass


def test_certificate_names_the_holder_and_chains_to_the_demo_ca(pki):
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    cert: x509.Certificate = pki["cert"]
    assert cert.subject.native["common_name"] == "Nguyễn Thị Hoa"
    assert cert.subject.native["serial_number"] == "037185000123"
    assert cert.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert ca.read_ca(pki["instance"]).dump() == pki["ca"].dump()
    context = ValidationContext(trust_roots=[pki["ca"]], allow_fetching=False)
    path = in_thread(asyncio.run, CertificateValidator(cert, validation_context=context)
                     .async_validate_usage({"non_repudiation"}))
    assert path.leaf.dump() == cert.dump() and path.first.dump() == pki["ca"].dump()
    from pyhanko_certvalidator.errors import PathBuildingError

    with pytest.raises(PathBuildingError):
        in_thread(asyncio.run, CertificateValidator(cert, validation_context=ValidationContext(
            trust_roots=[], allow_fetching=False)).async_validate_usage({"non_repudiation"}))


def test_a_forged_request_is_refused(pki):
    from asn1crypto import csr

    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pki["pin"], rw=True) as session:
        request = ca.build_csr(session, "user-7", ca.Holder("Nguyễn Thị Hoa"))
        info = request["certification_request_info"].copy()
        info["subject"] = x509.Name.build({"common_name": "Kẻ giả mạo"})
        forged = csr.CertificationRequest({"certification_request_info": info,
                                           "signature_algorithm": request["signature_algorithm"],
                                           "signature": request["signature"]})
        with pytest.raises(tokens.TokenError, match="không hợp lệ"):
            ca.issue(session, pki["ca"], forged)


def _signed_pdf(pki) -> bytes:
    import weasyprint
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.pkcs11 import PKCS11Signer

    pdf = weasyprint.HTML(string="<html style='font-family: Liberation Serif'><body><h1>Học bạ số – Nguyễn Thị "
                                 "Hoa</h1></body></html>").write_pdf()
    out = io.BytesIO()
    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pki["pin"]) as session:
        signer = PKCS11Signer(session, cert_label="user-7", key_label="user-7", ca_chain=[pki["ca"]])
        signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                         signers.PdfSignatureMetadata(field_name="GiaoVien1", subfilter=fields.SigSeedSubFilter.PADES),
                         signer=signer, output=out)
    return out.getvalue()


def test_pdf_signed_on_the_token_validates_in_pyhanko_and_pdfsig(pki, tmp_path):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    data = in_thread(_signed_pdf, pki)
    context = ValidationContext(trust_roots=[pki["ca"]], allow_fetching=False)
    status = in_thread(validate_pdf_signature, PdfFileReader(io.BytesIO(data)).embedded_signatures[0], context)
    assert status.bottom_line and status.trusted and status.intact
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "ca", "-t", "CT,C,C", "-i",
                    ca.ca_path(pki["instance"])], check=True)
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(data)
    report = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(signed)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in report and "Certificate is Trusted" in report
    assert "ETSI.CAdES.detached" in report
    # One changed byte inside the signed range: pdfsig reports the signature invalid.
    broken = bytearray(data)
    position = data.index(b"/Type /Catalog") if b"/Type /Catalog" in data else 200
    broken[position + 1] ^= 0x01
    signed.write_bytes(bytes(broken))
    report = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(signed)], capture_output=True, text=True).stdout
    assert "Signature is Valid" not in report


def test_a_forked_child_signs_after_the_parent_used_the_token(pki):
    parent_signature = _sign(pki, b"cha")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must re-initialise the library, then sign
        os.close(read)
        try:
            signature = _sign(pki, b"con")
            os.write(write, b"ok" if len(signature) == 256 else b"bad")
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            os.write(write, repr(exc).encode()[:200])
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 300) == b"ok"
    assert len(parent_signature) == 256 and len(_sign(pki, "cha nữa".encode())) == 256


def _sign(pki, data: bytes) -> bytes:
    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pki["pin"]) as session:
        return tokens.sign_sha256_rsa(session, "user-7", data)
