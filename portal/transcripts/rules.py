"""How a transcript shows the national record: pure display rules for the PDF and the agreement test.

The record (``portal.transcripts.data.Record``) keeps the national encodings ("7.9", "T", "CĐ", "1",
"2014-06-24"); the paper template shows them in Vietnamese ("7,9", "Tốt", "Chưa đạt", "Nam",
"24/06/2014"). Every function here takes and returns plain strings. `displayed_values` lists, in the
order of the page, every value the PDF must show, so a test can read the PDF back and compare.
"""

from __future__ import annotations

import re
from datetime import date

from portal.catalog import ETHNICITIES

SCORE = re.compile(r"^\d{1,2}(\.\d{1,2})?$")

# TT22: results of learning and conduct (hocky1, renluyencanam, kqhoctaplai, ...).
LEVELS = {"T": "Tốt", "K": "Khá", "Đ": "Đạt", "CĐ": "Chưa đạt"}
# TT27: a subject's level (mucdatduoc).
MASTERY = {"T": "Hoàn thành tốt", "H": "Hoàn thành", "C": "Chưa hoàn thành", "M": "Miễn"}
# TT27: qualities and competencies (phamchat*, nangluc*).
RATINGS = {"T": "Tốt", "Đ": "Đạt", "C": "Cần cố gắng"}
SEXES = {"1": "Nam", "2": "Nữ", "0": ""}
NATIONALITIES = {"VN": "Việt Nam"}

TT27_QUALITIES = {"phamchatyeunuoc": "Yêu nước", "phamchatnhanai": "Nhân ái", "phamchatchamchi": "Chăm chỉ",
                  "phamchattrungthuc": "Trung thực", "phamchattrachnhiem": "Trách nhiệm"}
TT27_GENERAL = {"nangluctuhoc": "Tự chủ và tự học", "nanglucgiaotiep": "Giao tiếp và hợp tác",
                "nanglucgiaiquyet": "Giải quyết vấn đề và sáng tạo"}
TT27_SPECIFIC = {"nanglucngonngu": "Ngôn ngữ", "nangluctinhtoan": "Tính toán", "nangluckhoahoc": "Khoa học",
                 "nangluccongnghe": "Công nghệ", "nangluctinhoc": "Tin học", "nanglucthammi": "Thẩm mĩ",
                 "nanglucthechat": "Thể chất"}
ROLES = {"subject": "Giáo viên môn học", "homeroom": "Giáo viên chủ nhiệm", "principal": "Hiệu trưởng",
         "school": "Con dấu số của nhà trường"}


def show_score(value: str) -> str:
    """Show a TT22 result: a score with a decimal comma ("7.9" → "7,9"); "Đ", "CĐ", "M" as they are."""
    value = (value or "").strip()
    return value.replace(".", ",") if SCORE.match(value) else value


def show_level(value: str) -> str:
    """Show a TT22 level of learning or conduct: T/K/Đ/CĐ → Tốt/Khá/Đạt/Chưa đạt."""
    return LEVELS.get(value or "", value or "")


def show_mastery(value: str) -> str:
    """Show a TT27 subject level: T/H/C → Hoàn thành tốt/Hoàn thành/Chưa hoàn thành; M → Miễn."""
    return MASTERY.get(value or "", value or "")


def show_rating(value: str) -> str:
    """Show a TT27 quality or competency: T/Đ/C → Tốt/Đạt/Cần cố gắng."""
    return RATINGS.get(value or "", value or "")


def show_sex(value: str) -> str:
    """Show gioitinh: 1/2/0 → Nam/Nữ/""."""
    return SEXES.get(value or "", "")


def show_date(value: str) -> str:
    """Show an ISO date (YYYY-MM-DD) as dd/mm/yyyy; "" stays ""."""
    if not value:
        return ""
    day = date.fromisoformat(value[:10])
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def show_long_date(value: str) -> str:
    """Show an ISO date as on a signed document: "ngày 05 tháng 01 năm 2025", "ngày 31 tháng 5 năm 2025".

    Decree 30/2020/NĐ-CP writes a leading zero for days below 10 and for months 1 and 2.
    """
    if not value:
        return "ngày … tháng … năm …"
    day = date.fromisoformat(value[:10])
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def show_ethnicity(code: str) -> str:
    """Show dantoc: the QCVN 109 code's name ("01" → "Kinh")."""
    return ETHNICITIES.get(code or "", code or "")


def show_nationality(code: str) -> str:
    """Show quoctich: "VN" → "Việt Nam"; other codes as they are."""
    return NATIONALITIES.get(code or "", code or "")


def show_number(value: str) -> str:
    """Show a decimal (cannang, chieucao, counts) with a decimal comma and no trailing zeros: "32.50" → "32,5"."""
    value = (value or "").strip()
    if not re.match(r"^\d+(\.\d+)?$", value):
        return value
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.replace(".", ",")


def show_count(value: str) -> str:
    """Show a count of sessions (sobuoinghi, nghicophep): "2", "2.5" → "2,5"; "" → "0"."""
    return show_number(value) or "0"


def level_title(makhoi: str) -> str:
    """The level printed under "HỌC BẠ", from the grade (makhoi)."""
    grade = int(makhoi) if (makhoi or "").isdigit() else 0
    if 1 <= grade <= 5:
        return "TIỂU HỌC"
    if 6 <= grade <= 9:
        return "TRUNG HỌC CƠ SỞ"
    return "TRUNG HỌC PHỔ THÔNG"


def signer_titles(chucvu: str) -> list[str]:
    """The title lines above a school leader's signature: a deputy signs "KT. HIỆU TRƯỞNG"."""
    title = (chucvu or "Hiệu trưởng").strip()
    if title.lower() == "hiệu trưởng":
        return ["HIỆU TRƯỞNG"]
    if "phó hiệu trưởng" in title.lower():
        return ["KT. HIỆU TRƯỞNG", title.upper()]
    return [title.upper()]


def signer_label(signer: dict) -> str:
    """One line of the signature chain: who signs and for what."""
    role = ROLES.get(signer["role"], signer["role"])
    if signer["role"] == "subject" and signer.get("subjects"):
        return f"{role}: {', '.join(signer['subjects'])}"
    if signer.get("subjects"):  # a homeroom teacher or principal who also teaches: one signature for both
        return f"{role}; {ROLES['subject'].lower()}: {', '.join(signer['subjects'])}"
    return role


def completion_text(hocba: dict[str, str]) -> str:
    """TT27 item 6: the completion statement (ndunghoanthanh), or what was not completed."""
    if hocba.get("ndunghoanthanh"):
        return hocba["ndunghoanthanh"]
    if hocba.get("dahthanhctrinhlophoc") == "1":
        return "Hoàn thành chương trình lớp học"
    return "Chưa hoàn thành chương trình lớp học"


def subject_rows(record) -> list[list[str]]:
    """Each subject row's cells as shown, left to right (TT22: name, HK I, HK II, year, retake, comment,
    teacher; TT27: name, level, periodic test, comment, teacher)."""
    rows = []
    if record.regime == "tt22":
        for row in record.bangdiem:
            rows.append([row["tenmonhoc"], show_score(row["diemhocky1"]), show_score(row["diemhocky2"]),
                         show_score(row["diemcanam"]), show_score(row["diemkttralai"]), row["nxetmonhoc"],
                         row["gvbm"]])
    else:
        extra = record.morong.get("monhoc", [])
        for index, row in enumerate(record.bangdiem):
            more = extra[index] if index < len(extra) else {}
            rows.append([row["tenmonhoc"], show_mastery(row["mucdatduoc"]), show_score(row["diemkiemtradinhky"]),
                         more.get("nxetmonhoc", ""), more.get("gvbm", "")])
    return rows


def displayed_values(record) -> list[str]:
    """Every value of the record that the PDF shows, in display form, section by section as on the page.

    The running header's identifier, verification code and version come first (they are on every page).
    Empty values are left out (the page shows a blank or a dash for them). Labels are not listed.
    """
    h = record.hocba
    out = [h["madinhdanhhocba"], record.morong.get("mamaxacthuc", ""), h["phienbanthongtinhocba"],
           h["tensogd"].upper(), h["tentruong"].upper(), level_title(h["makhoi"]), h["thongtu"],
           h["tentruong"], h["matruong"], h["thongtintruong_diachi_tenxa"], h.get("tenhuyen", ""),
           h["thongtintruong_diachi_tentinh"],
           h["hovaten"], show_sex(h["gioitinh"]), show_date(h["ngaythangnamsinh"]), h["noisinh_diachichitiet"],
           show_ethnicity(h["dantoc"]), show_nationality(h["quoctich"]), h["quequan_diachichitiet"],
           h["noiohiennay_diachichitiet"], h["doituongchinhsach"], h["mahocsinh"], h["sodinhdanh"],
           h["sosodangbo"]]
    for who in ("cha", "me", "nguoigiamho"):
        out += [h.get(f"hoten{who}", ""), h.get(f"nghenghiep{who}", "")]
    for item in record.quatrinhhoctap:
        out += [item["namhoc"], item["tenlop"], item["tentruong"], item.get("tentinh", ""),
                show_date(item.get("ngaytrangthaichuyenden", ""))]
    for signer in record.morong.get("chuky", []):
        out += [signer["name"], signer_label(signer)]
    out += [h["tenlop"], h["namhoc"]]
    if record.regime == "tt27":
        out += [show_count(h["nghicophep"]), show_count(h["nghikhongphep"]), show_number(h.get("chieucao", "")),
                show_number(h.get("cannang", ""))]
    for row in subject_rows(record):
        out += row
    if record.regime == "tt22":
        for conduct, learning in (("renluyenhocky1", "hocky1"), ("renluyenhocky2", "hocky2"),
                                  ("renluyencanam", "canam")):
            out += [show_level(h[conduct]), show_level(h[learning])]
        out += [show_count(h["sobuoinghi"]), show_count(record.morong.get("nghicophep", "")),
                show_count(record.morong.get("nghikhongphep", "")), h["ndungduoclenlop"],
                show_level(h["kqhoctaplai"]), show_level(h["renluyenlai"]), h["ndungkquarenluyen"],
                h["ndunghoanthanh"], h["kquathamgiacuocthi"], h["ndungkhenthuong"]]
    else:
        for fields, comment in ((TT27_QUALITIES, "nxetphamchat"), (TT27_GENERAL, "nxetnanglucchung"),
                                (TT27_SPECIFIC, "nxetnanglucdacthu")):
            out += [show_rating(h[name]) for name in fields]
            out.append(h[comment])
        out += [h["xeploai"], h["ndungkhenthuong"], h["ndungkhenthuongdotxuat"], completion_text(h)]
    out += [h["nxetgvcn"], h["tengvcn"], h["diadanhphathanh"], show_long_date(h["ngaykyphathanh"]),
            *signer_titles(h["chucvugiamhieu"]), h["tengiamhieu"]]
    return [value for value in out if value]
