"""Verify a transcript received from another portal: the signed PDF, its embedded data and the XML sent with it.

`verify_submission` is the receiver's check (POST /api/nhan-hoc-ba) and is meant for anything that takes a
transcript in from outside (a transfer package, too). It trusts only this instance's roots
(`checks.trust_roots`: instance/pki/ca.pem and instance/pki/trust/*), asks no other school, and passes a
submission only when
- every PAdES signature of the PDF is intact, valid, trusted and within the DocMDP policy, nothing follows the
  last one and no signature field was added after the first (`public.service.check_document`);
- the signers are exactly those the embedded data lists, in the legal order;
- the embedded XML carries an intact XAdES seal by the school it names;
- the XML sent beside the PDF is byte for byte the embedded one (so what is stored is what was signed).
"""

from __future__ import annotations

from sqlmodel import Session

from portal.public import service as public
from portal.transcripts import checks, xmlfile
from portal.transcripts.data import Record


def verify_submission(session: Session | None, *, xml: bytes, pdf: bytes, app) -> tuple[bool, list[str],
                                                                                         Record | None]:
    """Check a received PDF and XML; return (ok, the reasons it fails in Vietnamese, the record it carries).

    The session is the receiver's (unused by the checks themselves, which depend on the files and the trust
    roots only); the record is None when the embedded data cannot be read.
    """
    del session
    roots = checks.trust_roots(app.instance_path)
    doc = public.check_document(pdf, roots=roots)
    reasons = list(doc.problems)
    if not doc.verification.ok and not reasons:
        reasons.append(doc.verification.reason)
    if doc.xml is not None and xml != doc.xml:
        reasons.append("Tệp XML gửi kèm khác dữ liệu XML đính kèm trong tệp PDF đã ký.")
        sent = xmlfile.verify_xml(xml, trust_roots=roots) if xml else None
        if sent is None:
            reasons.append("Không có tệp XML gửi kèm.")
        elif not sent.ok:
            reasons.append("Dấu số của tệp XML gửi kèm không hợp lệ: " + sent.reason)
    ok = not reasons and doc.ok
    if not ok and not reasons:  # never refuse (or accept) without saying why
        reasons.append(doc.verification.reason or "Không xác minh được tệp học bạ.")
    return ok, reasons, doc.record
