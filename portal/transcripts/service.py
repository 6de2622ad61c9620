"""Transcripts: prepare (render + seal the XML), sign in the legal order, release, revoke and reissue.

Life of a transcript version (one row of `transcripts`):
- `prepare` (principal, vice principal or office; the class's whole-year period must be locked) builds
  the national record from the database, writes the XML and seals it (XAdES-BES, the school's key),
  renders the PDF with the XML attached, adds one empty signature field per required signer, and stores
  it with one `transcript_signatures` row per signer in the legal order. Preparing again while nobody
  has released it re-renders only when the data changed (and then every signature is asked again).
- `sign_for` applies, as incremental updates, every signature a user owes the transcript whose turn has
  come: subject teachers (any order among them) → homeroom teacher → principal → the school seal (applied
  right after the principal's signature). Certificates are checked first. The PDF is written back with a
  compare-and-swap on its hash, so two signers at once never lose a signature (the loser signs again).
- `release` (principal): every signature present, the whole-year period locked, the data unchanged since
  preparation and the PDF's signatures valid; then the row and the data it came from are frozen (service
  checks and database triggers, migration 0005).
- `revoke` (principal, with the written approval): status "revoked"; a new version (version + 1, same
  madinhdanhhocba, `supersedes_id` = the old one) is prepared from the current data.
Every step appends an audit event in the same transaction.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from asn1crypto import x509
from flask import current_app
from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from portal import audit, clock
from portal.db import new_session, write_session
from portal.delivery import outbox
from portal.errors import Conflict, DomainError, Forbidden, NotFound
from portal.models import (
    SIGNER_ROLES,
    School,
    SchoolClass,
    SchoolYear,
    SignerKey,
    Student,
    StudentPhoto,
    Transcript,
    TranscriptSignature,
    UnlockRequest,
    User,
    utcnow,
)
from portal.periods import service as periods
from portal.pki import tokens
from portal.transcripts import checks, data

VN_DATE = "%d/%m/%Y"
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed from paper
PREPARERS = ("principal", "vice_principal", "office")


class ChecksFailed(DomainError):
    """Pre-signing or pre-release checks failed; `problems` lists each reason in Vietnamese."""

    status = 409

    def __init__(self, title: str, problems: list[str]):
        super().__init__(title + " " + " ".join(problems))
        self.title = title
        self.problems = problems


def new_verify_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"HB-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(text: str) -> str:
    """Accept a code typed with spaces, lower case or without dashes."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    if raw.startswith("HB"):
        raw = raw[2:]
    return f"HB-{raw[:4]}-{raw[4:8]}-{raw[8:12]}" if len(raw) == 12 else ""


def verify_url(code: str, app=None) -> str:
    app = app or current_app
    return app.config["PUBLIC_URL"].rstrip("/") + "/tra-cuu/" + code


def _require(actor, roles: tuple[str, ...], what: str) -> None:
    if not actor.has(*roles):
        raise Forbidden(f"Bạn không có quyền {what}.")


def year_locked(session: Session, klass: SchoolClass, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the class's whole-year period is locked with no unlock grant running; and why not."""
    now = now or clock.now()
    scope = periods.Scope(school_year_id=klass.school_year_id, period="cn", class_id=klass.id,
                          grade_id=klass.grade_id, subject_id=None, student_id=None)
    state = periods.lock_state(session, scope, now)
    if not state.locked:
        return False, (f"Kì “Cả năm” của lớp {klass.name} chưa khóa: Hiệu trưởng khóa kì này trước khi lập, "
                       "ký và phát hành học bạ.")
    grant = session.exec(select(UnlockRequest.id).where(
        UnlockRequest.period_id == state.period.id, UnlockRequest.class_id == klass.id,
        UnlockRequest.status == "granted", UnlockRequest.starts_at <= now, UnlockRequest.ends_at > now)).first()
    if grant:
        return False, f"Lớp {klass.name} đang được mở khóa để sửa dữ liệu cả năm (quyết định số {grant})."
    return True, ""


def latest(session: Session, student_id: int, school_year_id: int) -> Transcript | None:
    return session.exec(select(Transcript).where(Transcript.student_id == student_id,
                                                 Transcript.school_year_id == school_year_id)
                        .order_by(Transcript.version.desc())).first()


def school_key(session: Session) -> SignerKey | None:
    return session.exec(select(SignerKey).where(SignerKey.kind == "school", SignerKey.active)
                        .order_by(SignerKey.id.desc())).first()


def user_key(session: Session, user_id: int) -> SignerKey | None:
    return session.exec(select(SignerKey).where(SignerKey.user_id == user_id, SignerKey.active)
                        .order_by(SignerKey.id.desc())).first()


def identity_of(row: Transcript) -> data.Identity:
    return data.Identity(key=_key_of(row), record_id=row.record_id,
                         version=row.version, verify_code=row.verify_code, issue_date=row.issue_date,
                         issue_place=row.issue_place, created_at=row.prepared_at)


def _key_of(row: Transcript) -> str:
    return data.Record.from_json(row.data_json).hocba[f"key{_table(row)}"]


def _table(row: Transcript) -> str:
    return data.PRIMARY_TABLE if row.regime == "tt27" else data.SECONDARY_TABLE


# --- Prepare ---------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    transcript: Transcript
    rendered: bool  # False when an existing draft was already current


def _render(session: Session, record: data.Record, student: Student, app) -> tuple[bytes, bytes]:
    """Seal the XML with the school's key, render the PDF with it attached, add the signature fields."""
    from portal.transcripts import pades, render, xmlfile

    key = school_key(session)
    if key is None:
        raise ChecksFailed("Chưa thể lập học bạ.", ["Trường chưa có khóa con dấu số (quản trị: flask pki init)."])
    pin = tokens.pin_for(app.instance_path, key.token_label)
    with using_tokens(app, [key]):
        sealed = xmlfile.seal_xml(xmlfile.to_xml(record), key=key, pin=pin)
    photo = session.get(StudentPhoto, student.id)
    code = record.morong["mamaxacthuc"]
    pdf = render.render_pdf(record, photo=photo.data if photo else None, photo_mime=photo.mime if photo else None,
                            verify_url=verify_url(code, app), xml=sealed,
                            xml_name=f"hocba_{record.hocba['madinhdanhhocba']}_v{record.hocba['phienban']}.xml")
    pdf = pades.prepare(pdf, [s.field_name for s in record.signers])
    return sealed, pdf


@contextmanager
def using_tokens(app, keys):
    """Use the keys' tokens. For SoftHSM2 (the default token under instance/): point it at the instance's
    store before its library is first loaded in this process (an RQ worker starts without SOFTHSM2_CONF), and
    hold the store for this process alone: SoftHSM2 rewrites its token file at every login, and a process
    that reads it meanwhile sees an uninitialised token (GeneralError, then UserPinNotInitialized) until it
    exits (measured with three RQ workers signing at once)."""
    folder = tokens.softhsm_dir(app.instance_path)
    if not any(k.module == tokens.SOFTHSM_MODULE for k in keys) or not os.path.exists(
            os.path.join(folder, "softhsm2.conf")):
        yield
        return
    tokens.configure(app.instance_path)
    with open(os.path.join(folder, "portal.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, even if the signing fails
        yield


def prepare(session: Session, *, actor, student_id: int, school_year_id: int, issue_date: date | None = None,
            app=None) -> Prepared:
    """Prepare (or refresh) the draft of a student's transcript for a year; the caller commits."""
    _require(actor, PREPARERS, "lập học bạ")
    app = app or current_app
    student = session.get(Student, student_id)
    year = session.get(SchoolYear, school_year_id)
    if student is None or year is None:
        raise NotFound("Không tìm thấy học sinh hoặc năm học.")
    _enrollment, klass = data.enrollment_for(session, student_id, school_year_id)
    locked, why = year_locked(session, klass)
    if not locked:
        raise ChecksFailed("Chưa thể lập học bạ.", [why])
    current = latest(session, student_id, school_year_id)
    if current is not None and current.status == "released":
        raise Conflict(f"Học bạ năm {year.name} của {student.full_name} đã phát hành (phiên bản {current.version}); "
                       "muốn sửa phải thu hồi theo quyết định bằng văn bản.")
    school = session.exec(select(School)).first()
    now = utcnow()
    if current is not None and current.status == "signing":
        identity = data.Identity(key=_key_of(current), record_id=current.record_id, version=current.version,
                                 verify_code=current.verify_code, issue_date=issue_date or current.issue_date,
                                 issue_place=current.issue_place, created_at=now)
        record = _build(session, student_id, school_year_id, identity)
        old = data.Record.from_json(current.data_json)
        if _comparable(old) == _comparable(record) and (issue_date is None or issue_date == current.issue_date):
            return Prepared(current, False)
        sealed, pdf = _render(session, record, student, app)
        signed_before = [s for s in signatures_of(session, current.id) if s.status == "signed"]
        for row in signatures_of(session, current.id):
            session.delete(row)
        session.flush()
        _fill(session, current, record, sealed, pdf, identity, actor)
        session.add(current)
        _add_signatures(session, current, record)
        audit.record(session, "transcript.reprepared", actor_id=actor.id, object_type="transcript",
                     object_id=current.id, student_id=student_id, school_year_id=school_year_id,
                     class_id=klass.id, note=f"Dữ liệu đã thay đổi; {len(signed_before)} chữ ký cũ phải ký lại.")
        return Prepared(current, True)
    version = current.version + 1 if current is not None else 1
    identity = data.Identity(key=uuid.uuid4().hex, record_id=current.record_id if current else str(uuid.uuid4()),
                             version=version, verify_code=new_verify_code(),
                             issue_date=issue_date or clock.now().date(),
                             issue_place=school.release_place or school.province_name, created_at=now)
    record = _build(session, student_id, school_year_id, identity)
    sealed, pdf = _render(session, record, student, app)
    row = Transcript(student_id=student_id, school_year_id=school_year_id, class_id=klass.id, version=version,
                     record_id=identity.record_id, verify_code=identity.verify_code, regime=record.regime,
                     supersedes_id=current.id if current else None, data_json="", data_sha256="", xml=b"", pdf=b"",
                     pdf_sha256="", issue_date=identity.issue_date, issue_place=identity.issue_place,
                     prepared_by=actor.id, prepared_at=now)
    _fill(session, row, record, sealed, pdf, identity, actor)
    session.add(row)
    session.flush()
    _add_signatures(session, row, record)
    audit.record(session, "transcript.prepared", actor_id=actor.id, object_type="transcript", object_id=row.id,
                 student_id=student_id, school_year_id=school_year_id, class_id=klass.id,
                 after={"version": version, "verify_code": identity.verify_code, "data_sha256": row.data_sha256},
                 note=f"Phiên bản {version}" + (f", thay thế phiên bản {current.version}" if current else ""))
    return Prepared(row, True)


def _build(session, student_id, school_year_id, identity) -> data.Record:
    try:
        return data.build_record(session, student_id=student_id, school_year_id=school_year_id, identity=identity)
    except data.RecordError as exc:
        raise ChecksFailed("Dữ liệu chưa đủ để lập học bạ.", exc.problems) from None


def _comparable(record: data.Record) -> str:
    """The record without the fields that only say when it was made (to tell whether the data changed)."""
    stamp = {"ngaytao", "thoigiancapnhat", "ngaycapnhat"}
    clean = record.as_dict()
    clean["hocba"] = {k: v for k, v in clean["hocba"].items() if k not in stamp}
    for table in ("bangdiem", "quatrinhhoctap"):
        clean[table] = [{k: v for k, v in row.items() if k not in stamp} for row in clean[table]]
    return data.Record(**clean).canonical_json()


def data_fingerprint(record: data.Record) -> str:
    return hashlib.sha256(_comparable(record).encode()).hexdigest()


def _fill(session, row: Transcript, record: data.Record, sealed: bytes, pdf: bytes, identity: data.Identity,
          actor) -> None:
    row.data_json = record.canonical_json()
    row.data_sha256 = data_fingerprint(record)
    row.xml, row.pdf, row.pdf_sha256 = sealed, pdf, hashlib.sha256(pdf).hexdigest()
    row.issue_date, row.prepared_at, row.prepared_by = identity.issue_date, identity.created_at, actor.id


def _add_signatures(session: Session, row: Transcript, record: data.Record) -> None:
    for signer in record.signers:
        session.add(TranscriptSignature(transcript_id=row.id, position=signer.position, stage=signer.stage,
                                        role=signer.role, user_id=signer.user_id, signer_name=signer.name,
                                        subjects=", ".join(signer.subjects)[:500], field_name=signer.field_name))
    session.flush()


def signatures_of(session: Session, transcript_id: int) -> list[TranscriptSignature]:
    return list(session.exec(select(TranscriptSignature).where(TranscriptSignature.transcript_id == transcript_id)
                             .order_by(TranscriptSignature.position)))


# --- Sign ------------------------------------------------------------------------------------------------


def due_signatures(signatures: list[TranscriptSignature], user_id: int) -> list[TranscriptSignature]:
    """The user's pending signatures whose turn has come, in order (all earlier stages complete); a
    principal's signature brings the school seal with it."""
    out: list[TranscriptSignature] = []
    done = {s.position for s in signatures if s.status == "signed"}
    for stage in sorted({s.stage for s in signatures}):
        in_stage = [s for s in signatures if s.stage == stage]
        for s in in_stage:
            if s.status == "pending" and (s.user_id == user_id or (s.role == "school" and out
                                                                   and out[-1].role == "principal")):
                out.append(s)
        if any(s.position not in done and s not in out for s in in_stage):
            break  # a later stage waits for this one
        done.update(s.position for s in in_stage)
    return out


def waiting_for(signatures: list[TranscriptSignature]) -> list[TranscriptSignature]:
    """The pending signatures of the first incomplete stage: whose turn it is."""
    pending = [s for s in signatures if s.status == "pending"]
    if not pending:
        return []
    stage = min(s.stage for s in pending)
    return [s for s in pending if s.stage == stage]


@dataclass
class SignOutcome:
    transcript_id: int
    signed: list[str] = field(default_factory=list)  # signer roles applied


def _step_key(session: Session, school: School, sig: TranscriptSignature) -> tuple[SignerKey | None, str, str]:
    """The key for a signature row, the ID its certificate must carry and the holder's label."""
    from portal.models import TeacherProfile

    if sig.role == "school":
        return school_key(session), school.ministry_code, f"con dấu số của {school.name}"
    profile = session.get(TeacherProfile, sig.user_id)
    return user_key(session, sig.user_id), profile.personal_id if profile else "", sig.signer_name


def sign_for(*, user_id: int, transcript_id: int, app=None, now: datetime | None = None,
             attempts: int = 5) -> SignOutcome:
    """Apply every signature `user_id` owes this transcript now; raise DomainError when none may be applied."""
    from portal.transcripts import pades

    app = app or current_app
    for _ in range(attempts):
        with new_session(write=False, app=app) as session:
            row = session.get(Transcript, transcript_id)
            if row is None:
                raise NotFound("Không tìm thấy học bạ.")
            if row.status != "signing":
                raise Conflict("Học bạ này không còn chờ ký (đã phát hành hoặc thu hồi).")
            signatures = signatures_of(session, transcript_id)
            steps = due_signatures(signatures, user_id)
            if not steps:
                mine = [s for s in signatures if s.user_id == user_id and s.status == "pending"]
                if not mine:
                    raise Conflict("Bạn không còn chữ ký nào phải ký trên học bạ này.")
                names = ", ".join(s.signer_name for s in waiting_for(signatures))
                raise Conflict(f"Chưa đến lượt bạn ký: còn chờ {names} ký trước (thứ tự: giáo viên môn học → "
                               "giáo viên chủ nhiệm → hiệu trưởng → con dấu số).")
            school = session.exec(select(School)).first()
            at = now or clock.now()
            roots = checks.trust_roots(app.instance_path)
            plan, problems = [], []
            for sig in steps:
                key, expected, label = _step_key(session, school, sig)
                problems += checks.check_key(key, roots=roots, at=at, expected_id=expected, holder_label=label)
                plan.append((sig, key))
            if problems:
                raise ChecksFailed("Chưa ký được: kiểm tra trước khi ký không đạt.", problems)
            student = session.get(Student, row.student_id)
            first = not any(s.status == "signed" for s in signatures)
            pdf, old_sha = row.pdf, row.pdf_sha256
            timestamp_url = app.config.get("TIMESTAMP_URL")
            steps = []
            for index, (sig, key) in enumerate(plan):
                reason = ({"subject": f"Giáo viên môn học ({sig.subjects})",
                           "homeroom": "Giáo viên chủ nhiệm", "principal": "Hiệu trưởng xác nhận",
                           "school": "Con dấu số của nhà trường"}[sig.role]
                          + f" ký học bạ của {student.full_name}")
                steps.append(pades.SignStep(
                    key=key, pin=tokens.pin_for(app.instance_path, key.token_label), field_name=sig.field_name,
                    reason=reason[:200], location=row.issue_place, certify=first and index == 0,
                    lock_document=sig.role == "school", timestamp_url=timestamp_url, ca_chain=tuple(roots)))
            with using_tokens(app, [key for _, key in plan]):
                pdf = pades.sign_many(pdf, steps)  # e.g. the principal and the school seal: one token session
            with write_session(app) as session:
                moved = session.execute(
                    update(Transcript).where(Transcript.id == transcript_id, Transcript.pdf_sha256 == old_sha,
                                             Transcript.status == "signing")
                    .values(pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest())).rowcount
                if not moved:
                    continue  # someone else signed meanwhile: read the new PDF and sign again
                signed_at = utcnow()
                for sig, key in plan:
                    session.execute(update(TranscriptSignature).where(TranscriptSignature.id == sig.id).values(
                        status="signed", signed_at=signed_at, signer_key_id=key.id,
                        cert_serial=str(x509.Certificate.load(key.certificate).serial_number)))
                signer = session.get(User, user_id)
                audit.record(session, "transcript.signed", actor_id=user_id, actor_name=signer.full_name if signer
                             else "", object_type="transcript", object_id=transcript_id, student_id=row.student_id,
                             school_year_id=row.school_year_id, class_id=row.class_id,
                             note="; ".join(f"{s.position}. {s.role}: {s.signer_name}" for s, _ in plan))
            return SignOutcome(transcript_id, [s.role for s, _ in plan])
    raise Conflict("Học bạ đang được người khác ký cùng lúc; vui lòng thử lại.")


def pending_for_user(session: Session, user_id: int) -> list[tuple[Transcript, list[TranscriptSignature], bool]]:
    """Transcripts in signing that still need this user's signature: (transcript, its signatures, my turn)."""
    ids = session.exec(select(TranscriptSignature.transcript_id).join(
        Transcript, Transcript.id == TranscriptSignature.transcript_id).where(
        TranscriptSignature.user_id == user_id, TranscriptSignature.status == "pending",
        Transcript.status == "signing").distinct()).all()
    if not ids:
        return []
    # The PDF, XML and record stay unloaded: a signer's queue lists hundreds of transcripts.
    rows = session.exec(select(Transcript).where(Transcript.id.in_(ids)).options(
        defer(Transcript.pdf), defer(Transcript.xml), defer(Transcript.data_json))).all()
    sigs: dict[int, list[TranscriptSignature]] = {i: [] for i in ids}
    for s in session.exec(select(TranscriptSignature).where(TranscriptSignature.transcript_id.in_(ids))
                          .order_by(TranscriptSignature.position)):
        sigs[s.transcript_id].append(s)
    return [(r, sigs[r.id], bool(due_signatures(sigs[r.id], user_id))) for r in rows]


# --- Release and revoke ----------------------------------------------------------------------------------


def _load(session: Session, transcript_id: int) -> Transcript:
    row = session.get(Transcript, transcript_id)
    if row is None:
        raise NotFound("Không tìm thấy học bạ.")
    return row


def release_problems(session: Session, row: Transcript, app=None) -> list[str]:
    """Why this transcript cannot be released now (empty when it can)."""
    from portal.transcripts import pades

    app = app or current_app
    problems = []
    if row.status != "signing":
        return [f"Học bạ đang ở trạng thái “{row.status}”, không thể phát hành."]
    missing = [s for s in signatures_of(session, row.id) if s.status != "signed"]
    if missing:
        problems.append("Còn thiếu chữ ký: " + ", ".join(f"{s.signer_name} ({SIGNER_ROLES[s.role]})"
                                                          for s in missing) + ".")
    klass = session.get(SchoolClass, row.class_id)
    locked, why = year_locked(session, klass)
    if not locked:
        problems.append(why)
    try:
        record = data.build_record(session, student_id=row.student_id, school_year_id=row.school_year_id,
                                   identity=identity_of(row))
        if data_fingerprint(record) != row.data_sha256:
            problems.append("Dữ liệu học bạ trong hệ thống đã thay đổi sau khi lập: cần lập lại và ký lại.")
    except data.RecordError as exc:
        problems += exc.problems
    if not missing:
        report = pades.validate(row.pdf, trust_roots=checks.trust_roots(app.instance_path))
        if not report.ok:
            problems.append("Chữ ký số trên tệp PDF không hợp lệ: " + report.reason)
    return problems


def release(session: Session, *, actor, transcript_id: int, app=None) -> Transcript:
    """Release (phát hành) a fully signed transcript; the caller commits."""
    _require(actor, ("principal",), "phát hành học bạ")
    row = _load(session, transcript_id)
    problems = release_problems(session, row, app)
    if problems:
        raise ChecksFailed("Chưa phát hành được.", problems)
    row.status, row.released_by, row.released_at = "released", actor.id, utcnow()
    session.add(row)
    session.flush()
    outbox.record_release(session, row)
    audit.record(session, "transcript.released", actor_id=actor.id, object_type="transcript", object_id=row.id,
                 student_id=row.student_id, school_year_id=row.school_year_id, class_id=row.class_id,
                 after={"version": row.version, "pdf_sha256": row.pdf_sha256, "place": row.issue_place})
    return row


def revoke(session: Session, *, actor, transcript_id: int, reason: str, minutes_number: str,
           minutes_date: date | None, approver: str, scan: periods.Scan | None = None, app=None) -> Prepared:
    """Revoke (thu hồi) a released transcript on a written decision and prepare its next version."""
    _require(actor, ("principal",), "thu hồi học bạ")
    app = app or current_app
    row = _load(session, transcript_id)
    if row.status != "released":
        raise Conflict("Chỉ thu hồi được học bạ đã phát hành.")
    reason, minutes_number, approver = (reason or "").strip(), (minutes_number or "").strip(), (approver or "").strip()
    problems = []
    if len(reason) < 10:
        problems.append("Nhập lí do thu hồi (ít nhất 10 kí tự).")
    if not minutes_number:
        problems.append("Nhập số quyết định hoặc biên bản thu hồi.")
    if minutes_date is None:
        problems.append("Nhập ngày của quyết định.")
    if not approver:
        problems.append("Nhập người kí quyết định.")
    if problems:
        raise ChecksFailed("Chưa thu hồi được.", problems)
    scan_path = scan_sha = None
    if scan is not None:
        _mime, ext = periods.check_scan(scan)
        scan_sha = hashlib.sha256(scan.data).hexdigest()
        folder = os.path.join(app.instance_path, "approvals")
        os.makedirs(folder, exist_ok=True)
        scan_path = os.path.join("approvals", f"revoke-{row.id}-{scan_sha[:16]}.{ext}")
        with open(os.path.join(app.instance_path, scan_path), "wb") as f:
            f.write(scan.data)
    row.status, row.revoked_by, row.revoked_at = "revoked", actor.id, utcnow()
    row.revoke_reason, row.revoke_minutes_number = reason[:1000], minutes_number[:50]
    row.revoke_minutes_date = minutes_date
    row.revoke_approver, row.revoke_scan_path, row.revoke_scan_sha256 = approver[:150], scan_path, scan_sha
    session.add(row)
    session.flush()
    outbox.record_revocation(session, row)
    audit.record(session, "transcript.revoked", actor_id=actor.id, object_type="transcript", object_id=row.id,
                 student_id=row.student_id, school_year_id=row.school_year_id, class_id=row.class_id,
                 note=f"{reason} — Quyết định số {minutes_number} ngày {minutes_date:%d/%m/%Y}, {approver}")
    try:
        return prepare(session, actor=actor, student_id=row.student_id, school_year_id=row.school_year_id, app=app)
    except ChecksFailed:
        # The next version is prepared once the data is corrected and the year locked again.
        return Prepared(row, False)


# --- Status for verification ----------------------------------------------------------------------------


@dataclass
class CodeStatus:
    state: str  # valid | revoked | superseded | unreleased | unknown
    label: str
    transcript: Transcript | None = None
    newer_version: int | None = None
    school_name: str = ""
    year_name: str = ""
    class_name: str = ""


STATE_LABELS = {"valid": "Có hiệu lực", "revoked": "Đã thu hồi", "superseded": "Đã được thay thế",
                "unreleased": "Chưa phát hành", "unknown": "Không tìm thấy"}


def status_for_code(session: Session, code: str) -> CodeStatus:
    """The status of the transcript version printed with this verification code."""
    code = normalize_code(code)
    row = session.exec(select(Transcript).where(Transcript.verify_code == code)).first() if code else None
    if row is None:
        return CodeStatus("unknown", STATE_LABELS["unknown"])
    newest = session.exec(select(func.max(Transcript.version)).where(
        Transcript.record_id == row.record_id, Transcript.status == "released")).one()
    school = session.exec(select(School)).first()
    year = session.get(SchoolYear, row.school_year_id)
    klass = session.get(SchoolClass, row.class_id)
    base = {"transcript": row, "school_name": school.name, "year_name": year.name, "class_name": klass.name}
    if row.status == "released":
        return CodeStatus("valid", STATE_LABELS["valid"], **base)
    if row.status == "revoked":
        if newest and newest > row.version:
            return CodeStatus("superseded", f"Đã thu hồi, thay thế bởi phiên bản {newest}", newer_version=newest,
                              **base)
        return CodeStatus("revoked", STATE_LABELS["revoked"], **base)
    return CodeStatus("unreleased", STATE_LABELS["unreleased"], **base)
