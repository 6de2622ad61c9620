"""Public verification end to end: real signatures on a SoftHSM2 token, pyHanko and the XAdES seal."""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
from datetime import date

import pytest

from portal.models import Transcript
from portal.public import service as public
from portal.transcripts import service
from tests.public.conftest import principal_actor, sign_and_release


def upload(client, pdf: bytes, name: str = "hocba.pdf", **kwargs):
    return client.post("/tra-cuu", data={"pdf": (io.BytesIO(pdf), name)}, content_type="multipart/form-data",
                       **kwargs)


def student_name(transcript: Transcript) -> str:
    return service.data.Record.from_json(transcript.data_json).hocba["hovaten"]


def test_page_offers_both_ways_without_login(client):
    response = client.get("/tra-cuu")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Kiểm tra tệp học bạ PDF" in page and "Mã tra cứu" in page
    assert 'enctype="multipart/form-data"' in page


def test_released_pdf_is_valid_with_the_whole_chain_in_order(app, client, session, released):
    response = upload(client, released.pdf)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Học bạ hợp lệ" in page and "Có hiệu lực" in page
    assert student_name(released) in page and "6A1" in page
    assert "✗" not in page
    assert "Trùng khớp từng byte" in page

    report = public.verify_pdf(session, pdf=released.pdf, app=app)
    assert report.verdict == "valid", report.problems
    assert report.chain.ok and report.chain.expected == report.chain.found == len(report.signatures)
    assert all(line.intact and line.valid and line.trusted for line in report.signatures)
    assert not report.changed_after_last and report.seal.ok and report.issued_copy
    roles = [line.role for line in report.signatures]
    assert roles[-3:] == ["homeroom", "principal", "school"] and set(roles[:-3]) == {"subject"}
    assert all(line.signed_at for line in report.signatures)
    summary = report.summary
    assert ("Lớp", "6A1") in summary["facts"] and summary["rows"]


def test_report_is_a_fragment_for_htmx(client, released):
    response = upload(client, released.pdf, headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert page.lstrip().startswith('<div id="verify-result"') and "Học bạ hợp lệ" in page


def test_one_flipped_byte_in_a_signed_range_invalidates_every_signature(app, client, session, released):
    pdf = bytearray(released.pdf)
    assert pdf.startswith(b"%PDF-") and pdf[9:10] == b"%"
    pdf[11] ^= 0x01  # the binary comment of the header: inside every signature's first byte range
    report = public.verify_pdf(session, pdf=bytes(pdf), app=app)
    assert report.verdict == "invalid"
    assert report.signatures and not any(line.intact for line in report.signatures)
    assert not report.issued_copy
    page = upload(client, bytes(pdf)).get_data(as_text=True)
    assert "Không xác nhận được học bạ này" in page and "✗ Nội dung đã bị thay đổi" in page
    assert "không phải tệp học bạ nhà trường đã phát hành" in page


def _foreign_signed_pdf(tmp_path) -> bytes:
    """A PDF signed with a throwaway key whose self-made certificate no trust root knows."""
    from datetime import UTC, datetime, timedelta

    import weasyprint
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nguyễn Văn Giả"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, "001099009999")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(tmp_path / "key.pem"), str(tmp_path / "cert.pem"))
    pdf = weasyprint.HTML(string="<h1>HỌC BẠ</h1><p>Nguyễn Văn Giả — Giỏi</p>").write_pdf()
    # pyHanko's sync entry point calls asyncio.run: run it off this thread (a browser test may have left
    # Playwright's event loop running in this worker)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        out = pool.submit(signers.sign_pdf, IncrementalPdfFileWriter(io.BytesIO(pdf)),
                          signers.PdfSignatureMetadata(field_name="ChuKy01_principal"), signer=signer).result()
    return out.getvalue()


def test_a_pdf_signed_by_a_foreign_certificate_is_untrusted(app, client, session, tmp_path):
    pdf = _foreign_signed_pdf(tmp_path)
    report = public.verify_pdf(session, pdf=pdf, app=app)
    assert report.verdict == "invalid"
    [line] = report.signatures
    assert line.intact and line.valid and not line.trusted
    assert line.role is None and line.signer_name == "Nguyễn Văn Giả"
    page = upload(client, pdf).get_data(as_text=True)
    assert "✗ Chứng thư không tin cậy" in page and "Không xác nhận được học bạ này" in page
    assert "không kèm dữ liệu học bạ" in page


def test_a_revoked_version_says_so_and_then_names_its_replacement(app, client, session, released):
    old_pdf, old_code = released.pdf, released.verify_code
    with app.app_context():
        outcome = service.revoke(session, actor=principal_actor(session), transcript_id=released.id,
                                 reason="Sai điểm môn Toán do nhập nhầm.", minutes_number="12/QĐ-THCS",
                                 minutes_date=date(2025, 8, 1), approver="Hiệu trưởng", app=app)
        session.commit()
    page = upload(client, old_pdf).get_data(as_text=True)
    assert "Học bạ đã bị thu hồi" in page and "thay thế" not in page
    assert client.get(f"/tra-cuu/{old_code}").get_data(as_text=True).count("Đã thu hồi") >= 1

    newer = outcome.transcript
    assert newer.version == 2 and newer.status == "signing"
    sign_and_release(app, session, newer.id)
    report = public.verify_pdf(session, pdf=old_pdf, app=app)
    assert report.verdict == "revoked" and report.status.state == "superseded"
    page = upload(client, old_pdf).get_data(as_text=True)
    assert "thay thế bởi phiên bản 2" in page
    assert "thay thế bởi phiên bản 2" in client.get(f"/tra-cuu/{old_code}").get_data(as_text=True)
    session.expire_all()
    assert public.verify_pdf(session, pdf=session.get(Transcript, newer.id).pdf, app=app).verdict == "valid"


def test_code_lookup_shows_the_status_and_nothing_personal(client, session, released):
    record = service.data.Record.from_json(released.data_json)
    response = client.get(f"/tra-cuu/{released.verify_code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Có hiệu lực" in page and "6A1" in page and record.hocba["namhoc"] in page
    assert record.hocba["tentruong"] in page
    for personal in (record.hocba["hovaten"], record.hocba["mahocsinh"], record.hocba["sodinhdanh"],
                     record.hocba["ngaythangnamsinh"], "Kết quả", "Chữ ký số ("):
        assert personal not in page
    typed = released.verify_code.lower().replace("-", " ")
    response = client.post("/tra-cuu/ma", data={"code": typed})
    assert response.status_code == 200 and "Có hiệu lực" in response.get_data(as_text=True)
    assert record.hocba["hovaten"] not in response.get_data(as_text=True)


@pytest.mark.parametrize("code", ["HB-2345-6789-ABCD", "not-a-code", "<script>x</script>"])
def test_unknown_or_malformed_code_is_not_found(client, code):
    response = client.post("/tra-cuu/ma", data={"code": code})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Không tìm thấy" in page and "<script>x" not in page
    assert client.get("/tra-cuu/HB-2345-6789-ABCD").status_code == 404


@pytest.mark.parametrize("content, name, message", [
    (b"Hello, this is not a PDF", "hocba.pdf", "Tệp không phải PDF hợp lệ"),
    (b"%PDF-1.7\n\x00\x01garbage without any structure", "hocba.pdf", "Tệp không phải PDF hợp lệ"),
    (b"", "hocba.pdf", "Tệp rỗng"),
    (b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024), "big.pdf", "lớn hơn 10 MB"),
])
def test_a_bad_upload_gets_a_clear_message(client, content, name, message):
    response = upload(client, content, name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_no_file_at_all(client):
    response = client.post("/tra-cuu", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Chọn tệp học bạ PDF" in response.get_data(as_text=True)


def test_export_writes_every_released_pdf_and_a_manifest_of_their_hashes(app, session, release_student, tmp_path):
    first, second = release_student(0), release_student(1)
    out = tmp_path / "export"
    result = app.test_cli_runner().invoke(args=["transcripts", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Đã xuất 2 học bạ" in result.output
    raw = (out / "manifest.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["verify_code"] for r in rows] and {r["verify_code"] for r in rows} == {first.verify_code,
                                                                                      second.verify_code}
    for row in rows:
        path = out / row["file"]
        assert path.is_file() and row["file"].isascii()
        year, klass, filename = row["file"].split("/")
        assert klass == "6A1" and filename.endswith(f"_v{row['version']}.pdf")
        content = path.read_bytes()
        assert hashlib.sha256(content).hexdigest() == row["sha256"]
        stored = next(t for t in (first, second) if t.verify_code == row["verify_code"])
        assert content == stored.pdf and row["madinhdanhhocba"] == stored.record_id
