"""The transcript's XML data file (the national record written out) and the school's XAdES-BES seal on it.

Shape of the file (UTF-8, namespace ``urn:hocbaso:1.0``; element names are exactly the national field names of
DATA_DICTIONARY.md; every value is element text and an empty value is an empty element)::

    <thongtinsohocbasothcsthpt xmlns="urn:hocbaso:1.0" phienbanluocdo="1.0" thongtu="tt22">
      <keythongtinsohocbasothcsthpt>…</keythongtinsohocbasothcsthpt>   the main table's fields, in the
      <trangthaithongtinhocba>1</trangthaithongtinhocba> …               dictionary's order
      <thongtinsohocbasothcsthpt_bangdiem>                               subject rows: one <banghi> each
        <banghi><keythongtinsohocbasothcsthpt_bangdiem>…</…> …</banghi>  (primary: …tieuhoc_dsbangdiem)
      </thongtinsohocbasothcsthpt_bangdiem>
      <thongtinsohocbasothcsthpt_quatrinhhoctap><banghi>…</banghi></…>   learning history
      <morong>                                                           our extension, not a national table
        <chuky>                                                          the signers in legal order
          <nguoiky thutu="1" buoc="1" vaitro="subject" manguoidung="7">  (no manguoidung for the school)
            <hoten>…</hoten><sodinhdanh>…</sodinhdanh><monhoc>Toán</monhoc>…
          </nguoiky> …
        </chuky>
        <nghicophep>2</nghicophep><nghikhongphep>0</nghikhongphep><mamaxacthuc>…</mamaxacthuc>
        <monhoc><banghi><mamonhoc>…</mamonhoc><nxetmonhoc>…</nxetmonhoc>…</banghi></monhoc>   (primary only)
      </morong>
      <ds:Signature Id="Signature_…">…</ds:Signature>                    the school's seal (XAdES-BES)
    </thongtinsohocbasothcsthpt>

``phienbanluocdo`` is the schema version (``Record.schema``); ``thongtu`` the assessment regime (``tt22`` or
``tt27``; the circular's full number is the ``thongtu`` field). Every key of ``Record.morong`` is one element of
``<morong>``: ``chuky`` and ``monhoc`` as shown, any other key a text element. ``from_xml(to_xml(r)) == r``.
Values must be XML 1.0 characters (no control characters other than tab, CR, LF).

The seal is endesive's XAdES-BES enveloped signature (one reference to the whole document minus
``ds:Signature`` through an XPath transform, one to the SignedProperties), made by the school's key on its
PKCS#11 token. ``verify_xml`` checks it with signxml's XAdES verifier, which does not implement the XPath
transform: `_Verifier` implements exactly that filter and refuses any other transform it does not know. The
certificate must chain to the given trust roots (cryptography's X.509 path validation, through signxml).
Parsing forbids DTDs, entities and network access; comments are dropped (they are not signed), so what
``from_xml`` reads of a sealed file is what the seal covers.
"""

from __future__ import annotations

import re
from base64 import b64decode
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import x509 as ax509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from endesive import xades
from lxml import etree
from signxml import exceptions as sx
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.util import X509CertChainVerifier
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from portal.models import SignerKey
from portal.pki import tokens
from portal.transcripts.data import PRIMARY_TABLE, SCHEMA_VERSION, SECONDARY_TABLE, Record

NAMESPACE = "urn:hocbaso:1.0"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
SCHEMA_VERSIONS = (SCHEMA_VERSION,)
REGIMES = {SECONDARY_TABLE: "tt22", PRIMARY_TABLE: "tt27"}

# The national tables' fields in the dictionary's order, transcribed from DATA_DICTIONARY.md; "*" marks a
# required ("x") field. thongtinsohocbasothcsthpt_chungchi is listed for completeness: we send no certificates.
_DICTIONARY = {
    "thongtinsohocbasotieuhoc": """
        keythongtinsohocbasotieuhoc* trangthaithongtinhocba* trichluc* tenhuyen phienbanthongtinhocba* thongtu*
        madinhdanhhocba* namhoc* masogd* tensogd* matruong* tentruong* thongtintruong_diachi_tenxa*
        thongtintruong_diachi_tentinh* thongtintruong_diachi_maxa thongtintruong_diachi_matinh* macaphoc* sosodangbo
        hovaten* sodinhdanh* mahocsinh* gioitinh* ngaythangnamsinh thangnamsinh namsinh cannang chieucao nghicophep*
        nghikhongphep* noisinh_diachichitiet* noisinh_maxa noisinh_matinh quequan_diachichitiet* quequan_maxa
        quequan_matinh noiohiennay_diachichitiet* noiohiennay_maxa noiohiennay_matinh dantoc* quoctich*
        doituongchinhsach cokhuyettatkhongdanhgia* hotencha hotenme hotennguoigiamho tengiamhieu* soddcngiamhieu*
        diadanhphathanh* ngaykyphathanh* ngaytao* chucvugiamhieu* tengvcn* soddcngvcn* makhoi* tenlop* xeploai
        duoclenlop* ndunghoanthanh dahthanhctrinhlophoc* dahthanhctrinhtieuhoc* ndungkhenthuong ndungkhenthuongdotxuat
        nxetgvcn* nangluctuhoc nanglucgiaotiep nanglucgiaiquyet nanglucngonngu nangluctinhtoan nangluckhoahoc
        nangluccongnghe nangluctinhoc nanglucthammi nanglucthechat phamchatyeunuoc phamchatnhanai phamchatchamchi
        phamchattrungthuc phamchattrachnhiem nxetphamchat nxetnanglucchung* nxetnanglucdacthu* idbanghi* sukien*
        phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasotieuhoc_quatrinhhoctap": """
        keythongtinsohocbasotieuhoc_quatrinhhoctap* keythongtinsohocbasotieuhoc* namhoc* tenlop* tentruong* tentinh*
        ngaytrangthaichuyenden idbanghi* sukien* phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasotieuhoc_dsbangdiem": """
        keythongtinsohocbasotieuhoc_dsbangdiem* keythongtinsohocbasotieuhoc* mamonhoc* tenmonhoc* mucdatduoc
        diemkiemtradinhky idbanghi* sukien* phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasothcsthpt": """
        keythongtinsohocbasothcsthpt* trangthaithongtinhocba* trichluc* tenhuyen phienbanthongtinhocba* thongtu*
        madinhdanhhocba* namhoc* masogd* tensogd* matruong* tentruong* thongtintruong_diachi_tenxa*
        thongtintruong_diachi_tentinh* thongtintruong_diachi_maxa thongtintruong_diachi_matinh* macaphoc* sosodangbo
        hovaten* sodinhdanh* mahocsinh* gioitinh* ngaythangnamsinh thangnamsinh namsinh noisinh_diachichitiet*
        noisinh_maxa noisinh_matinh quequan_diachichitiet* quequan_maxa quequan_matinh noiohiennay_diachichitiet*
        noiohiennay_maxa noiohiennay_matinh dantoc* quoctich* doituongchinhsach cokhuyettatkhongdanhgia* hotencha
        nghenghiepcha hotenme nghenghiepme hotennguoigiamho nghenghiepnguoigiamho tengiamhieu* soddcngiamhieu*
        diadanhphathanh* ngaykyphathanh* ngaytao* chucvugiamhieu* tengvcn* soddcngvcn makhoi* tenlop* duoclenlop*
        ndungduoclenlop* ndunghoanthanh kquathamgiacuocthi ndungkquarenluyen ndungkhenthuong nxetgvcn* hocky1* hocky2*
        canam* sobuoinghi renluyenhocky1* renluyenhocky2* renluyencanam* renluyenlai kqhoctaplai idbanghi* sukien*
        phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasothcsthpt_quatrinhhoctap": """
        keythongtinsohocbasothcsthpt_quatrinhhoctap* keythongtinsohocbasothcsthpt* namhoc* tenlop* tentruong* tentinh*
        ngaytrangthaichuyenden idbanghi* sukien* phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasothcsthpt_chungchi": """
        keythongtinsohocbasothcsthpt_chungchi* keythongtinsohocbasothcsthpt* tenchungchi loaichungchi idbanghi*
        sukien* phienban* thoigiancapnhat* ngaycapnhat*
    """,
    "thongtinsohocbasothcsthpt_bangdiem": """
        keythongtinsohocbasothcsthpt_bangdiem* keythongtinsohocbasothcsthpt* mamonhoc* tenmonhoc* diemhocky1
        diemhocky2 diemcanam diemkttralai nxetmonhoc soddcngvbm* gvbm* idbanghi* sukien* phienban* thoigiancapnhat*
        ngaycapnhat*
    """,
}
NATIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    t: tuple(f.rstrip("*") for f in s.split()) for t, s in _DICTIONARY.items()}
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    t: frozenset(f.rstrip("*") for f in s.split() if f.endswith("*")) for t, s in _DICTIONARY.items()}
ROW_TABLES = {SECONDARY_TABLE: f"{SECONDARY_TABLE}_bangdiem", PRIMARY_TABLE: f"{PRIMARY_TABLE}_dsbangdiem"}
ROW = "banghi"
EXTENSION = "morong"
SIGNERS, SIGNER = "chuky", "nguoiky"
SUBJECT_ROWS = "monhoc"  # morong["monhoc"]: primary subjects' comment and teacher
# Signer (portal.transcripts.data) field → attribute or child element of <nguoiky>.
SIGNER_ATTRIBUTES = {"position": "thutu", "stage": "buoc", "role": "vaitro", "user_id": "manguoidung"}
SIGNER_ELEMENTS = {"name": "hoten", "personal_id": "sodinhdanh"}
SIGNER_SUBJECT = "monhoc"
SIGNER_KEYS = frozenset([*SIGNER_ATTRIBUTES, *SIGNER_ELEMENTS, "subjects"])

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_SIGNATURE = f"{{{DS_NS}}}Signature"


class XmlFileError(ValueError):
    """The record cannot be written as, or the bytes are not, a transcript XML file (message in Vietnamese)."""


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def history_table(table: str) -> str:
    return f"{table}_quatrinhhoctap"


# --- Writing ----------------------------------------------------------------------------------------------


def _check_text(value, where: str) -> str:
    if not isinstance(value, str):
        raise XmlFileError(f"Giá trị {where} phải là chuỗi, không phải {type(value).__name__}.")
    bad = _NOT_XML.search(value)
    if bad:
        raise XmlFileError(f"Giá trị {where} có ký tự điều khiển U+{ord(bad.group()):04X} không ghi được vào XML.")
    return value


def _leaf(parent: etree._Element, name: str, value, where: str) -> None:
    etree.SubElement(parent, _q(name)).text = _check_text(value, where) or None


def _national(parent: etree._Element, table: str, values: dict, where: str) -> None:
    """Write `values` as the table's field elements, in the dictionary's order."""
    if not isinstance(values, dict):
        raise XmlFileError(f"{where} phải là một bản ghi (dict).")
    unknown = [name for name in values if name not in NATIONAL_FIELDS[table]]
    if unknown:
        raise XmlFileError(f"{where} có trường không thuộc bảng {table}: {', '.join(map(str, unknown))}.")
    for name in NATIONAL_FIELDS[table]:
        if name in values:
            _leaf(parent, name, values[name], f"{where}.{name}")


def _signer(parent: etree._Element, signer: dict, where: str) -> None:
    if not isinstance(signer, dict) or set(signer) != SIGNER_KEYS:
        raise XmlFileError(f"{where} phải có đúng các khóa {', '.join(sorted(SIGNER_KEYS))}.")
    element = etree.SubElement(parent, _q(SIGNER))
    for key, attribute in SIGNER_ATTRIBUTES.items():
        value = signer[key]
        if key == "role":
            element.set(attribute, _check_text(value, f"{where}.{key}"))
        elif key == "user_id" and value is None:
            continue
        elif isinstance(value, int) and not isinstance(value, bool):
            element.set(attribute, str(value))
        else:
            raise XmlFileError(f"{where}.{key} phải là số nguyên.")
    for key, name in SIGNER_ELEMENTS.items():
        _leaf(element, name, signer[key], f"{where}.{key}")
    if not isinstance(signer["subjects"], list):
        raise XmlFileError(f"{where}.subjects phải là một danh sách.")
    for index, subject in enumerate(signer["subjects"]):
        _leaf(element, SIGNER_SUBJECT, subject, f"{where}.subjects[{index}]")


def _extension(parent: etree._Element, morong: dict) -> None:
    element = etree.SubElement(parent, _q(EXTENSION))
    if not isinstance(morong, dict):
        raise XmlFileError("morong phải là một dict.")
    for key, value in morong.items():
        where = f"morong.{key}"
        if not isinstance(key, str) or not _NAME.match(key) or key.startswith("xml"):
            raise XmlFileError(f"Khóa {key!r} của morong không dùng được làm tên phần tử XML.")
        if key == SIGNERS:
            if not isinstance(value, list):
                raise XmlFileError(f"{where} phải là một danh sách.")
            signers = etree.SubElement(element, _q(SIGNERS))
            for index, signer in enumerate(value):
                _signer(signers, signer, f"{where}[{index}]")
        elif key == SUBJECT_ROWS:
            if not isinstance(value, list):
                raise XmlFileError(f"{where} phải là một danh sách.")
            rows = etree.SubElement(element, _q(SUBJECT_ROWS))
            for index, row in enumerate(value):
                if not isinstance(row, dict):
                    raise XmlFileError(f"{where}[{index}] phải là một dict.")
                banghi = etree.SubElement(rows, _q(ROW))
                for name, text in row.items():
                    if not isinstance(name, str) or not _NAME.match(name) or name.startswith("xml"):
                        raise XmlFileError(f"Khóa {name!r} của {where}[{index}] không dùng được làm tên phần tử XML.")
                    _leaf(banghi, name, text, f"{where}[{index}].{name}")
        else:
            _leaf(element, key, value, where)


def to_xml(record: Record) -> bytes:
    """Write the record as the transcript's XML data file (UTF-8, unsigned)."""
    table = record.table
    if table not in REGIMES:
        raise XmlFileError(f"Bảng {table!r} không phải bảng học bạ số.")
    if record.regime != REGIMES[table]:
        raise XmlFileError(f"Bảng {table} đi với chế độ {REGIMES[table]}, không phải {record.regime!r}.")
    if record.schema not in SCHEMA_VERSIONS:
        raise XmlFileError(f"Không hỗ trợ phiên bản lược đồ {record.schema!r}.")
    root = etree.Element(_q(table), nsmap={None: NAMESPACE})
    root.set("phienbanluocdo", record.schema)
    root.set("thongtu", record.regime)
    _national(root, table, record.hocba, "hocba")
    for child, rows, where in ((ROW_TABLES[table], record.bangdiem, "bangdiem"),
                               (history_table(table), record.quatrinhhoctap, "quatrinhhoctap")):
        wrapper = etree.SubElement(root, _q(child))
        for index, row in enumerate(rows):
            _national(etree.SubElement(wrapper, _q(ROW)), child, row, f"{where}[{index}]")
    _extension(root, record.morong)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- Reading ----------------------------------------------------------------------------------------------


def _parse(data: bytes) -> etree._Element:
    """Parse without DTDs, entities or network; comments are dropped (a signature does not cover them)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
                             huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlFileError(f"Tệp không phải XML hợp lệ: {exc}") from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlFileError("Tệp XML có khai báo DOCTYPE: không được chấp nhận.")
    return root


def _local(element: etree._Element) -> str:
    if not isinstance(element.tag, str):
        raise XmlFileError("Tệp XML có chỉ thị xử lý (processing instruction) không được chấp nhận.")
    qname = etree.QName(element)
    if qname.namespace != NAMESPACE:
        raise XmlFileError(f"Phần tử {element.tag} không thuộc không gian tên {NAMESPACE}.")
    return qname.localname


def _children(element: etree._Element) -> list[etree._Element]:
    """The element's child elements; text between them must be white space."""
    if (element.text or "").strip():
        raise XmlFileError(f"Phần tử {etree.QName(element).localname} chứa văn bản lẫn với phần tử con.")
    children = list(element)
    for child in children:
        if (child.tail or "").strip():
            raise XmlFileError(f"Phần tử {etree.QName(element).localname} chứa văn bản lẫn với phần tử con.")
    return children


def _text(element: etree._Element) -> str:
    if len(element) or element.attrib:
        raise XmlFileError(f"Phần tử {etree.QName(element).localname} chỉ được chứa văn bản.")
    return element.text or ""


def _put(target: dict, name: str, value) -> None:
    if name in target:
        raise XmlFileError(f"Phần tử {name} xuất hiện hai lần.")
    target[name] = value


def _read_national(element: etree._Element, table: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in _children(element):
        name = _local(child)
        if name not in NATIONAL_FIELDS[table]:
            raise XmlFileError(f"Phần tử {name} không phải trường của bảng {table}.")
        _put(values, name, _text(child))
    return values


def _read_rows(element: etree._Element, table: str) -> list[dict[str, str]]:
    rows = []
    for child in _children(element):
        if _local(child) != ROW or child.attrib:
            raise XmlFileError(f"Bảng {table} chỉ chứa các phần tử <{ROW}>.")
        rows.append(_read_national(child, table))
    return rows


def _int(value: str | None, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise XmlFileError(f"Thuộc tính {name} của <{SIGNER}> phải là số nguyên.") from None


def _read_signer(element: etree._Element) -> dict:
    if _local(element) != SIGNER:
        raise XmlFileError(f"<{SIGNERS}> chỉ chứa các phần tử <{SIGNER}>.")
    extra = set(element.attrib) - set(SIGNER_ATTRIBUTES.values())
    if extra:
        raise XmlFileError(f"<{SIGNER}> có thuộc tính lạ: {', '.join(sorted(extra))}.")
    texts: dict[str, str] = {}
    subjects = []
    for child in _children(element):
        name = _local(child)
        if name == SIGNER_SUBJECT:
            subjects.append(_text(child))
        elif name in SIGNER_ELEMENTS.values():
            _put(texts, name, _text(child))
        else:
            raise XmlFileError(f"<{SIGNER}> có phần tử lạ <{name}>.")
    missing = [name for name in SIGNER_ELEMENTS.values() if name not in texts]
    if missing or element.get("vaitro") is None:
        raise XmlFileError(f"<{SIGNER}> thiếu {', '.join(missing or ['vaitro'])}.")
    user_id = element.get("manguoidung")
    return {"position": _int(element.get("thutu"), "thutu"), "stage": _int(element.get("buoc"), "buoc"),
            "role": element.get("vaitro"), "user_id": None if user_id is None else _int(user_id, "manguoidung"),
            "name": texts["hoten"], "personal_id": texts["sodinhdanh"], "subjects": subjects}


def _read_extension(element: etree._Element) -> dict:
    morong: dict = {}
    for child in _children(element):
        name = _local(child)
        if name == SIGNERS:
            _put(morong, name, [_read_signer(s) for s in _children(child)])
        elif name == SUBJECT_ROWS:
            rows = []
            for row in _children(child):
                if _local(row) != ROW or row.attrib:
                    raise XmlFileError(f"<{SUBJECT_ROWS}> chỉ chứa các phần tử <{ROW}>.")
                values: dict[str, str] = {}
                for leaf in _children(row):
                    _put(values, _local(leaf), _text(leaf))
                rows.append(values)
            _put(morong, name, rows)
        else:
            _put(morong, name, _text(child))
    return morong


def from_xml(data: bytes) -> Record:
    """Read a transcript XML file (sealed or not) back into its record; the seal is not checked (verify_xml)."""
    root = _parse(data)
    table = _local(root)
    if table not in REGIMES:
        raise XmlFileError(f"Phần tử gốc <{table}> không phải bảng học bạ số.")
    schema, regime = root.get("phienbanluocdo"), root.get("thongtu")
    if schema not in SCHEMA_VERSIONS:
        raise XmlFileError(f"Không hỗ trợ phiên bản lược đồ {schema!r}.")
    if regime != REGIMES[table]:
        raise XmlFileError(f"Bảng {table} đi với chế độ {REGIMES[table]}, không phải {regime!r}.")
    hocba: dict[str, str] = {}
    parts: dict = {}
    for child in _children(root):
        if child.tag == _SIGNATURE:
            continue
        name = _local(child)
        if name == ROW_TABLES[table]:
            _put(parts, name, _read_rows(child, name))
        elif name == history_table(table):
            _put(parts, name, _read_rows(child, name))
        elif name == EXTENSION:
            _put(parts, name, _read_extension(child))
        elif name in NATIONAL_FIELDS[table]:
            _put(hocba, name, _text(child))
        else:
            raise XmlFileError(f"Phần tử <{name}> không thuộc bảng {table}.")
    missing = [name for name in (ROW_TABLES[table], history_table(table), EXTENSION) if name not in parts]
    if missing:
        raise XmlFileError(f"Tệp XML thiếu phần tử {', '.join(missing)}.")
    return Record(table=table, regime=regime, hocba=hocba, bangdiem=parts[ROW_TABLES[table]],
                  quatrinhhoctap=parts[history_table(table)], morong=parts[EXTENSION], schema=schema)


# --- Seal -------------------------------------------------------------------------------------------------


def seal_xml(xml: bytes, *, key: SignerKey, pin: str) -> bytes:
    """Add the key holder's XAdES-BES enveloped signature to the XML; the key operation happens on its token.

    The caller reads the PIN with `tokens.pin_for` (and, for SoftHSM2, has called `tokens.configure`).
    """
    root = _parse(xml)  # refuses DTDs before endesive parses it with lxml's defaults
    if root.find(f".//{_SIGNATURE}") is not None:
        raise XmlFileError("Tệp XML đã có chữ ký số.")
    cert = cx509.load_der_x509_certificate(key.certificate)
    public = cert.public_key()

    with tokens.open_session(key.module, key.token_label, pin) as session:
        def signproc(data: bytes, algorithm: str) -> bytes:
            if algorithm != "sha256":
                raise XmlFileError(f"Thuật toán băm {algorithm} không được hỗ trợ.")
            signature = tokens.sign_sha256_rsa(session, key.key_label, data)
            try:  # a key label pointing at another key would otherwise seal files nobody can verify
                public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise tokens.TokenError(f"Khóa “{key.key_label}” trên token không khớp với chứng thư số của nó.") \
                    from None
            return signature

        tree = xades.BES().enveloped(xml, cert, key.certificate, signproc, None, None)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


# --- Verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmlVerification:
    """The outcome of checking a sealed XML file, and who sealed it when it holds."""

    ok: bool
    reason: str = ""  # why not, in Vietnamese
    common_name: str = ""  # the signer certificate's CN (the school's name for the seal)
    serial_number: str = ""  # its subject serialNumber (the school's ministry code, a person's CCCD)
    subject: str = ""
    issuer: str = ""
    signing_time: datetime | None = None  # xades:SigningTime, as claimed by the signer (no timestamp in BES)


XPATH_TRANSFORM = "http://www.w3.org/TR/1999/REC-xpath-19991116"
ENVELOPED_TRANSFORM = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
NOT_SIGNATURE = "not(ancestor-or-self::ds:Signature)"


def _remove_signatures(element: etree._Element) -> None:
    """Drop every ds:Signature subtree below `element`, keeping the text that follows it."""
    for signature in [s for s in element.iter(_SIGNATURE) if s is not element]:
        parent, previous = signature.getparent(), signature.getprevious()
        if signature.tail:
            if previous is not None:
                previous.tail = (previous.tail or "") + signature.tail
            else:
                parent.text = (parent.text or "") + signature.tail
        parent.remove(signature)


class _TrustStore(X509CertChainVerifier):
    """signxml's chain check (cryptography's X.509 path validation) against the given roots only."""

    def __init__(self, roots: list[cx509.Certificate], **kwargs):
        super().__init__(ca_pem_file="-", **kwargs)
        self.roots = roots

    @property
    def store(self):
        return cx509.verification.Store(self.roots)


class _Verifier(XAdESVerifier):
    """signxml's XAdES verifier trusting `roots` only, with endesive's XPath transform and no other unknown one."""

    known_transforms = frozenset({ENVELOPED_TRANSFORM, XPATH_TRANSFORM, *(m.value for m in CanonicalizationMethod)})

    def __init__(self, roots: list[cx509.Certificate]):
        super().__init__()
        self.roots = roots

    def get_cert_chain_verifier(self, ca_pem_file, ee_policy, ca_policy):
        return _TrustStore(self.roots, verification_time=self._get_cert_verification_time(), ee_policy=ee_policy,
                           ca_policy=ca_policy)

    def _apply_transforms(self, payload, *, transforms_node, signature):
        for transform in [] if transforms_node is None else self._findall(transforms_node, "Transform"):
            algorithm = transform.get("Algorithm")
            if algorithm not in self.known_transforms:
                raise sx.InvalidInput(f"Unsupported transform {algorithm}")
            if algorithm == XPATH_TRANSFORM:
                # XPath filtering (XMLDSig 1.0 §6.6.3) with endesive's expression keeps every node outside a
                # ds:Signature; the node-set is then canonicalised with C14N 1.0 (default_reference_c14n_method).
                xpath = transform.find(f"{{{DS_NS}}}XPath")
                if xpath is None or (xpath.text or "").strip() != NOT_SIGNATURE or xpath.nsmap.get("ds") != DS_NS:
                    raise sx.InvalidInput("Unsupported XPath transform")
                if not isinstance(payload, etree._Element):
                    raise sx.InvalidInput("XPath transform of octets")
                _remove_signatures(payload)
        return super()._apply_transforms(payload, transforms_node=transforms_node, signature=signature)


def _c14n_without_signatures(root: etree._Element) -> bytes:
    copy = etree.fromstring(etree.tostring(root))
    _remove_signatures(copy)
    return etree.tostring(copy, method="c14n", exclusive=False, with_comments=False)


def verify_xml(data: bytes, *, trust_roots: list, at: datetime | None = None) -> XmlVerification:
    """Check the file's XAdES signature, that it covers the whole file and that its certificate chains to a root.

    `trust_roots` are asn1crypto certificates; certificates are checked at `at` (default: now).
    """
    try:
        root = _parse(data)
    except XmlFileError as exc:
        return XmlVerification(False, reason=str(exc))
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        return XmlVerification(False, reason="Tệp XML không có chữ ký số.")
    if len(signatures) > 1 or signatures[0].getparent() is not root:
        return XmlVerification(False, reason="Tệp XML có nhiều chữ ký số hoặc chữ ký đặt sai vị trí.")
    config = XAdESSignatureConfiguration(
        location="./", expect_references=2, signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
        verification_time=at or datetime.now(UTC))
    roots = [cx509.load_der_x509_certificate(cert.dump()) for cert in trust_roots]
    try:
        results = _Verifier(roots).verify(data, expect_config=config, parser=etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True))
    except sx.InvalidDigest:
        return XmlVerification(False, reason="Nội dung tệp hoặc thuộc tính chữ ký đã bị thay đổi sau khi ký "
                                             "(giá trị băm không khớp).")
    except sx.InvalidCertificate:
        return XmlVerification(False, reason="Chứng thư số của bên ký không được tin cậy: không do tổ chức cấp "
                                             "chứng thư được tin cậy cấp, hết hạn hoặc không dùng để ký.")
    except sx.InvalidSignature:
        return XmlVerification(False, reason="Chữ ký số không hợp lệ: không khớp với nội dung đã ký.")
    except (sx.SignXMLException, ValueError, etree.LxmlError):
        return XmlVerification(False, reason="Cấu trúc chữ ký số không hợp lệ hoặc không được hỗ trợ.")
    # See what is signed: one reference must be the whole file minus the signature.
    whole = _c14n_without_signatures(root)
    if not any(result.signed_data == whole for result in results):
        return XmlVerification(False, reason="Chữ ký số không bao trùm toàn bộ nội dung tệp.")
    certificate = signatures[0].find(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
    cert = ax509.Certificate.load(b64decode(certificate.text))
    subject = cert.subject.native
    signing_time = None
    for result in results:
        properties = getattr(result, "signed_properties", None)
        when = None if properties is None else properties.find(f"{{{XADES_NS}}}SigningTime")
        if when is not None and when.text:
            try:
                signing_time = datetime.fromisoformat(when.text.strip())
            except ValueError:
                return XmlVerification(False, reason="Thời điểm ký trong chữ ký số không hợp lệ.")
    return XmlVerification(True, common_name=subject.get("common_name", ""),
                           serial_number=subject.get("serial_number", ""), subject=cert.subject.human_friendly,
                           issuer=cert.issuer.human_friendly, signing_time=signing_time)
