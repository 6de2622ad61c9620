"""Render one transcript (a `Record`) to PDF with WeasyPrint on the paper template of its level.

The page is Jinja (``templates/transcripts/pdf_tt22.html`` or ``pdf_tt27.html``) rendered by a private
environment on the ``templates/`` folder: it needs no app or request context (RQ workers and tests render
the same way) and runs no context processor (they query the database). Nothing is fetched: the photo and
the QR code are data: URIs and the URL fetcher refuses every other scheme. The XML record is attached to
the PDF, so the signatures over the file cover both the rendering and the data.

WeasyPrint costs ~0.6 s to import and its font configuration tens of milliseconds to build: a warm
process (an RQ worker that imported this module) keeps both, plus the parsed stylesheet, per thread.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from functools import lru_cache

import jinja2
import qrcode
import weasyprint
from qrcode.image.pil import PilImage
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from portal.transcripts import rules
from portal.transcripts.data import Record

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "templates")
PAGES = {"tt22": "transcripts/pdf_tt22.html", "tt27": "transcripts/pdf_tt27.html"}
STYLESHEET = "transcripts/pdf.css"
PHOTO_TYPES = ("image/jpeg", "image/png")
QR_SCALE = 8  # pixels a module
QR_BORDER = 2  # modules of quiet zone (the page margin around it is white too)


class RenderError(Exception):
    """The transcript cannot be rendered (an unknown regime, a photo of a type the PDF cannot hold)."""


class DataOnlyFetcher(URLFetcher):
    """Fetch data: URIs only: a transcript never reaches the network or the file system."""

    def fetch(self, url, headers=None):
        if not url.startswith("data:"):
            raise ValueError(f"transcripts fetch nothing but data: URIs, not {url[:60]!r}")
        return super().fetch(url, headers)


@lru_cache(maxsize=1)
def jinja_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(score=rules.show_score, level=rules.show_level, mastery=rules.show_mastery,
                       rating=rules.show_rating, sex=rules.show_sex, vndate=rules.show_date,
                       longdate=rules.show_long_date, ethnicity=rules.show_ethnicity,
                       nationality=rules.show_nationality, count=rules.show_count, number=rules.show_number)
    env.globals.update(rules=rules)
    return env


_local = threading.local()


def _warm() -> tuple[FontConfiguration, weasyprint.CSS, DataOnlyFetcher]:
    """This thread's font configuration, parsed stylesheet and fetcher (WeasyPrint objects are not shared)."""
    if not hasattr(_local, "fonts"):
        fonts = FontConfiguration()
        fetcher = DataOnlyFetcher(allowed_protocols=("data",))
        css_text = jinja_env().loader.get_source(jinja_env(), STYLESHEET)[0]
        _local.fonts = fonts
        _local.fetcher = fetcher
        _local.css = weasyprint.CSS(string=css_text, font_config=fonts, url_fetcher=fetcher)
    return _local.fonts, _local.css, _local.fetcher


def warm_up() -> None:
    """Build the cached font configuration, stylesheet and templates (call before forking workers)."""
    _warm()
    for name in PAGES.values():
        jinja_env().get_template(name)


def qr_png(text: str, *, scale: int = QR_SCALE) -> bytes:
    """A QR code of `text` as a 1-bit PNG, `scale` pixels a module with a 2-module quiet zone.

    The page shows it with ``image-rendering: pixelated`` (no interpolation): edges stay sharp at any zoom,
    and the one image is shared by every page, which draws faster than a vector path repeated per page.
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=scale, border=QR_BORDER,
                       image_factory=PilImage)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out, kind="PNG")
    return out.getvalue()


def data_uri(mime: str, content: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def render_html(record: Record, *, photo: bytes | None, photo_mime: str | None, verify_url: str) -> str:
    """The transcript page as HTML (the stylesheet is passed to WeasyPrint separately)."""
    if record.regime not in PAGES:
        raise RenderError(f"Không có mẫu học bạ cho chế độ {record.regime!r}.")
    photo_src = None
    if photo:
        if photo_mime not in PHOTO_TYPES:
            raise RenderError(f"Ảnh học sinh phải là JPEG hoặc PNG, không phải {photo_mime!r}.")
        photo_src = data_uri(photo_mime, photo)
    qr = data_uri("image/png", qr_png(verify_url))
    return jinja_env().get_template(PAGES[record.regime]).render(
        r=record, h=record.hocba, signers=record.morong.get("chuky", []), rows=rules.subject_rows(record),
        photo_src=photo_src, qr_src=qr, verify_url=verify_url, verify_code=record.morong.get("mamaxacthuc", ""))


def render_pdf(record: Record, *, photo: bytes | None, photo_mime: str | None, verify_url: str, xml: bytes,
               xml_name: str) -> bytes:
    """Render the transcript on its level's paper template; return the PDF with the XML attached."""
    html = render_html(record, photo=photo, photo_mime=photo_mime, verify_url=verify_url)
    fonts, css, fetcher = _warm()
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    attachment = weasyprint.Attachment(file_obj=io.BytesIO(xml), name=xml_name, url_fetcher=fetcher,
                                       description="Dữ liệu học bạ số (XML)", relationship="Data")
    return document.write_pdf(stylesheets=[css], font_config=fonts, attachments=[attachment])
