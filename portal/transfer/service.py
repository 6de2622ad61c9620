"""Transfer of a student between schools (chuyển trường): the package one school exports and another imports.

Export (`export_package`): every released or revoked transcript version of the student, PDF and sealed XML
exactly as stored, the profile as ``student.json`` and ``manifest.json`` with each file's SHA-256 (see
rules.py for the shape); the export is an audit event.

Import: `read_package` opens the zip only after its directory passed `rules.check_members`; `verify_package`
makes the verification report: the manifest against every file, each PDF through the public verification's
document check (`portal.public.service.check_document`, the part of `verify_pdf` that asks no school's
database: every signature intact, valid and trusted against *this* instance's trust roots, nothing after the
last signature, no field added, the chain of signers complete and in order, the XML seal), the separate XML
byte for byte the one embedded in the PDF, the student of student.json in every transcript, and the
manifest's description of each transcript against its signed data.
`accept_package` (only for a clean report, verified again at that moment) creates or matches the student,
stores the documents unchanged as `TransferredDocument` rows with their report, optionally enrolls the
student in a class of the current year, and audits it. `portal/transcripts/data.py` reads those documents
into the learning history (quatrinhhoctap) of the school's future transcripts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass, field

from asn1crypto import x509
from lxml import etree
from sqlalchemy import func
from sqlmodel import Session, select

from portal import audit
from portal.errors import Conflict, DomainError, NotFound
from portal.models import (
    Enrollment,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    Transcript,
    TransferredDocument,
    utcnow,
)
from portal.periods.read import today_local
from portal.public import service as public
from portal.school import service as school_service
from portal.transcripts import checks
from portal.transfer import rules

TRUST_HELP = ("Nếu đã xác minh với trường gửi rằng đây đúng là tổ chức cấp chứng thư số của họ, quản trị viên "
              "thêm chứng thư gốc (CA) đó vào danh sách tin cậy của trường này: Quản trị → Khóa ký số (nhập "
              "chứng thư kèm chứng thư gốc), hoặc chép tệp chứng thư gốc (.pem) vào thư mục instance/pki/trust/ "
              "trên máy chủ; sau đó tải gói lên kiểm tra lại.")
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"


class PackageRefused(DomainError):
    """The upload is missing, too large or no zip at all."""

    status = 400


# --- Export -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    student: Student
    class_name: str | None
    released: int  # released versions (revoked ones are counted apart)
    revoked: int


def export_candidates(session: Session, *, query: str, limit: int = 100) -> list[Candidate]:
    """Students found by name, code or personal ID, with how many transcript versions a package would carry."""
    rows = school_service.search_students(session, query=query, limit=limit)
    ids = [student.id for student, _ in rows]
    counts: dict[tuple[int, str], int] = {}
    if ids:
        for student_id, status, count in session.exec(
                select(Transcript.student_id, Transcript.status, func.count())
                .where(Transcript.student_id.in_(ids), Transcript.status.in_(rules.STATUSES))
                .group_by(Transcript.student_id, Transcript.status)):
            counts[(student_id, status)] = count
    return [Candidate(student, class_name, counts.get((student.id, "released"), 0),
                      counts.get((student.id, "revoked"), 0)) for student, class_name in rows]


def _json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def export_package(session: Session, *, actor, student_id: int) -> tuple[str, bytes]:
    """Build the student's transfer package (file name, zip bytes) and audit the export; the caller commits."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound("Không tìm thấy học sinh.")
    rows = session.exec(
        select(Transcript, SchoolYear.name, SchoolClass.name)
        .join(SchoolYear, SchoolYear.id == Transcript.school_year_id)
        .join(SchoolClass, SchoolClass.id == Transcript.class_id)
        .where(Transcript.student_id == student_id, Transcript.status.in_(rules.STATUSES))
        .order_by(SchoolYear.start_date, Transcript.version)).all()
    if not any(row.status == "released" for row, _, _ in rows):
        raise Conflict(f"{student.full_name} chưa có học bạ nào đã phát hành: chưa lập được gói hồ sơ chuyển "
                       "trường.")
    school = session.exec(select(School)).first()
    members: list[tuple[str, bytes, int]] = []
    entries = []

    def add(name: str, content: bytes, kind: str, compress: int, **facts) -> None:
        members.append((name, content, compress))
        entries.append({"name": name, "kind": kind, "sha256": hashlib.sha256(content).hexdigest(),
                        "size": len(content), **facts})

    add(rules.STUDENT, _json_bytes(rules.profile_of(student)), "student", zipfile.ZIP_DEFLATED)
    for row, year_name, class_name in rows:
        facts = {"namhoc": year_name, "tenlop": class_name, "phienban": row.version,
                 "madinhdanhhocba": row.record_id, "mamaxacthuc": row.verify_code, "status": row.status}
        add(rules.document_name(student.student_code, year_name, row.version, "pdf"), row.pdf, "pdf",
            zipfile.ZIP_STORED, **facts)
        add(rules.document_name(student.student_code, year_name, row.version, "xml"), row.xml, "xml",
            zipfile.ZIP_DEFLATED, **facts)
    created = utcnow()
    manifest = {"format": rules.FORMAT, "format_version": rules.FORMAT_VERSION,
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "school": {"tentruong": school.name, "matruong": school.ministry_code,
                           "tentinh": school.province_name, "masogd": school.department_code,
                           "tensogd": school.department_name},
                "student": {"hovaten": student.full_name, "mahocsinh": student.student_code,
                            "sodinhdanh": student.personal_id},
                "files": entries}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, compress in [(rules.MANIFEST, _json_bytes(manifest), zipfile.ZIP_DEFLATED), *members]:
            info = zipfile.ZipInfo(name, date_time=created.timetuple()[:6])
            info.compress_type = compress
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    data = buffer.getvalue()
    name = rules.package_name(student.student_code)
    released = sum(1 for row, _, _ in rows if row.status == "released")
    audit.record(session, "export", actor_id=actor.id, object_type="student", object_id=student.id,
                 student_id=student.id,
                 after={"file": name, "sha256": hashlib.sha256(data).hexdigest(),
                        "files": [{"name": e["name"], "sha256": e["sha256"]} for e in entries]},
                 note=f"Xuất gói hồ sơ chuyển trường {name}: {released} học bạ đã phát hành"
                      + (f", {len(rows) - released} phiên bản đã thu hồi" if len(rows) > released else ""))
    return name, data


# --- Reading an uploaded package -------------------------------------------------------------------------------


def read_upload(storage) -> bytes:
    """The uploaded package's bytes (at most MAX_PACKAGE_BYTES); PackageRefused otherwise."""
    if storage is None or not storage.filename:
        raise PackageRefused("Chọn tệp gói hồ sơ chuyển trường (.zip) do trường cũ cung cấp.")
    data = storage.stream.read(rules.MAX_PACKAGE_BYTES + 1)
    if len(data) > rules.MAX_PACKAGE_BYTES:
        raise PackageRefused(f"Tệp lớn hơn {rules.format_size(rules.MAX_PACKAGE_BYTES)}: không phải gói hồ sơ "
                             "chuyển trường.")
    if not data:
        raise PackageRefused("Tệp rỗng: hãy chọn lại gói hồ sơ.")
    return data


def read_package(data: bytes) -> tuple[dict[str, bytes], list[str]]:
    """The members of the zip (name → bytes), read only when its directory is safe; or why it is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError, NotImplementedError):
        return {}, ["Tệp không phải tệp nén ZIP hợp lệ: hãy tải lên đúng gói hocba_<mã học sinh>.zip do trường cũ "
                    "xuất ra."]
    members = [rules.Member(info.orig_filename, info.file_size, bool(info.flag_bits & 0x1), info.is_dir())
               for info in infos]
    problems = rules.check_members(members)
    if problems:
        return {}, problems
    files: dict[str, bytes] = {}
    for info in infos:
        limit = rules.MAX_MEMBER_BYTES[rules.member_kind(info.orig_filename)]
        try:
            with archive.open(info) as member:
                content = member.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError):
            problems.append(f"Tệp “{info.orig_filename}” trong gói bị hỏng, không giải nén được.")
            continue
        if len(content) > limit:  # the directory lied about the size
            problems.append(f"Tệp “{info.orig_filename}” lớn hơn mức cho phép.")
            continue
        files[info.orig_filename] = content
    return (files, []) if not problems else ({}, problems)


# --- The verification report -------------------------------------------------------------------------------------


@dataclass
class Check:
    ok: bool
    text: str  # what holds (✓) or what is wrong (✗), in Vietnamese
    trust: bool = False  # a failure only because the issuing CA is not trusted here


@dataclass
class DocumentReport:
    """One transcript version of the package: its PDF and XML and what was checked about them."""

    entry: rules.Entry  # the PDF's manifest entry
    checks: list[Check] = field(default_factory=list)
    signatures: list = field(default_factory=list)  # public.SignatureLine
    summary: dict | None = None
    pdf: bytes = b""
    xml: bytes = b""
    pdf_sha256: str = ""
    untrusted: bool = False
    issuer: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def problems(self) -> list[str]:
        return [c.text for c in self.checks if not c.ok]

    @property
    def revoked(self) -> bool:
        return self.entry.status == "revoked"

    def as_json(self) -> dict:
        """What is kept with the stored document: the checks and each signature's verdict."""
        return {"file": self.entry.name, "sha256": self.pdf_sha256, "namhoc": self.entry.namhoc,
                "phienban": self.entry.phienban, "status": self.entry.status, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks],
                "signatures": [{"signer": s.signer_name, "role": s.role_label, "signed_at": s.signed_at,
                                "ok": s.ok} for s in self.signatures]}


@dataclass
class PackageReport:
    sha256: str
    size: int
    checks: list[Check] = field(default_factory=list)  # the package as a whole
    manifest: rules.Manifest | None = None
    profile: dict = field(default_factory=dict)
    documents: list[DocumentReport] = field(default_factory=list)
    existing: Student | None = None
    untrusted_help: str = ""

    @property
    def problems(self) -> list[str]:
        out = [c.text for c in self.checks if not c.ok]
        for doc in self.documents:
            out += [f"{doc.entry.name}: {text}" for text in doc.problems]
        return out

    @property
    def headline(self) -> list[str]:
        """The problems for the verdict box: one line for an untrusted CA rather than one per file."""
        out = [c.text for c in self.checks if not c.ok]
        for doc in self.documents:
            out += [f"{doc.entry.name}: {c.text}" for c in doc.checks
                    if not c.ok and not (c.trust and self.untrusted_help)]
        return out

    @property
    def clean(self) -> bool:
        return bool(self.documents) and not self.problems

    @property
    def size_text(self) -> str:
        return rules.format_size(self.size)

    @property
    def created_text(self) -> str:
        return rules.show_instant(self.manifest.created_at) if self.manifest else ""


def _issuer(xml: bytes) -> str:
    """The name of the CA that issued the certificate of the XML's seal ("" when it cannot be read)."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        node = root.find(f".//{{{XMLDSIG}}}X509Certificate")
        cert = x509.Certificate.load(base64.b64decode("".join(node.text.split())))
        return cert.issuer.native.get("common_name") or cert.issuer.human_friendly
    except Exception:  # noqa: BLE001 - only a courtesy in a message
        return ""


def _hash_check(entry: rules.Entry | None, content: bytes | None, what: str) -> Check:
    if entry is None or content is None:
        return Check(False, f"Thiếu tệp {what}.")
    digest = hashlib.sha256(content).hexdigest()
    if digest != entry.sha256:
        return Check(False, f"Tệp {what} không khớp bản kê: mã băm SHA-256 là {digest[:16]}…, bản kê ghi "
                            f"{entry.sha256[:16]}… — tệp đã bị thay đổi hoặc tráo.")
    if len(content) != entry.size:
        return Check(False, f"Tệp {what} dài {len(content)} byte, bản kê ghi {entry.size} byte.")
    return Check(True, f"Tệp {what} khớp bản kê (SHA-256 {digest[:16]}…, {rules.format_size(len(content))}).")


def _verify_document(*, roots, entry: rules.Entry, files: dict[str, bytes], manifest: rules.Manifest,
                     profile: dict) -> DocumentReport:
    pdf = files.get(entry.name)
    xml_entry = manifest.entry(f"{entry.stem}.xml")
    xml = files.get(xml_entry.name) if xml_entry else None
    doc = DocumentReport(entry=entry, pdf=pdf or b"", xml=xml or b"",
                         pdf_sha256=hashlib.sha256(pdf).hexdigest() if pdf is not None else "")
    doc.checks += [_hash_check(entry, pdf, "PDF"), _hash_check(xml_entry, xml, "XML")]
    if pdf is None:
        return doc
    found = public.check_document(pdf, roots=roots)
    doc.signatures, doc.summary = found.lines, public.summarize(found.record) if found.record else None
    lines = found.lines
    untrusted = [s for s in lines if s.intact and s.valid and not s.trusted]
    broken = [s for s in lines if not s.ok and s not in untrusted]
    failed = len(doc.problems)
    if not lines:
        doc.checks.append(Check(False, found.verification.reason or "Tệp PDF không có chữ ký số nào."))
    if broken:
        names = ", ".join(s.signer_name for s in broken[:3]) + (f" và {len(broken) - 3} người khác"
                                                                if len(broken) > 3 else "")
        why = broken[0].summary.split(" — ", 1)[-1].rstrip(".")
        doc.checks.append(Check(False, f"{len(broken)}/{len(lines)} chữ ký số không hợp lệ ({names}): {why}."))
    if untrusted:
        doc.untrusted = True
        doc.issuer = _issuer(xml or found.xml or b"")
        doc.checks.append(Check(False, f"{len(untrusted)}/{len(lines)} chữ ký số dùng chứng thư do tổ chức "
                                       f"{('“' + doc.issuer + '” ') if doc.issuer else ''}cấp, chưa được tin cậy "
                                       "tại trường này.", trust=True))
    if found.verification.added_fields:
        doc.checks.append(Check(False, f"Ô chữ ký {', '.join(found.verification.added_fields)} được thêm sau chữ "
                                       "ký đầu tiên (chỉ được ký vào các ô tạo sẵn)."))
    if found.changed_after_last:
        doc.checks.append(Check(False, "Tệp đã bị bổ sung hoặc sửa đổi sau chữ ký cuối cùng."))
    if not found.verification.ok and len(doc.problems) == failed:  # a failure none of the above names
        doc.checks.append(Check(False, found.verification.reason))
    if lines and len(doc.problems) == failed:
        doc.checks.append(Check(True, f"{len(lines)}/{len(lines)} chữ ký số nguyên vẹn, hợp lệ và được tin cậy; "
                                      "không có thay đổi nào sau chữ ký cuối cùng."))
    record = found.record
    if found.chain.ok:
        doc.checks.append(Check(True, f"Đủ {found.chain.expected} chữ ký theo danh sách người ký, đúng thứ tự "
                                      "(giáo viên môn học → giáo viên chủ nhiệm → hiệu trưởng → con dấu số)."))
    elif record is not None:
        doc.checks.append(Check(False, "; ".join(found.chain.missing + found.chain.extra + found.chain.disorder)
                                or "Danh sách người ký trong học bạ trống."))
    if found.seal.ok:
        doc.checks.append(Check(True, found.seal.detail))
    else:
        trust = "không được tin cậy" in found.seal.detail
        if trust:
            doc.untrusted = True
            doc.issuer = doc.issuer or _issuer(xml or found.xml or b"")
        doc.checks.append(Check(False, "Dấu số của dữ liệu học bạ (XML): " + found.seal.detail, trust=trust))
    if xml is not None:
        if found.xml is not None and found.xml == xml:
            doc.checks.append(Check(True, "Tệp XML trùng khớp từng byte với dữ liệu đính kèm trong PDF."))
        else:
            doc.checks.append(Check(False, "Tệp XML khác dữ liệu học bạ đính kèm trong PDF."))
    if record is None:
        doc.checks.append(Check(False, "Không đọc được dữ liệu học bạ đính kèm trong PDF."))
        return doc
    wrong = rules.identity_mismatches(profile, record.hocba)
    if profile and wrong:
        doc.checks.append(Check(False, "Học sinh trong học bạ khác hồ sơ student.json: " + ", ".join(wrong) + "."))
    elif profile:
        doc.checks.append(Check(True, "Học sinh trong học bạ trùng hồ sơ student.json (số định danh, mã học sinh, "
                                      "họ tên, ngày sinh)."))
    lies = rules.manifest_mismatches(entry, record.hocba, manifest.school_code)
    if lies:
        doc.checks.append(Check(False, "Bản kê mô tả sai học bạ: " + "; ".join(lies) + "."))
    else:
        doc.checks.append(Check(True, "Bản kê mô tả đúng học bạ (năm học, lớp, phiên bản, mã định danh, trường)."))
    return doc


def verify_package(session: Session, *, data: bytes, app) -> PackageReport:
    """The verification report of a transfer package against this instance's trust roots and records."""
    report = PackageReport(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    files, refused = read_package(data)
    if refused:
        report.checks += [Check(False, text) for text in refused]
        return report
    report.checks.append(Check(True, f"Gói an toàn: {len(files)} tệp đúng tên, không có thư mục, dung lượng "
                                     "trong giới hạn."))
    value, problem = rules.load_json(files[rules.MANIFEST], rules.MANIFEST)
    manifest, problems = rules.parse_manifest(value) if value is not None else (None, [problem])
    report.manifest = manifest
    if problems or manifest is None:
        report.checks += [Check(False, text) for text in problems]
        return report
    report.checks.append(Check(True, f"Bản kê manifest.json hợp lệ: {manifest.school_name} (mã trường "
                                     f"{manifest.school_code}) lập lúc {rules.show_instant(manifest.created_at)}, "
                                     f"{len(manifest.entries)} tệp."))
    listed = {e.name for e in manifest.entries}
    unlisted = sorted(set(files) - listed - {rules.MANIFEST})
    missing = sorted(listed - set(files))
    for name in unlisted:
        report.checks.append(Check(False, f"Tệp {name} có trong gói nhưng không có trong bản kê."))
    for name in missing:
        report.checks.append(Check(False, f"Bản kê ghi tệp {name} nhưng gói không có tệp này."))
    student_check = _hash_check(manifest.entry(rules.STUDENT), files.get(rules.STUDENT), "student.json")
    report.checks.append(student_check)
    value, problem = rules.load_json(files.get(rules.STUDENT, b""), rules.STUDENT)
    if value is None:
        report.checks.append(Check(False, problem))
    else:
        report.profile, problems = rules.parse_profile(value)
        report.checks += [Check(False, text) for text in problems]
        if not problems:
            report.checks.append(Check(True, "Hồ sơ học sinh (student.json) đủ thông tin bắt buộc."))
    here = session.exec(select(School)).first()
    if here is not None and here.ministry_code == manifest.school_code:
        report.checks.append(Check(False, "Gói này do chính trường này xuất ra: không tiếp nhận lại."))
    if report.profile:
        report.checks += _student_checks(session, report)
    roots = checks.trust_roots(app.instance_path)
    for entry in manifest.entries:
        if entry.kind == "pdf":
            report.documents.append(_verify_document(roots=roots, entry=entry, files=files, manifest=manifest,
                                                     profile=report.profile))
    if not any(not d.revoked for d in report.documents):
        report.checks.append(Check(False, "Gói không có học bạ nào đang có hiệu lực (chỉ có phiên bản đã thu hồi)."))
    untrusted = [d for d in report.documents if d.untrusted]
    if untrusted:
        issuer = next((d.issuer for d in untrusted if d.issuer), "")
        report.checks.append(Check(False, f"Tổ chức cấp chứng thư số của {manifest.school_name}"
                                          f"{(' (' + issuer + ')') if issuer else ''} chưa được tin cậy tại trường "
                                          "này, nên chưa xác nhận được chữ ký trên học bạ."))
        report.untrusted_help = TRUST_HELP
    return report


def _student_checks(session: Session, report: PackageReport) -> list[Check]:
    profile = report.profile
    existing = session.exec(select(Student).where(Student.personal_id == profile["sodinhdanh"])).first()
    report.existing = existing
    if existing is not None:
        wrong = [label for national, label in rules.IDENTITY_FIELDS.items()
                 if rules.nfc(rules.profile_of(existing)[national]) != rules.nfc(str(profile[national]))]
        if wrong:
            return [Check(False, f"Trường đã có học sinh cùng số định danh ({existing.full_name}, mã "
                                 f"{existing.student_code}) nhưng khác {', '.join(wrong)}: kiểm tra lại hồ sơ.")]
        return [Check(True, f"Trường đã có hồ sơ học sinh này (mã {existing.student_code}): học bạ sẽ được gắn vào "
                            "hồ sơ hiện có, hồ sơ giữ nguyên.")]
    taken = session.exec(select(Student).where(Student.student_code == profile["mahocsinh"])).first()
    if taken is not None:
        return [Check(False, f"Mã học sinh {profile['mahocsinh']} đã thuộc về học sinh khác của trường "
                             f"({taken.full_name}).")]
    return [Check(True, "Học sinh chưa có hồ sơ tại trường: hồ sơ mới sẽ được tạo từ student.json.")]


# --- Accepting a clean package -----------------------------------------------------------------------------------


def current_classes(session: Session) -> list[SchoolClass]:
    """The classes of the current year, to place the student in."""
    return session.exec(select(SchoolClass).join(SchoolYear, SchoolYear.id == SchoolClass.school_year_id)
                         .where(SchoolYear.is_current).order_by(SchoolClass.grade_id, SchoolClass.name)).all()


@dataclass
class Accepted:
    student_id: int
    student_name: str
    created: bool
    stored: int
    skipped: int  # documents this student already had
    class_name: str | None


def accept_package(session: Session, *, actor, report: PackageReport, class_id: int | None) -> Accepted:
    """Create (or match) the student, store the documents unchanged and record it; the caller commits."""
    if not report.clean:
        raise Conflict("Gói hồ sơ chưa đạt kiểm tra nên không tiếp nhận: " + " ".join(report.problems[:5]))
    klass = None
    if class_id is not None:
        klass = session.get(SchoolClass, class_id)
        if klass is None or klass.id not in {c.id for c in current_classes(session)}:
            raise Conflict("Chỉ xếp học sinh vào một lớp của năm học hiện tại.")
    manifest = report.manifest
    student = session.exec(select(Student).where(Student.personal_id == report.profile["sodinhdanh"])).first()
    created = student is None
    if created and session.exec(select(Student.id).where(Student.student_code == report.profile["mahocsinh"])).first():
        raise Conflict(f"Mã học sinh {report.profile['mahocsinh']} đã thuộc về học sinh khác của trường.")
    if created:
        student = Student(**rules.student_values(report.profile), status="studying")
        session.add(student)
        session.flush()
    stored = skipped = 0
    for doc in report.documents:
        if session.exec(select(TransferredDocument.id).where(TransferredDocument.student_id == student.id,
                                                             TransferredDocument.pdf_sha256 == doc.pdf_sha256)).first():
            skipped += 1
            continue
        session.add(TransferredDocument(
            student_id=student.id, source_school=manifest.school_name, source_school_code=manifest.school_code,
            school_year=doc.entry.namhoc, class_name=doc.entry.tenlop, version=doc.entry.phienban,
            madinhdanhhocba=doc.entry.madinhdanhhocba, pdf=doc.pdf, pdf_sha256=doc.pdf_sha256, xml=doc.xml,
            report=json.dumps({**doc.as_json(), "package_sha256": report.sha256,
                               "verified_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}, ensure_ascii=False),
            imported_by=actor.id))
        stored += 1
    placed = None
    if klass is not None:
        current = session.exec(select(Enrollment).join(SchoolClass, SchoolClass.id == Enrollment.class_id).where(
            Enrollment.student_id == student.id, SchoolClass.school_year_id == klass.school_year_id,
            Enrollment.left_on.is_(None))).first()
        if current is None:
            last = session.exec(select(func.max(Enrollment.number)).where(Enrollment.class_id == klass.id)).one()
            session.add(Enrollment(student_id=student.id, class_id=klass.id, number=(last or 0) + 1,
                                   joined_on=today_local()))
            placed = klass.name
    session.flush()
    audit.record(session, "import", actor_id=actor.id, object_type="transfer", object_id=student.id,
                 student_id=student.id, class_id=klass.id if placed else None,
                 after={"package_sha256": report.sha256, "source": manifest.school_code, "created": created,
                        "documents": [{"file": d.entry.name, "sha256": d.pdf_sha256} for d in report.documents],
                        **({"profile": report.profile} if created else {})},
                 note=f"Tiếp nhận học sinh {student.full_name} chuyển đến từ {manifest.school_name}: {stored} học bạ"
                      + (f", xếp lớp {placed}" if placed else ""))
    return Accepted(student.id, student.full_name, created, stored, skipped, placed)


# --- Stored documents -------------------------------------------------------------------------------------------


def stored_document(session: Session, document_id: int) -> TransferredDocument:
    row = session.get(TransferredDocument, document_id)
    if row is None:
        raise NotFound("Không tìm thấy học bạ chuyển đến.")
    return row


def record_download(*, row: TransferredDocument, name: str) -> None:
    """Audit a download of a transferred document (its own transaction: a GET writes nothing else)."""
    audit.record_now("export", object_type="transferred_document", object_id=row.id, student_id=row.student_id,
                     note=f"Tải {name} (học bạ chuyển đến từ {row.source_school})")
