"""Transfer end to end between two instances: real signatures on a SoftHSM2 token, pyHanko and the XAdES seal.

The sending school exports a student's package through its screen; a second instance (own folder, own
database, the first one's CA copied into its trust folder) verifies it, takes the student in and keeps the
signed documents byte for byte; its next transcripts list the first school in quatrinhhoctap. Packages that
were tampered with, lie, try to escape the folder, are too large or come from a CA not trusted here are
reported in Vietnamese and refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date

from sqlmodel import select

from portal.models import AuditEvent, Enrollment, School, Student, TransferredDocument
from portal.periods.read import today_local
from portal.transcripts import data, xmlfile
from portal.transfer import rules, service
from tests.transfer.conftest import RECEIVER_CLASS, RECEIVER_SCHOOL


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def members(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def build_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def relisted(files: dict[str, bytes], **changes) -> dict[str, bytes]:
    """The package's members with some replaced and the manifest's hashes and sizes made to agree again."""
    files = {**files, **{name.replace("__", "."): content for name, content in changes.items()}}
    manifest = json.loads(files[rules.MANIFEST])
    for entry in manifest["files"]:
        entry["sha256"], entry["size"] = sha(files[entry["name"]]), len(files[entry["name"]])
    files[rules.MANIFEST] = json.dumps(manifest).encode()
    return files


def upload(client, package: bytes, name: str = "hocba.zip", **kwargs):
    return client.post("/chuyen-truong/nhan", data={"package": (io.BytesIO(package), name)},
                       content_type="multipart/form-data", **kwargs)


def form_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return found.group(1) if found else ""


# --- Export -------------------------------------------------------------------------------------------------


def test_export_package_holds_the_signed_files_unchanged_with_a_manifest(app, session, login_as, released):
    student = session.get(Student, released.student_id)
    client = login_as("office")
    page = client.get(f"/chuyen-truong?q={student.student_code}").get_data(as_text=True)
    assert student.full_name in page and "1 đã phát hành" in page and "Tải gói hồ sơ" in page
    fragment = client.get(f"/chuyen-truong?q={student.student_code}", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="transfer-students"')

    response = client.post(f"/chuyen-truong/{student.id}/goi")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert f"hocba_{student.student_code}.zip" in response.headers["Content-Disposition"]
    files = members(response.data)
    stem = f"hocba_{student.student_code}_{released_year(session, released)}_v1"
    assert set(files) == {"manifest.json", "student.json", f"{stem}.pdf", f"{stem}.xml"}
    assert files[f"{stem}.pdf"] == released.pdf and files[f"{stem}.xml"] == released.xml

    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == rules.FORMAT and manifest["format_version"] == 1
    assert manifest["school"]["matruong"] == "37101234" and manifest["school"]["tentruong"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])
    listed = {e["name"]: e for e in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == sha(files[name]) and entry["size"] == len(files[name])
    pdf = listed[f"{stem}.pdf"]
    assert (pdf["kind"], pdf["phienban"], pdf["status"], pdf["tenlop"]) == ("pdf", 1, "released", "6A1")
    assert pdf["madinhdanhhocba"] == released.record_id and pdf["mamaxacthuc"] == released.verify_code

    profile = json.loads(files["student.json"])
    assert profile["hovaten"] == student.full_name and profile["sodinhdanh"] == student.personal_id
    assert profile["mahocsinh"] == student.student_code
    assert profile["ngaythangnamsinh"] == student.date_of_birth.isoformat()
    assert set(rules.PROFILE_FIELDS) <= set(profile)

    event = session.exec(select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.student_id == student.id)
                         .order_by(AuditEvent.id.desc())).first()
    assert event is not None and "hocba_" in event.note and sha(response.data) in event.after


def released_year(session, transcript) -> str:
    from portal.models import SchoolYear

    return session.get(SchoolYear, transcript.school_year_id).name


def test_export_is_refused_without_a_released_transcript(session, login_as):
    student = session.exec(select(Student).order_by(Student.id.desc())).first()
    client = login_as("office")
    response = client.post(f"/chuyen-truong/{student.id}/goi")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "chưa có học bạ nào đã phát hành" in page


# --- Import into another instance ----------------------------------------------------------------------------


def test_package_from_one_instance_imports_into_another_with_a_clean_report(app, session, login_as, released,
                                                                            make_receiver):
    student = session.get(Student, released.student_id)
    package = login_as("office").post(f"/chuyen-truong/{student.id}/goi").data
    other = make_receiver()
    client = other.client("vanthu2")
    assert "Kiểm tra gói hồ sơ" in client.get("/chuyen-truong/nhan").get_data(as_text=True)

    response = upload(client, package)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Gói hồ sơ hợp lệ: có thể tiếp nhận học sinh" in page and "✗" not in page
    assert student.full_name in page and "Năm học" in page and "6A1" in page
    assert "Tiếp nhận học sinh" in page and f'<option value="{other.klass().id}">{RECEIVER_CLASS}' in page
    report = service.verify_package(other.session, data=package, app=other.app)
    assert report.clean, report.problems
    assert all(d.ok and d.signatures and all(s.ok for s in d.signatures) for d in report.documents)

    response = client.post("/chuyen-truong/nhan/tiep-nhan", data={
        "token": form_value(page, "token"), "sha256": form_value(page, "sha256"), "class_id": other.klass().id})
    assert response.status_code == 303
    taken = other.session.exec(select(Student).where(Student.personal_id == student.personal_id)).one()
    assert response.headers["Location"].endswith(f"/hoc-sinh/{taken.id}")
    for attr in rules.PROFILE_FIELDS.values():
        assert getattr(taken, attr) == getattr(student, attr), attr
    stored = other.session.exec(select(TransferredDocument).where(TransferredDocument.student_id == taken.id)).one()
    assert stored.pdf == released.pdf and stored.pdf_sha256 == sha(released.pdf) == released.pdf_sha256
    assert stored.xml == released.xml
    assert (stored.school_year, stored.class_name, stored.version) == (released_year(session, released), "6A1", 1)
    assert stored.source_school_code == "37101234" and json.loads(stored.report)["ok"] is True
    enrollment = other.session.exec(select(Enrollment).where(Enrollment.student_id == taken.id)).one()
    assert enrollment.class_id == other.klass().id and enrollment.joined_on == today_local()
    event = other.session.exec(select(AuditEvent).where(AuditEvent.action == "import")).one()
    assert event.student_id == taken.id and sha(package) in event.after

    profile = client.get(f"/hoc-sinh/{taken.id}").get_data(as_text=True)
    assert "Học bạ chuyển đến" in profile and stored.pdf_sha256 in profile and "6A1" in profile
    # The profile's learning history: the year at the first school (once, whatever its versions), then here.
    cells = [re.sub(r"<[^>]+>", "", row).strip() for row in re.findall(r"<td[^>]*>(.*?)</td>", profile.split(
        "Quá trình học tập", 1)[1].split("</table>", 1)[0])]
    first_school_name = session.exec(select(School.name)).one()
    assert cells == [released_year(session, released), "6A1", first_school_name,
                     other.year().name, RECEIVER_CLASS, RECEIVER_SCHOOL]
    download = client.get(f"/chuyen-truong/tai-lieu/{stored.id}/pdf")
    assert download.status_code == 200 and download.data == released.pdf
    assert client.get(f"/chuyen-truong/tai-lieu/{stored.id}/xml").data == released.xml

    # The receiving school's transcripts from now on list the first school's year before its own.
    year = other.year()
    key = "a" * 32
    history = data._history(other.session, taken.id, other.school(), year, key, {"sukien": "NEW"},
                            data.SECONDARY_TABLE)
    first_school = data.Record.from_json(released.data_json).hocba
    assert [(h["namhoc"], h["tenlop"], h["tentruong"]) for h in history] == [
        (released_year(session, released), "6A1", first_school["tentruong"]),
        (year.name, RECEIVER_CLASS, RECEIVER_SCHOOL)]
    assert history[0]["tentinh"] == first_school["thongtintruong_diachi_tentinh"] == "Ninh Bình"
    assert history[1]["ngaytrangthaichuyenden"] == today_local().isoformat()
    assert [h[f"key{data.SECONDARY_TABLE}_quatrinhhoctap"] for h in history] == [f"{key[:28]}q001", f"{key[:28]}q002"]
    record = data.Record(table=data.SECONDARY_TABLE, regime="tt22", hocba={}, bangdiem=[], quatrinhhoctap=history)
    assert xmlfile.from_xml(xmlfile.to_xml(record)).quatrinhhoctap == history

    # The same package again: the student is matched, nothing is stored twice.
    again = upload(client, package).get_data(as_text=True)
    assert "Trường đã có hồ sơ học sinh này" in again
    response = client.post("/chuyen-truong/nhan/tiep-nhan", data={
        "token": form_value(again, "token"), "sha256": form_value(again, "sha256")})
    assert response.status_code == 303
    assert len(other.session.exec(select(TransferredDocument)).all()) == 1
    assert "bỏ qua 1 học bạ đã có" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_report_is_a_fragment_for_htmx(make_receiver, sent_package):
    client = make_receiver().client("hieutruong2")
    response = upload(client, sent_package["data"], headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert page.lstrip().startswith('<div id="transfer-report"') and "Gói hồ sơ hợp lệ" in page


def test_revoked_version_travels_marked_and_history_uses_the_newest(make_receiver, sent_package):
    files = members(sent_package["data"])
    manifest = json.loads(files["manifest.json"])
    pdfs = [e for e in manifest["files"] if e["kind"] == "pdf"]
    assert [(e["phienban"], e["status"]) for e in pdfs] == [(1, "revoked"), (2, "released")]
    assert [files[e["name"]] for e in pdfs] == sent_package["pdfs"]

    other = make_receiver()
    client = other.client()
    page = upload(client, sent_package["data"]).get_data(as_text=True)
    assert "Gói hồ sơ hợp lệ" in page and "Đã thu hồi tại trường gửi" in page
    client.post("/chuyen-truong/nhan/tiep-nhan", data={"token": form_value(page, "token"),
                                                       "sha256": form_value(page, "sha256")})
    taken = other.session.exec(select(Student).where(Student.personal_id == sent_package["personal_id"])).one()
    stored = other.session.exec(select(TransferredDocument).where(TransferredDocument.student_id == taken.id)
                                .order_by(TransferredDocument.version)).all()
    assert [d.pdf for d in stored] == sent_package["pdfs"] and [d.xml for d in stored] == sent_package["xmls"]
    assert "Đã thu hồi tại trường cũ" in client.get(f"/hoc-sinh/{taken.id}").get_data(as_text=True)
    history = data._history(other.session, taken.id, other.school(), other.year(), "b" * 32, {},
                            data.SECONDARY_TABLE)
    assert [(h["namhoc"], h["tentruong"]) for h in history] == [
        (sent_package["year_name"], sent_package["school_name"])]


# --- Refusals ------------------------------------------------------------------------------------------------


def refused(client, package: bytes, *expected: str) -> str:
    """Upload a package that must be refused: 422, every expected text on the page, no way to accept it."""
    response = upload(client, package)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page
    assert "Chưa thể tiếp nhận" in page and "✗" in page
    for text in expected:
        assert text in page, text
    assert 'name="token"' not in page and "Tiếp nhận học sinh</button>" not in page
    return page


def test_tampered_pdf_fails_the_manifest_and_its_signatures(make_receiver, sent_package):
    files = members(sent_package["data"])
    name = next(n for n in files if n.endswith("_v2.pdf"))
    pdf = bytearray(files[name])
    pdf[11] ^= 0x01  # inside every signature's first byte range
    files[name] = bytes(pdf)
    other = make_receiver()
    client = other.client()
    refused(client, build_zip(files), "Tệp PDF không khớp bản kê", "chữ ký số không hợp lệ")
    # Even with the manifest rewritten to match, the signatures still say the file was changed.
    page = refused(client, build_zip(relisted(files)), "chữ ký số không hợp lệ")
    assert "Tệp PDF không khớp bản kê" not in page
    # A forged acceptance without a clean report is refused too.
    response = client.post("/chuyen-truong/nhan/tiep-nhan", data={"token": "0" * 32, "sha256": sha(b"x")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/chuyen-truong/nhan")
    assert other.session.exec(select(Student)).all() == []


def test_manifest_that_lies_about_a_transcript_is_reported(make_receiver, sent_package):
    files = members(sent_package["data"])
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        if entry["kind"] in ("pdf", "xml") and entry["phienban"] == 2:
            entry["tenlop"], entry["madinhdanhhocba"] = "9A9", "00000000-0000-4000-8000-000000000000"
    files["manifest.json"] = json.dumps(manifest).encode()
    client = make_receiver().client()
    refused(client, build_zip(files), "Bản kê mô tả sai học bạ", "lớp: bản kê ghi “9A9”, học bạ ghi “6A1”")

    # A manifest that names a file the package does not hold, and a package with a file it does not list.
    files = members(sent_package["data"])
    extra = dict(files)
    extra[f"hocba_{sent_package['student_code']}_2000-2001_v1.xml"] = b"<x/>"
    refused(client, build_zip(extra), "có trong gói nhưng không có trong bản kê")
    missing = {n: c for n, c in files.items() if not n.endswith("_v1.xml")}
    refused(client, build_zip(missing), "gói không có tệp này")


def test_student_json_that_names_someone_else_is_reported(make_receiver, sent_package):
    files = members(sent_package["data"])
    profile = json.loads(files["student.json"])
    profile["hovaten"], profile["ngaythangnamsinh"] = "Nguyễn Văn Khác", "2010-01-01"
    changed = relisted(files, student__json=json.dumps(profile, ensure_ascii=False).encode())
    refused(make_receiver().client(), build_zip(changed),
            "Học sinh trong học bạ khác hồ sơ student.json: họ và tên, ngày sinh")


def test_separate_xml_must_be_the_one_embedded_in_the_pdf(make_receiver, sent_package):
    files = members(sent_package["data"])
    v1, v2 = (next(n for n in files if n.endswith(f"_v{v}.xml")) for v in (1, 2))
    changed = relisted(files, **{v2.replace(".", "__"): files[v1]})
    refused(make_receiver().client(), build_zip(changed), "Tệp XML khác dữ liệu học bạ đính kèm trong PDF")


def test_untrusted_ca_says_how_to_trust_it_and_then_passes(make_receiver, sent_package):
    other = make_receiver(trust=False)
    client = other.client()
    page = refused(client, sent_package["data"], "chưa được tin cậy tại trường này",
                   "Chứng thư số của trường gửi chưa được tin cậy tại trường này", "Quản trị → Khóa ký số",
                   "instance/pki/trust/")
    assert sent_package["school_name"] in page
    other.trust(sent_package["ca_pem"])
    response = upload(client, sent_package["data"])
    assert response.status_code == 200 and "Gói hồ sơ hợp lệ" in response.get_data(as_text=True)


def test_unsafe_or_oversized_zips_are_refused_before_reading(make_receiver, sent_package):
    client = make_receiver().client()
    files = members(sent_package["data"])
    refused(client, build_zip({**files, "../evil.pdf": b"%PDF-"}), "“../evil.pdf”", "“..”")
    refused(client, build_zip({**files, "/etc/passwd": b"x"}), "“/etc/passwd”")
    refused(client, build_zip({**files, "ghichu.txt": b"x"}), "“ghichu.txt” không thuộc gói")
    bomb = f"hocba_{sent_package['student_code']}_2000-2001_v1.pdf"
    refused(client, build_zip({**files, bomb: b"\0" * (11 * 1024 * 1024)}), "vượt mức 10 MB")
    response = upload(client, b"PK\x03\x04 not really a zip")
    assert response.status_code == 422 and "không phải tệp nén ZIP" in response.get_data(as_text=True)
    response = upload(client, b"", name="")
    assert response.status_code == 400 and "Chọn tệp gói hồ sơ" in response.get_data(as_text=True)


def test_a_student_code_taken_by_someone_else_is_reported(make_receiver, sent_package):
    other = make_receiver()
    other.session.add(Student(student_code=sent_package["student_code"], personal_id="001099000999",
                              full_name="Người Khác", date_of_birth=date(2012, 3, 4)))
    other.session.commit()
    refused(other.client(), sent_package["data"], f"Mã học sinh {sent_package['student_code']} đã thuộc về")
