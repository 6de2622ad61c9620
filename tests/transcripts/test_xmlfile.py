"""The transcript's XML data file: national field names, exact round trip, and the school's XAdES-BES seal checked
by xmlsec1 (an independent verifier) and by verify_xml."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from asn1crypto import x509 as ax509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlmodel import select

from portal.gradebook.service import class_roster
from portal.models import School, SignerKey
from portal.pki import ca, tokens
from portal.transcripts import data
from portal.transcripts.xmlfile import (
    NAMESPACE,
    NATIONAL_FIELDS,
    REQUIRED_FIELDS,
    ROW_TABLES,
    XmlFileError,
    from_xml,
    history_table,
    seal_xml,
    to_xml,
    verify_xml,
)

XMLSEC1 = shutil.which("xmlsec1")
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed (make test-packages)")
IDENTITY = data.Identity(key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", record_id="2f9c8a9e-1b7d-4c1e-9a55-0d6f1f2a7b31",
                         version=1, verify_code="HB-7KQ2-M9XD", issue_date=date(2025, 6, 2), issue_place="Ninh Bình",
                         created_at=datetime(2025, 6, 2, 8, 30, 0))


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _record(session, klass) -> data.Record:
    student = class_roster(session, klass.id, include_left=True)[0][1]
    return data.build_record(session, student_id=student.id, school_year_id=klass.school_year_id, identity=IDENTITY)


@pytest.fixture
def record(session, previous_class) -> data.Record:
    """A secondary (TT22) record: the first student of last year's 6A1."""
    return _record(session, previous_class)


@pytest.fixture(params=["secondary", "primary"])
def any_record(request, session) -> data.Record:
    """The secondary record, then a primary (TT27) one: the first pupil of last year's 4A1."""
    return _record(session, request.getfixturevalue("previous_class" if request.param == "secondary"
                                                    else "primary_class"))


@pytest.fixture
def school_key(app, session) -> SignerKey:
    tokens.configure(app.instance_path)  # SOFTHSM2_CONF → this test's copy of the token
    return session.exec(select(SignerKey).where(SignerKey.kind == "school", SignerKey.active)
                        .order_by(SignerKey.id.desc())).first()


@pytest.fixture
def sealed(app, record, school_key) -> bytes:
    return seal_xml(to_xml(record), key=school_key, pin=tokens.pin_for(app.instance_path, school_key.token_label))


def _xmlsec1(tmp_path, xml: bytes, ca_pem: str) -> subprocess.CompletedProcess:
    path = tmp_path / "hocba.xml"
    path.write_bytes(xml)
    return subprocess.run([XMLSEC1, "--verify", "--trusted-pem", ca_pem,
                           "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", str(path)],
                          capture_output=True, text=True, timeout=60)


def _change_one_character(xml: bytes, field: str) -> bytes:
    """Change one character of the first <field> value: its last digit, else its last character (stays valid)."""
    text = xml.decode()
    start = text.index(f"<{field}>") + len(field) + 2
    end = text.index(f"</{field}>", start)
    digits = [i for i in range(start, end) if text[i].isdigit()]
    at = digits[-1] if digits else end - 1
    return (text[:at] + ("8" if text[at] == "9" else "9") + text[at + 1:]).encode()


# --- The file ---------------------------------------------------------------------------------------------


def test_the_demo_record_round_trips_exactly(any_record):
    xml = to_xml(any_record)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert any_record.hocba["hovaten"].encode() in xml  # Vietnamese written as UTF-8, not as character references
    back = from_xml(xml)
    assert back == any_record
    assert back.canonical_json() == any_record.canonical_json()


def _sections(record: data.Record) -> list[tuple[str, list]]:
    """(national table, its elements in the file): the main table's root, then each child table's rows."""
    root = etree.fromstring(to_xml(record))
    table = record.table
    return [(table, [root])] + [(child, root.find(_q(child)).findall(_q("banghi")))
                                for child in (ROW_TABLES[table], history_table(table))]


def _leaves(element) -> dict[str, str]:
    return {etree.QName(child).localname: child.text or "" for child in element if len(child) == 0}


def test_the_file_uses_only_national_field_names_in_the_dictionary_order(any_record):
    root = etree.fromstring(to_xml(any_record))
    table = any_record.table
    assert root.tag == _q(table)
    assert root.get("phienbanluocdo") == "1.0" and root.get("thongtu") == any_record.regime
    names = [etree.QName(child).localname for child in root]
    assert names[-3:] == [ROW_TABLES[table], history_table(table), "morong"]
    sections = _sections(any_record)
    assert len(sections[1][1]) == len(any_record.bangdiem) > 5
    assert len(sections[2][1]) == len(any_record.quatrinhhoctap) >= 1
    for name, elements in sections:
        for element in elements:
            leaves = list(_leaves(element))
            assert leaves == [f for f in NATIONAL_FIELDS[name] if f in leaves], name  # only national, in order


@pytest.mark.parametrize("klass", ["previous_class", "primary_class"])
def test_every_required_field_is_present_and_filled(request, session, klass):
    record = _record(session, request.getfixturevalue(klass))
    for name, elements in _sections(record):
        for element in elements:
            values = _leaves(element)
            missing = sorted(f for f in REQUIRED_FIELDS[name] if not values.get(f))
            assert missing == [], f"{name}: required fields missing or empty"


def test_the_extension_holds_the_ordered_signers(record):
    morong = etree.fromstring(to_xml(record)).find(_q("morong"))
    signers = morong.find(_q("chuky")).findall(_q("nguoiky"))
    assert [int(s.get("thutu")) for s in signers] == list(range(1, len(signers) + 1))
    assert [s.get("vaitro") for s in signers[-3:]] == ["homeroom", "principal", "school"]
    assert signers[-1].get("manguoidung") is None  # the school's seal is nobody's
    assert signers[0].findtext(_q("monhoc")) == record.signers[0].subjects[0]
    assert morong.findtext(_q("mamaxacthuc")) == IDENTITY.verify_code


XML_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff") \
    | st.sampled_from("\t\n\r\x7f\x85\x9f\u2028")
TEXTS = st.one_of(
    st.text(XML_CHARS, max_size=12),
    st.lists(st.sampled_from(["Nguyễn Thị Ánh", "Đạt", "Chưa đạt", "<", "&", ">", '"', "'", "]]>", "&amp;", " ",
                              "  ", "\n", "\r\n", "\t", "Trường THCS Lê Quý Đôn", "7.9", "", "<!-- x -->", "ẞ🎓"]),
             max_size=6).map("".join),
)


def _national(table: str):
    return st.dictionaries(st.sampled_from(NATIONAL_FIELDS[table]), TEXTS, max_size=10)


SIGNERS = st.fixed_dictionaries({
    "position": st.integers(), "stage": st.integers(min_value=1, max_value=4), "role": TEXTS,
    "user_id": st.none() | st.integers(min_value=1), "name": TEXTS, "personal_id": TEXTS,
    "subjects": st.lists(TEXTS, max_size=3)})


@st.composite
def records(draw) -> data.Record:
    table = draw(st.sampled_from([data.SECONDARY_TABLE, data.PRIMARY_TABLE]))
    morong = {"chuky": draw(st.lists(SIGNERS, max_size=4)), "nghicophep": draw(TEXTS),
              "nghikhongphep": draw(TEXTS), "mamaxacthuc": draw(TEXTS)}
    if table == data.PRIMARY_TABLE:
        morong["monhoc"] = draw(st.lists(st.fixed_dictionaries(
            {"mamonhoc": TEXTS, "nxetmonhoc": TEXTS, "gvbm": TEXTS, "soddcngvbm": TEXTS}), max_size=3))
    return data.Record(table=table, regime="tt27" if table == data.PRIMARY_TABLE else "tt22",
                       hocba=draw(_national(table)), bangdiem=draw(st.lists(_national(ROW_TABLES[table]), max_size=3)),
                       quatrinhhoctap=draw(st.lists(_national(history_table(table)), max_size=2)), morong=morong)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_any_record_round_trips_exactly(record):
    assert from_xml(to_xml(record)) == record


@pytest.mark.parametrize("change, message", [
    (lambda r: r.hocba.update(tenbien="x"), "không thuộc bảng"),
    (lambda r: r.bangdiem[0].update(diemcanam="7\x0b5"), r"ký tự điều khiển U\+000B"),
    (lambda r: r.hocba.update(hovaten=None), "phải là chuỗi"),
    (lambda r: r.morong["chuky"][0].pop("stage"), "phải có đúng các khóa"),
    (lambda r: setattr(r, "regime", "tt27"), "đi với chế độ"),
])
def test_what_cannot_be_written_is_refused_with_a_reason(record, change, message):
    change(record)
    with pytest.raises(XmlFileError, match=message):
        to_xml(record)


@pytest.mark.parametrize("xml, message", [
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaa">]><thongtinsohocbasothcsthpt xmlns="urn:hocbaso:1.0"'
     b' phienbanluocdo="1.0" thongtu="tt22"><hovaten>&a;</hovaten></thongtinsohocbasothcsthpt>', "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', "DOCTYPE"),
    (b'<thongtinsohocbasothcsthpt xmlns="urn:hocbaso:1.0" phienbanluocdo="2.0" thongtu="tt22"/>', "phiên bản"),
    (b'<thongtinsohocbasothcsthpt xmlns="urn:khac" phienbanluocdo="1.0" thongtu="tt22"/>', "không gian tên"),
    (b'<thongtinsohocbasothcsthpt xmlns="urn:hocbaso:1.0" phienbanluocdo="1.0" thongtu="tt22"><hovaten>A</hovaten>'
     b'<hovaten>B</hovaten></thongtinsohocbasothcsthpt>', "hai lần"),
    (b'<thongtinsohocbasothcsthpt xmlns="urn:hocbaso:1.0" phienbanluocdo="1.0" thongtu="tt22"><mucdatduoc>T'
     b'</mucdatduoc></thongtinsohocbasothcsthpt>', "không thuộc bảng"),
    (b"not xml", "không phải XML"),
])
def test_from_xml_refuses_what_is_not_a_transcript_file(xml, message):
    with pytest.raises(XmlFileError, match=message):
        from_xml(xml)


# --- The seal ---------------------------------------------------------------------------------------------


@needs_xmlsec1
def test_the_sealed_file_verifies_in_xmlsec1_and_verify_xml(app, session, record, sealed, tmp_path):
    result = _xmlsec1(tmp_path, sealed, ca.ca_path(app.instance_path))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr
    school = session.exec(select(School)).first()
    check = verify_xml(sealed, trust_roots=[ca.read_ca(app.instance_path)])
    assert check.ok, check.reason
    assert check.common_name == school.name[:64] and check.serial_number == school.ministry_code
    assert abs(check.signing_time - datetime.now(UTC)) < timedelta(minutes=2)
    assert from_xml(sealed) == record  # the signature is ignored when reading
    root = etree.fromstring(sealed)
    assert etree.QName(root[-1]).localname == "Signature"


@needs_xmlsec1
@pytest.mark.parametrize("field", ["hovaten", "diemcanam", "hoten", "xades:SigningTime"])
def test_changing_one_character_breaks_the_seal(app, record, sealed, tmp_path, field):
    tampered = _change_one_character(sealed, field)
    assert (from_xml(tampered) != record) is (field != "xades:SigningTime")
    result = _xmlsec1(tmp_path, tampered, ca.ca_path(app.instance_path))
    assert result.returncode != 0
    check = verify_xml(tampered, trust_roots=[ca.read_ca(app.instance_path)])
    assert not check.ok
    assert "bị thay đổi" in check.reason


def test_the_certificate_is_checked_at_the_given_time(app, sealed):
    roots = [ca.read_ca(app.instance_path)]
    assert verify_xml(sealed, trust_roots=roots, at=datetime.now(UTC) + timedelta(days=365)).ok
    expired = verify_xml(sealed, trust_roots=roots, at=datetime.now(UTC) + timedelta(days=365 * 3 + 2))
    assert not expired.ok and "hết hạn" in expired.reason


def test_comments_are_not_signed_and_not_read(app, record, sealed):
    name = record.hocba["hovaten"]
    commented = sealed.replace(f"<hovaten>{name}</hovaten>".encode(),
                               f"<hovaten>{name[:3]}<!-- chú thích -->{name[3:]}</hovaten>".encode())
    assert commented != sealed
    assert verify_xml(commented, trust_roots=[ca.read_ca(app.instance_path)]).ok
    assert from_xml(commented) == record


def test_content_outside_the_signed_part_is_refused(app, sealed):
    moved = sealed.replace(b"</morong>", b"</morong><extra/>")
    assert not verify_xml(moved, trust_roots=[ca.read_ca(app.instance_path)]).ok
    unsigned = etree.fromstring(sealed)
    unsigned.remove(unsigned[-1])
    check = verify_xml(etree.tostring(unsigned), trust_roots=[ca.read_ca(app.instance_path)])
    assert not check.ok and check.reason == "Tệp XML không có chữ ký số."


def _other_ca() -> tuple:
    """A CA of someone else (software keys) and a signer certificate it issued: (ca cert, signer cert, signer key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, key = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "CA không được tin cậy")])
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Trường giả mạo")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ca_cert, cert, key


@needs_xmlsec1
def test_a_file_signed_under_another_ca_is_untrusted(app, record, sealed, tmp_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from endesive import xades

    other_ca, cert, key = _other_ca()
    der = cert.public_bytes(serialization.Encoding.DER)
    forged = etree.tostring(xades.BES().enveloped(
        to_xml(record), cert, der, lambda blob, _algo: key.sign(blob, padding.PKCS1v15(), hashes.SHA256()),
        None, None), xml_declaration=True, encoding="UTF-8")
    other_root = ax509.Certificate.load(other_ca.public_bytes(serialization.Encoding.DER))
    demo_root = ca.read_ca(app.instance_path)

    assert _xmlsec1(tmp_path, forged, ca.ca_path(app.instance_path)).returncode != 0
    check = verify_xml(forged, trust_roots=[demo_root])
    assert not check.ok and "không được tin cậy" in check.reason
    # The same file is well formed and verifies under its own CA: the refusal is about trust alone.
    other_pem = tmp_path / "other.pem"
    other_pem.write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    assert _xmlsec1(tmp_path, forged, str(other_pem)).returncode == 0
    assert verify_xml(forged, trust_roots=[other_root]).ok
    # And the school's real seal is untrusted by whoever trusts only the other CA.
    assert not verify_xml(sealed, trust_roots=[other_root]).ok


def test_sealing_is_fast_once_warm(app, record, school_key):
    pin = tokens.pin_for(app.instance_path, school_key.token_label)
    xml = to_xml(record)
    seal_xml(xml, key=school_key, pin=pin)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        seal_xml(xml, key=school_key, pin=pin)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"seal_xml median of 20 (warm): {median * 1000:.1f} ms")
    assert median < 0.25
