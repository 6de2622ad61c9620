"""Export every released transcript PDF into a folder, with a manifest of their hashes.

Layout: ``<namhoc>/<tenlop>/<mahocsinh>_<hovaten without diacritics>_v<version>.pdf`` and ``manifest.csv``
(UTF-8 with a BOM, so that Excel shows Vietnamese as it is) listing each file with its transcript
identifier, version, verification code and SHA-256. The PDFs are read one at a time: a whole school's
year is hundreds of megabytes.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass

from sqlmodel import Session, select

from portal import audit
from portal.models import SchoolClass, SchoolYear, Student, Transcript

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "madinhdanhhocba", "version", "verify_code", "sha256")


@dataclass(frozen=True)
class Exported:
    file: str  # relative to the export folder, with forward slashes
    record_id: str
    version: int
    verify_code: str
    sha256: str
    stored_sha256: str  # what the database recorded when the PDF was written

    @property
    def intact(self) -> bool:
        return self.sha256 == self.stored_sha256


def ascii_part(text: str) -> str:
    """One path component in plain ASCII: diacritics dropped (đ → d), anything else but letters, digits,
    dots and dashes turned into a dash."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.") or "_"


def export_released(session: Session, *, out_dir: str) -> list[Exported]:
    """Write every released transcript's PDF and the manifest under out_dir (reads only: the database stays
    free for writers while files are written)."""
    rows = session.exec(
        select(Transcript.id, Transcript.record_id, Transcript.version, Transcript.verify_code,
               Transcript.pdf_sha256, SchoolYear.name, SchoolClass.name, Student.student_code, Student.full_name)
        .join(SchoolYear, SchoolYear.id == Transcript.school_year_id)
        .join(SchoolClass, SchoolClass.id == Transcript.class_id)
        .join(Student, Student.id == Transcript.student_id)
        .where(Transcript.status == "released")
        .order_by(SchoolYear.start_date, SchoolClass.name, Student.full_name, Transcript.version)).all()
    os.makedirs(out_dir, exist_ok=True)
    done: list[Exported] = []
    for tid, record_id, version, code, stored, year, klass, student_code, name in rows:
        rel = "/".join((ascii_part(year), ascii_part(klass),
                        f"{ascii_part(student_code)}_{ascii_part(name)}_v{version}.pdf"))
        pdf = session.exec(select(Transcript.pdf).where(Transcript.id == tid)).one()
        path = os.path.join(out_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(pdf)
        done.append(Exported(rel, record_id, version, code, hashlib.sha256(pdf).hexdigest(), stored))
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_COLUMNS)
        for item in done:
            writer.writerow((item.file, item.record_id, item.version, item.verify_code, item.sha256))
    return done


def record_export(session: Session, done: list[Exported]) -> None:
    """Append the export to the audit trail (the caller commits)."""
    bad = [item.file for item in done if not item.intact]
    audit.record(session, "export", actor_name="flask transcripts export", object_type="transcript",
                 note=f"Xuất {len(done)} học bạ đã phát hành (PDF và {MANIFEST})"
                      + (f"; {len(bad)} tệp khác mã băm đã lưu: {', '.join(bad)}" if bad else ""))
