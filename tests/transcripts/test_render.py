"""The transcript PDF on the paper template of its level, read back with poppler (pdftotext, pdffonts,
pdfdetach): every displayed value of the record is on the page (the PDF half of "XML = PDF = DB"), every
page carries the transcript's identifier, verification code and page number, only Liberation Serif is
embedded, and the XML rides along as an attachment."""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from datetime import date, datetime

import pytest
import qrcode
from PIL import Image

from portal.gradebook.service import class_roster
from portal.transcripts import data, render, rules

POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdfdetach", "pdfinfo"))
pytestmark = pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed")

IDENTITY = data.Identity(key="5d1c0e7a9b8f4a6e8c2d1b0a9f8e7d6c", record_id="7b0c2e64-3f1a-4d5e-9b8c-1a2b3c4d5e6f",
                         version=1, verify_code="HB-4TQK-8M2X", issue_date=date(2025, 5, 31), issue_place="Ninh Bình",
                         created_at=datetime(2025, 5, 30, 8, 0, 0))
VERIFY_URL = "https://hocbaso.example.edu.vn/xac-thuc/7b0c2e64-3f1a-4d5e-9b8c-1a2b3c4d5e6f?ma=HB-4TQK-8M2X"
XML = ("<?xml version='1.0' encoding='UTF-8'?>\n<hocbaso><hovaten>Nguyễn Ngọc Ánh</hovaten></hocbaso>\n").encode()
XML_NAME = "hocba_7b0c2e64-3f1a-4d5e-9b8c-1a2b3c4d5e6f.xml"
# Every Vietnamese letter with a mark, lower and upper case.
ALL_MARKS = ("àáảãạ ăằắẳẵặ âầấẩẫậ èéẻẽẹ êềếểễệ ìíỉĩị òóỏõọ ôồốổỗộ ơờớởỡợ ùúủũụ ưừứửữự ỳýỷỹỵ đ "
             "ÀÁẢÃẠ ĂẰẮẲẴẶ ÂẦẤẨẪẬ ÈÉẺẼẸ ÊỀẾỂỄỆ ÌÍỈĨỊ ÒÓỎÕỌ ÔỒỐỔỖỘ ƠỜỚỞỠỢ ÙÚỦŨỤ ƯỪỨỬỮỰ ỲÝỶỸỴ Đ")


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 120), (210, 220, 235)).save(out, format="PNG")
    return out.getvalue()


def _pdf(record: data.Record, *, photo: bytes | None = None) -> bytes:
    return render.render_pdf(record, photo=photo, photo_mime="image/png" if photo else None, verify_url=VERIFY_URL,
                             xml=XML, xml_name=XML_NAME)


def _run(tmp_path, tool: str, pdf: bytes, *args: str) -> str:
    path = tmp_path / "hocba.pdf"
    path.write_bytes(pdf)
    result = subprocess.run([tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])],
                            capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def _text(tmp_path, pdf: bytes, *args: str) -> str:
    """The PDF's text in content-stream order (-raw: a wrapped table cell stays together), one space apart."""
    text = _run(tmp_path, "pdftotext", pdf, "-raw", "-enc", "UTF-8", *args)
    return " ".join(unicodedata.normalize("NFC", text).split())


def _flat(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def _pages(tmp_path, pdf: bytes) -> int:
    info = _run(tmp_path, "pdfinfo", pdf)
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture
def secondary_record(session, previous_class) -> data.Record:
    _enrollment, student = class_roster(session, previous_class.id, include_left=True)[0]
    return data.build_record(session, student_id=student.id, school_year_id=previous_class.school_year_id,
                             identity=IDENTITY)


@pytest.fixture
def primary_record(session, primary_class) -> data.Record:
    _enrollment, student = class_roster(session, primary_class.id, include_left=True)[0]
    return data.build_record(session, student_id=student.id, school_year_id=primary_class.school_year_id,
                             identity=IDENTITY)


def _check_document(tmp_path, record: data.Record, pdf: bytes) -> str:
    """The checks every transcript passes; return its text."""
    text = _text(tmp_path, pdf)
    missing = [value for value in rules.displayed_values(record) if _flat(value) not in text]
    assert not missing, f"values of the record missing from the PDF: {missing}"
    for row in rules.subject_rows(record):  # each subject's cells, in order, in one row
        assert _flat(" ".join(cell for cell in row if cell)) in text
    for label in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "HỌC BẠ",
                  "Xác nhận của Hiệu trưởng", "(Ký số, đóng dấu số của nhà trường)",
                  "Danh sách chữ ký số theo thứ tự"):
        assert label in text

    pages = _pages(tmp_path, pdf)
    assert pages >= 2
    for page in range(1, pages + 1):
        page_text = _text(tmp_path, pdf, "-f", str(page), "-l", str(page))
        assert record.hocba["madinhdanhhocba"] in page_text
        assert record.morong["mamaxacthuc"] in page_text
        assert f"Trang {page}/{pages}" in page_text

    fonts = _run(tmp_path, "pdffonts", pdf).splitlines()[2:]
    assert fonts
    for line in fonts:
        name, *rest = line.split()
        assert name.split("+")[-1].startswith("Liberation-Serif"), f"a font other than Liberation Serif: {line}"
        assert rest[-5] == "yes", f"font not embedded: {line}"  # columns: emb sub uni object ID

    listing = _run(tmp_path, "pdfdetach", pdf, "-list")
    assert "1 embedded files" in listing and XML_NAME in listing
    saved = tmp_path / "attached.xml"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(saved), str(tmp_path / "hocba.pdf")], check=True)
    assert saved.read_bytes() == XML
    return text


def test_secondary_transcript_shows_the_whole_record(tmp_path, secondary_record):
    record = secondary_record
    assert record.regime == "tt22"
    pdf = _pdf(record, photo=_photo())
    assert pdf.startswith(b"%PDF-")
    text = _check_document(tmp_path, record, pdf)
    assert _pages(tmp_path, pdf) == 2  # the profile page and the year page, as on paper
    assert "TRUNG HỌC CƠ SỞ" in text and "Ảnh 3×4" not in text
    words = set(text.split())
    for row in record.bangdiem:  # scores with a decimal comma, never a point
        for field in ("diemhocky1", "diemhocky2", "diemcanam"):
            if "." in row[field]:
                assert row[field] not in words and row[field].replace(".", ",") in words
    assert f"{record.hocba['diadanhphathanh']}, ngày 31 tháng 5 năm 2025" in text
    assert f"Xét lên lớp: {record.hocba['ndungduoclenlop']}" in text


def test_primary_transcript_shows_the_whole_record(tmp_path, primary_record):
    record = primary_record
    assert record.regime == "tt27"
    pdf = _pdf(record)
    text = _check_document(tmp_path, record, pdf)
    assert "TIỂU HỌC" in text and "Ảnh 3×4" in text
    assert len(rules.subject_rows(record)) == len(record.bangdiem) == 11  # Grade 4 curriculum
    for fields in (rules.TT27_QUALITIES, rules.TT27_GENERAL, rules.TT27_SPECIFIC):
        for name, label in fields.items():
            assert f"{label} {rules.show_rating(record.hocba[name])}" in text


def test_optional_and_long_fields_flow_onto_more_pages(tmp_path, secondary_record):
    """Every optional field filled and long comments: the page grows, nothing is lost or cut."""
    record = secondary_record
    long_comment = " ".join(["Em có ý thức tự giác, chăm chỉ, tích cực tham gia các hoạt động tập thể của lớp."] * 8)
    record.hocba.update(
        kqhoctaplai="Đ", renluyenlai="K", ndungkquarenluyen="Hoàn thành tốt nhiệm vụ rèn luyện trong kì nghỉ hè.",
        kquathamgiacuocthi="Giải Ba cuộc thi Khoa học kĩ thuật cấp tỉnh", doituongchinhsach="Con thương binh",
        ndungkhenthuong="Học sinh Giỏi; Giải Nhất Hội khỏe Phù Đổng cấp trường", hotennguoigiamho="Trần Văn Bảo",
        nghenghiepnguoigiamho="Nông dân", chucvugiamhieu="Phó Hiệu trưởng", nxetgvcn=long_comment)
    record.bangdiem[0].update(diemkttralai="5.5", nxetmonhoc=long_comment[:400])
    pdf = _pdf(record, photo=_photo())
    text = _check_document(tmp_path, record, pdf)
    assert "KT. HIỆU TRƯỞNG PHÓ HIỆU TRƯỞNG" in text
    assert _pages(tmp_path, pdf) >= 3


def test_vietnamese_names_round_trip_through_the_pdf(tmp_path, primary_class, session):
    roster = class_roster(session, primary_class.id, include_left=True)
    record = data.build_record(session, student_id=roster[0][1].id, school_year_id=primary_class.school_year_id,
                               identity=IDENTITY)
    record.hocba["hovaten"] = ALL_MARKS
    text = _text(tmp_path, _pdf(record))
    assert ALL_MARKS in text
    for _enrollment, student in roster:  # the pupils' real names, built in the database
        other = data.build_record(session, student_id=student.id, school_year_id=primary_class.school_year_id,
                                  identity=IDENTITY)
        assert student.full_name in _text(tmp_path, _pdf(other))


def test_photo_and_qr_code_are_inline_and_nothing_is_fetched(secondary_record):
    html = render.render_html(secondary_record, photo=_photo(), photo_mime="image/png", verify_url=VERIFY_URL)
    qr_src = render.data_uri("image/png", render.qr_png(VERIFY_URL))
    assert f'src="{render.data_uri("image/png", _photo())}"' in html and f'src="{qr_src}"' in html
    assert "http" not in html.replace(VERIFY_URL, "")
    fetcher = render.DataOnlyFetcher()
    for url in ("https://example.com/logo.png", "file:///etc/passwd", "http://127.0.0.1/"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain;base64,SGVsbG8=").read() == b"Hello"
    with pytest.raises(render.RenderError):
        render.render_html(secondary_record, photo=b"GIF89a", photo_mime="image/gif", verify_url=VERIFY_URL)


def test_qr_code_encodes_the_verification_url():
    """The PNG's modules are the QR code of the URL, one block of QR_SCALE pixels each, inside a quiet zone."""
    image = Image.open(io.BytesIO(render.qr_png(VERIFY_URL)))
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=render.QR_BORDER)
    qr.add_data(VERIFY_URL)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    scale = render.QR_SCALE
    assert image.size == (len(matrix) * scale, len(matrix) * scale)
    pixels = image.convert("L").load()
    read = [[pixels[x * scale + scale // 2, y * scale + scale // 2] < 128 for x in range(len(matrix))]
            for y in range(len(matrix))]
    assert read == matrix
    assert all(not dark for dark in read[0]) and all(not row[0] for row in read)  # the quiet zone is white
