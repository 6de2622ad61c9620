"""Pre-signing checks of a signer's certificate, and the trust roots they chain to.

Before anything is signed, every key that will sign is checked: the certificate is valid at the signing
time, its key usage allows digitalSignature and nonRepudiation, it chains to one of the configured trust
roots (the demo CA `instance/pki/ca.pem` plus any PEM file an admin put in `instance/pki/trust/`), and
its holder is the person (or the school) who signs: the certificate's serialNumber attribute carries the
12-digit personal ID (the school's Ministry code for the seal). Failures are listed in Vietnamese.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
from datetime import datetime

from asn1crypto import pem, x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

from portal.models import SignerKey
from portal.pki import ca

REQUIRED_USAGE = {"digital_signature", "non_repudiation"}


def run_sync(factory):
    """Run the coroutine made by `factory()` to completion, in a thread when this one already has a loop
    (pyHanko's validators are async; a running loop can be left by a browser test or a worker)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates in a PEM (one or many) or DER blob."""
    if pem.detect(data):
        return [x509.Certificate.load(der) for _type, _headers, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


def trust_roots(instance_path: str) -> list[x509.Certificate]:
    """The configured trust roots: the demo CA and every certificate in instance/pki/trust/*.pem|*.crt|*.cer."""
    roots = []
    demo = ca.read_ca(instance_path)
    if demo is not None:
        roots.append(demo)
    for path in sorted(glob.glob(os.path.join(ca.pki_dir(instance_path), "trust", "*"))):
        if path.lower().endswith((".pem", ".crt", ".cer", ".der")):
            with open(path, "rb") as f:
                roots.extend(load_certificates(f.read()))
    return roots


def holder_id(cert: x509.Certificate) -> str | None:
    """The serialNumber attribute of the subject: the holder's personal ID (or the school's code)."""
    return cert.subject.native.get("serial_number")


def check_certificate(cert: x509.Certificate, *, roots: list[x509.Certificate], at: datetime,
                      expected_id: str, holder_label: str) -> list[str]:
    """Return the problems that forbid signing with this certificate now (empty when it may sign)."""
    problems = []
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if at < not_before:
        problems.append(f"Chứng thư số của {holder_label} chưa có hiệu lực (từ {not_before:%d/%m/%Y}).")
    if at > not_after:
        problems.append(f"Chứng thư số của {holder_label} đã hết hạn ngày {not_after:%d/%m/%Y}.")
    usage = cert.key_usage_value.native if cert.key_usage_value else set()
    missing = REQUIRED_USAGE - set(usage or ())
    if missing:
        names = {"digital_signature": "ký số (digitalSignature)", "non_repudiation": "chống chối bỏ (nonRepudiation)"}
        problems.append(f"Chứng thư số của {holder_label} không cho phép "
                        + ", ".join(names[m] for m in sorted(missing)) + ".")
    found = holder_id(cert)
    if found != expected_id:
        problems.append(f"Chứng thư số không đứng tên {holder_label}: số định danh trên chứng thư là "
                        f"“{found or 'không có'}”, trên hồ sơ là “{expected_id or 'không có'}”.")
    if not roots:
        problems.append("Chưa cấu hình chứng thư gốc tin cậy (instance/pki/ca.pem).")
    elif at >= not_before and at <= not_after:
        error = _chain_error(cert.dump(), tuple(r.dump() for r in roots), at)
        if error:
            problems.append(f"Chứng thư số của {holder_label} không chuỗi về chứng thư gốc tin cậy ({error}).")
    return problems


_CHAINS: dict[tuple, str | None] = {}


def _chain_error(cert_der: bytes, root_ders: tuple[bytes, ...], at: datetime) -> str | None:
    """Why the certificate does not chain to the roots at `at` (None: it does). Remembered for the rest of that
    day (the certificate's own dates are checked at every call): a batch signs hundreds of transcripts with
    the same few certificates."""
    key = (cert_der, root_ders, at.date())
    if key not in _CHAINS:
        if len(_CHAINS) > 512:
            _CHAINS.clear()
        context = ValidationContext(trust_roots=[x509.Certificate.load(r) for r in root_ders],
                                    allow_fetching=False, moment=at, revocation_mode="soft-fail")
        validator = CertificateValidator(x509.Certificate.load(cert_der), validation_context=context)
        try:
            run_sync(lambda: validator.async_validate_usage(set()))
            _CHAINS[key] = None
        except (PathBuildingError, PathValidationError) as exc:
            return str(exc)  # not remembered: a root may be added to the trust store meanwhile
    return _CHAINS[key]


def check_key(key: SignerKey | None, *, roots: list[x509.Certificate], at: datetime, expected_id: str,
              holder_label: str) -> list[str]:
    if key is None:
        return [f"{holder_label} chưa có khóa ký số (quản trị viên cần cấp hoặc nhập chứng thư số)."]
    return check_certificate(x509.Certificate.load(key.certificate), roots=roots, at=at, expected_id=expected_id,
                             holder_label=holder_label)
