#!/usr/bin/env python3
"""Time the PAdES chain of a transcript (portal.transcripts.pades) in a warm process.

    .venv/bin/python bench/transcripts_sign.py --repeat 15

Makes a temporary instance with a SoftHSM2 token holding the demo CA and 15 signer keys (generated on the
token, ~4 s), renders a two-page Vietnamese test page with WeasyPrint (with an XML attachment; not the
real transcript template), warms everything up once, then reports wall and CPU time (median, min, max) of --repeat runs:

- render of the test page (for scale only: the real template renders separately);
- prepare + the full 14-signature chain (12 teachers, the principal, the school seal) in one `sign_many`
  call, and the same chain as 14 separate `sign` calls (one token session and event loop each);
- `validate` of one 15-signature PDF (13 teachers, the principal, the seal).

Targets (issue: transcripts): ≤ 0.4 s per transcript for render + 14 signatures; ≤ 0.3 s per validation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from asn1crypto import x509  # noqa: E402

from portal.models import SignerKey  # noqa: E402
from portal.pki import ca, tokens  # noqa: E402
from portal.transcripts import pades  # noqa: E402

TOKEN = "bench"
SUBJECTS = ["Ngữ văn", "Toán", "Tiếng Anh", "Giáo dục công dân", "Lịch sử và Địa lí", "Khoa học tự nhiên",
            "Công nghệ", "Tin học", "Giáo dục thể chất", "Âm nhạc", "Mĩ thuật", "Hoạt động trải nghiệm",
            "Nội dung giáo dục địa phương"]


def make_token(instance: str, signers: int) -> tuple[str, x509.Certificate, list[SignerKey]]:
    """A token with the CA and `signers` keys + certificates; return (PIN, CA certificate, keys)."""
    tokens.init_softhsm_token(instance, TOKEN)
    pin = tokens.pin_for(instance, TOKEN)
    keys = []
    with tokens.open_session(tokens.SOFTHSM_MODULE, TOKEN, pin, rw=True) as session:
        ca_cert = ca.create_ca(session, "Trường THCS Hoa Lư")
        ca.write_ca(instance, ca_cert)
        # as the service has it (read from instance/pki/ca.pem): a certificate asn1crypto built from values is
        # re-serialised at every dump, ~3 ms per signature that the real path does not pay
        ca_cert = x509.Certificate.load(ca_cert.dump())
        for i in range(1, signers + 1):
            label = f"user-{i}"
            tokens.generate_rsa_key(session, label)
            holder = ca.Holder(f"Giáo viên Số {i}", serial_number=f"03718500{i:04d}",
                               organization="Trường THCS Hoa Lư")
            cert = ca.issue(session, ca_cert, ca.build_csr(session, label, holder))
            tokens.store_certificate(session, label, cert.dump())
            keys.append(SignerKey(module=tokens.SOFTHSM_MODULE, token_label=TOKEN, key_label=label,
                                  certificate=cert.dump()))
    return pin, ca_cert, keys


def render() -> bytes:
    import io

    import weasyprint

    rows = "".join(f"<tr><td>{i + 1}</td><td>{s}</td><td>8.{i % 10}</td><td>7.{(i * 3) % 10}</td>"
                   f"<td>8.{(i * 7) % 10}</td><td>Giáo viên Số {i + 1}</td></tr>" for i, s in enumerate(SUBJECTS))
    html = ("<html style='font-family: Liberation Serif'><head><style>@page { size: A4; margin: 2cm }"
            "td { border: 1px solid #000; padding: 4px }</style></head><body>"
            "<h1>HỌC BẠ SỐ — TRUNG HỌC CƠ SỞ</h1><p>Họ và tên: Nguyễn Thị Hoa · Lớp 6A1 · Năm học 2024-2025</p>"
            f"<table>{rows}</table>"
            "<p style='page-break-before: always'>Nhận xét của giáo viên chủ nhiệm: chăm ngoan, học tốt, tích cực "
            "tham gia các hoạt động tập thể.</p><p>Hiệu trưởng</p></body></html>")
    xml = ("<?xml version='1.0' encoding='UTF-8'?><hocba>" + "<mon>Toán 8.5</mon>" * 200 + "</hocba>").encode()
    return weasyprint.HTML(string=html).write_pdf(
        attachments=[weasyprint.Attachment(file_obj=io.BytesIO(xml), name="hocba.xml")])


def chain_steps(keys: list[SignerKey], pin: str, ca_cert, count: int) -> tuple[list[str], list[pades.SignStep]]:
    names = [f"ChuKy{i:02d}_{'subject' if i < count - 1 else 'principal' if i == count - 1 else 'school'}"
             for i in range(1, count + 1)]
    steps = [pades.SignStep(key=keys[i], pin=pin, field_name=name, reason="Xác nhận học bạ", location="Ninh Bình",
                            certify=i == 0, lock_document=i == count - 1, ca_chain=(ca_cert,))
             for i, name in enumerate(names)]
    return names, steps


def timed(function, repeat: int) -> tuple[tuple[list[float], list[float]], object]:
    """Wall and CPU seconds (this process, all threads: SoftHSM runs in-process) of each run."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return (walls, cpus), result


def line(label: str, times: tuple[list[float], list[float]], target: float | None = None) -> str:
    walls, cpus = times
    median = statistics.median(walls)
    verdict = "" if target is None else f"   target ≤ {target:.2f} s: {'ok' if median <= target else 'OVER'}"
    return (f"  {label:<38} wall median {median:6.3f} s  min {min(walls):6.3f} s  max {max(walls):6.3f} s"
            f"   CPU median {statistics.median(cpus):6.3f} s{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="transcripts-sign-")
    try:
        start = time.perf_counter()
        pin, ca_cert, keys = make_token(folder, 15)
        print(f"token with CA + 15 keys in {time.perf_counter() - start:.1f} s; {os.cpu_count()} CPUs")
        pdf = render()  # warm: imports, fonts
        render_times, pdf = timed(render, args.repeat)
        names14, steps14 = chain_steps(keys, pin, ca_cert, 14)

        def chain_one_call() -> bytes:
            return pades.sign_many(pades.prepare(pdf, names14), steps14)

        def chain_separate_calls() -> bytes:
            signed = pades.prepare(pdf, names14)
            for s in steps14:
                signed = pades.sign(signed, key=s.key, pin=s.pin, field_name=s.field_name, reason=s.reason,
                                    location=s.location, certify=s.certify, lock_document=s.lock_document,
                                    ca_chain=s.ca_chain)
            return signed

        names15, steps15 = chain_steps(keys, pin, ca_cert, 15)
        signed15 = pades.sign_many(pades.prepare(pdf, names15), steps15)
        chain_one_call(), pades.validate(signed15, trust_roots=[ca_cert])  # warm
        one_times, signed14 = timed(chain_one_call, args.repeat)
        separate_times, _ = timed(chain_separate_calls, args.repeat)
        validate_times, report = timed(lambda: pades.validate(signed15, trust_roots=[ca_cert]), args.repeat)
        assert pades.validate(signed14, trust_roots=[ca_cert]).ok and report.ok, report.reason
        assert len(report.signatures) == 15

        print(f"test page: {len(pdf) / 1024:.0f} KiB, 2 pages; signed with 14: {len(signed14) / 1024:.0f} KiB, "
              f"with 15: {len(signed15) / 1024:.0f} KiB; median of {args.repeat}:")
        print(line("render (test page, for scale)", render_times))
        print(line("prepare + 14 signatures (sign_many)", one_times))
        print(line("prepare + 14 signatures (14 × sign)", separate_times))
        totals = tuple([r + s for r, s in zip(a, b, strict=True)] for a, b in zip(render_times, one_times, strict=True))
        print(line("render + prepare + 14 signatures", totals, 0.4))
        print(line("validate, 15 signatures", validate_times, 0.3))
        per_signature = statistics.median(one_times[0]) / 14 * 1000
        print(f"  ≈ {per_signature:.1f} ms per signature in sign_many (wall); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: other processes inflate wall times")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
