"""The write paths of period data, each driven through its real entry point.

A path writes one value for one student and answers an `Outcome`: the HTTP status (200 saved, 423 locked,
…), the message the user is shown and the value the field shows afterwards. `stored()` reads the value back
from the database. HTTP paths sign their teacher in on the first write, so a test may arrange locks and
grants (as other users) before it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import lxml.html
from openpyxl import load_workbook
from sqlmodel import select

from portal.errors import DomainError
from portal.gradebook import service as gradebook
from portal.gradebook import xlsx
from portal.models import Assessment, StudentRecord, SubjectComment
from tests.enforcement import helpers
from tests.enforcement.helpers import HX, reading, writing


@dataclass
class Outcome:
    status: int
    message: str = ""  # what the user reads next to the field (or on the page)
    shown: str | None = None  # the value the field shows after the answer (None: the path shows no field)


def _text(elements) -> str:
    return " ".join(" ".join(e.text_content().split()) for e in elements)


class Path:
    """One write path. Subclasses set where it writes and how."""

    name: str
    class_name = "6A1"
    subject_code: str | None = None  # None: a homeroom entry
    term = "hk1"
    slot: str | None = None  # the cell's slot, or the homeroom entry's key
    period: str  # the period the write belongs to
    teacher: str  # the username allowed to write it (the assigned teacher, or the homeroom teacher)
    action: str  # its audit action
    values = ("8", "9")  # (typed first, typed second)
    stored_values = ("8", "9")  # as stored

    def __init__(self, app, client=None, login_as=None, **overrides):
        self.app, self.client, self.login_as = app, client, login_as
        for name, value in overrides.items():  # e.g. slot="gk", period="gk1"
            assert hasattr(self, name), name
            setattr(self, name, value)
        self.signed_in = False
        with reading(app) as session:
            target = helpers.klass(session, self.class_name)
            self.class_id, self.grade_id = target.id, target.grade_id
            self.subject_id = helpers.subject(session, self.class_name, self.subject_code).id \
                if self.subject_code else None
            self.students = [s.id for _, s in gradebook.class_roster(session, target.id)][:3]

    def __repr__(self) -> str:
        return self.name

    homeroom_teacher = "hoant"  # of the class: the one who may ask to unlock its homeroom entries
    other_class = "6A2"  # another class of the same grade
    other_grade_class = "7A1"  # a class of another grade

    @property
    def homeroom(self) -> bool:
        return self.subject_code is None

    def other_kind(self) -> dict:
        """A grant of the other kind for the same period and class: a homeroom grant (no subject) for a subject
        path, a subject grant (Toán, asked by its teacher) for a homeroom path."""
        if self.homeroom:
            return {"subject_code": "toan", "requester": "hoant"}
        return {"subject_code": None, "requester": self.homeroom_teacher}

    def sign_in(self) -> None:
        if not self.signed_in:
            self.login_as(username=self.teacher)
            self.signed_in = True

    def row(self, session, student_id: int):
        raise NotImplementedError

    def stored(self, student_id: int) -> str | None:
        with reading(self.app) as session:
            row = self.row(session, student_id)
            if row is None:
                return None
            return row.text if isinstance(row, SubjectComment) else row.value

    def version(self, student_id: int) -> int:
        with reading(self.app) as session:
            row = self.row(session, student_id)
            return row.version if row else 0

    def write(self, raw: str, student_id: int) -> Outcome:
        raise NotImplementedError


class _AssessmentRow:
    def row(self, session, student_id: int):
        return session.exec(select(Assessment).where(
            Assessment.student_id == student_id, Assessment.subject_id == self.subject_id,
            Assessment.term == self.term, Assessment.slot == self.slot)).first()


class _CommentRow:
    def row(self, session, student_id: int):
        return session.exec(select(SubjectComment).where(
            SubjectComment.student_id == student_id, SubjectComment.subject_id == self.subject_id,
            SubjectComment.term == self.term)).first()


class _RecordRow:
    def row(self, session, student_id: int):
        return session.exec(select(StudentRecord).where(
            StudentRecord.student_id == student_id, StudentRecord.term == self.term,
            StudentRecord.key == self.slot)).first()


# --- HTTP ------------------------------------------------------------------------------------------------------


class GridCell(_AssessmentRow, Path):
    """(a) A grid cell: POST /giang-day/<class>/<subject>/<term>/o, answered with the cell fragment."""

    name = "grid-cell"
    subject_code, slot, period, teacher, action = "toan", "ck", "ck1", "hoant", "assessment.saved"

    def write(self, raw, student_id):
        self.sign_in()
        response = self.client.post(
            f"/giang-day/{self.class_id}/{self.subject_id}/{self.term}/o", headers=HX,
            data={"student_id": student_id, "slot": self.slot, "value": raw, "version": self.version(student_id)})
        form = lxml.html.fragments_fromstring(response.get_data(as_text=True).strip())[0]
        assert form.get("id") == f"cell-{student_id}-{self.slot}", "the answer is the cell itself"
        return Outcome(response.status_code, _text(form.xpath(".//p[@class='cell-msg']")),
                       form.xpath(".//input[@name='value']")[0].get("value"))


class SubjectCommentField(_CommentRow, Path):
    """(b) A subject comment: POST /giang-day/<class>/<subject>/<term>/nhan-xet (Tin học, HK II → ck2)."""

    name = "subject-comment"
    subject_code, term, period, teacher, action = "tinhoc", "hk2", "ck2", "tuanlm", "comment.saved"
    values = stored_values = ("Chăm chỉ, tiến bộ.", "Cần cẩn thận hơn khi làm bài.")

    def write(self, raw, student_id):
        self.sign_in()
        response = self.client.post(
            f"/giang-day/{self.class_id}/{self.subject_id}/{self.term}/nhan-xet", headers=HX,
            data={"student_id": student_id, "text": raw, "version": self.version(student_id)})
        form = lxml.html.fragments_fromstring(response.get_data(as_text=True).strip())[0]
        assert form.get("id") == f"comment-{student_id}"
        return Outcome(response.status_code, _text(form.xpath(".//p[@class='cell-msg']")),
                       form.xpath(".//textarea")[0].text_content())


class XlsxUpload(_AssessmentRow, Path):
    """(c) An Excel sheet: download the template, fill the CK column, upload (preview), commit."""

    name = "xlsx-upload"
    subject_code, slot, period, teacher, action = "toan", "ck", "ck1", "hoant", "assessment.saved"

    def base(self) -> str:
        return f"/giang-day/{self.class_id}/{self.subject_id}/{self.term}"

    def write(self, raw, student_id, **more: str):
        """Write `raw` in this path's column for the student; `more` adds other columns (header → value)."""
        self.sign_in()
        template = self.client.get(f"{self.base()}/mau.xlsx")
        assert template.status_code == 200
        book = load_workbook(io.BytesIO(template.data))
        sheet = book[xlsx.DATA_SHEET]
        headers = {sheet.cell(row=xlsx.HEADER_ROW, column=c).value: c for c in range(1, sheet.max_column + 1)}
        row = xlsx.FIRST_ROW + self.roster().index(student_id)
        for header, value in {self.slot.upper(): raw, **more}.items():
            sheet.cell(row=row, column=headers[header]).value = value
        out = io.BytesIO()
        book.save(out)
        preview = self.client.post(f"{self.base()}/tai-len", content_type="multipart/form-data",
                                   data={"file": (io.BytesIO(out.getvalue()), "Diem.xlsx")})
        page = lxml.html.document_fromstring(preview.get_data(as_text=True))
        assert preview.status_code == 200 and page.xpath("//input[@name='token']"), "the preview offers a commit"
        form = {name: page.xpath(f"//input[@name='{name}']")[0].get("value") for name in ("token", "sha256")}
        response = self.client.post(f"{self.base()}/tai-len/ghi", data=form)
        page = lxml.html.document_fromstring(response.get_data(as_text=True))
        message = _text(page.xpath("//*[@id='xlsx-rejected'] | //*[@id='xlsx-issues']//td"))
        return Outcome(response.status_code, message, None)

    def roster(self) -> list[int]:
        with reading(self.app) as session:
            return [s.id for _, s in gradebook.class_roster(session, self.class_id)]


class HomeroomField(_RecordRow, Path):
    """(d) A homeroom entry: POST /chu-nhiem/<class>/ghi, answered with the field (conduct of HK I → ck1)."""

    name = "homeroom-term"
    slot, period, teacher, action = "conduct", "ck1", "hoant", "record.saved"
    values = stored_values = ("T", "K")

    def write(self, raw, student_id):
        self.sign_in()
        response = self.client.post(f"/chu-nhiem/{self.class_id}/ghi", headers=HX, data={
            "student_id": student_id, "term": self.term, "key": self.slot, "value": raw,
            "version": self.version(student_id)})
        form = lxml.html.fragments_fromstring(response.get_data(as_text=True).strip())[0]
        assert form.get("id") == f"hr-{student_id}-{self.term}-{self.slot}"
        field = form.xpath(".//*[@name='value']")[0]
        if field.tag == "select":
            selected = field.xpath("./option[@selected]")
            shown = selected[0].get("value") if selected else ""
        elif field.tag == "textarea":
            shown = field.text_content()
        else:
            shown = field.get("value")
        return Outcome(response.status_code, _text(form.xpath(".//small[@class='hr-msg']")), shown)


class HomeroomYearField(HomeroomField):
    """(d) A year entry of the homeroom teacher: the homeroom comment (term "year" → cn)."""

    name = "homeroom-year"
    term, slot, period = "year", "homeroom_comment", "cn"
    values = stored_values = ("Ngoan, học tốt.", "Ngoan, học tốt, tích cực phát biểu.")


# --- The service layer, called directly ------------------------------------------------------------------------


class _Service(Path):
    """(e) A crafted call of the service function itself, as any caller (a script, a future screen) would make."""

    def call(self, session, raw, student_id, version):
        raise NotImplementedError

    def write(self, raw, student_id):
        version = self.version(student_id)
        try:
            with writing(self.app) as session:
                self.call(session, raw, student_id, version)
        except DomainError as exc:
            return Outcome(exc.status, str(exc), None)
        return Outcome(200, "", None)


class ServiceCell(_AssessmentRow, _Service):
    """save_cell on another grade: 7A1 Tin học, mid-term of HK II (slot gk → gk2)."""

    name = "service-cell"
    class_name, subject_code, term, slot, period = "7A1", "tinhoc", "hk2", "gk", "gk2"
    teacher, action, homeroom_teacher = "tuanlm", "assessment.saved", "ngocbt"
    other_class, other_grade_class = "7A2", "6A1"

    def call(self, session, raw, student_id, version):
        gradebook.save_cell(session=session, actor=helpers.actor(session, self.teacher), class_id=self.class_id,
                            subject_id=self.subject_id, term=self.term, student_id=student_id, slot=self.slot,
                            raw=raw, version=version)


class ServiceRecord(_RecordRow, _Service):
    """save_record: absences of HK II (→ ck2)."""

    name = "service-record"
    term, slot, period, teacher, action = "hk2", "absences_excused", "ck2", "hoant", "record.saved"
    values = stored_values = ("2", "5")

    def call(self, session, raw, student_id, version):
        gradebook.save_record(session=session, actor=helpers.actor(session, self.teacher), class_id=self.class_id,
                              student_id=student_id, term=self.term, key=self.slot, raw=raw, version=version)
