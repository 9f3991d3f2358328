"""A joint letter's `[pdf]`: the printed letter on letterhead, one per office or one shared.

Made at queue time with the message, from the letter's own template in the one
sandboxed environment (templates/), and stored frozen with it: what `letters
preview --format pdf` wrote is byte for byte what the office receives. The two
contacts of one office get the same file, laid out once (pdf_render.py keeps
what it made; the layout is most of the cost).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from capitolmail.attachment import Attachment, safe_filename
from capitolmail.errors import InputError
from capitolmail.letters.definition import Letter
from capitolmail.letters.letter_tables import PdfOptions
from capitolmail.letters.pdf_pool import AHEAD, lay_out_ahead
from capitolmail.letters.pdf_render import render_pdf, weasyprint_module
from capitolmail.letters.recipient_shape import RecipientShape
from capitolmail.templates.render import LetterTemplates

PDF_TYPE = "application/pdf"
# Every PDF embeds the logo; a large one would make every office's message large.
MAX_LOGO_BYTES = 2_000_000
_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_LOGO_TYPES[".svg"] = "image/svg+xml"
# What the PDF template sees beside `pdf` and `date`; never the staff contact, so an
# office's PDF is the same for each of its contacts and fit to print once.
OFFICE_NAMES = ("signers", "organisation", "sender", "letter", "legislator", "recipient")
SHARED_NAMES = ("signers", "organisation", "sender", "letter")


def us_date(day: date) -> str:
    """ "December 1, 2026": a US letter's date line."""
    return f"{day:%B} {day.day}, {day.year}"


def letter_day(options: PdfOptions | None, timezone: str, now: datetime | None = None) -> date:
    """[pdf] date, or today where the team works (a letter queued at 8 pm in
    Washington is dated that day, not tomorrow's UTC date)."""
    if options is not None and options.date is not None:
        return options.date
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


@dataclass
class PdfLetter:
    """The prepared `[pdf]` of one letter: options, date line, logo; renders per recipient."""

    letter: Letter
    templates: LetterTemplates
    options: PdfOptions
    date_line: str
    logo_uri: str | None

    @property
    def per_office(self) -> bool:
        return self.options.per_office

    def context(self, names: Mapping[str, Any]) -> dict[str, Any]:
        """The template's names: the recipient's, minus the contact, plus `pdf` and `date`."""
        wanted = OFFICE_NAMES if self.per_office else SHARED_NAMES
        context = {name: names[name] for name in wanted if name in names}
        if isinstance(context.get("recipient"), RecipientShape):
            # The printed letter is the office's, not the staffer's: the same for every
            # contact (a team's template that prints the email must not split it).
            context["recipient"] = replace(context["recipient"], email="")
        context["date"] = self.date_line
        context["pdf"] = {
            "logo": self.logo_uri,
            "re": self.options.re,
            "columns": self.options.columns,
            "per_office": self.per_office,
        }
        return context

    def filename(self, office_id: str | None) -> str:
        stem = self.options.filename or self.letter.slug
        if self.per_office and office_id:
            stem = f"{stem}-{office_id}"
        return safe_filename(f"{stem}.pdf")

    def html(self, names: Mapping[str, Any]) -> str:
        return self.templates.render_document(self.context(names))

    def attachment(self, names: Mapping[str, Any], office_id: str | None) -> Attachment:
        """The PDF for one recipient: laid out now, or found made (the same office's from
        a moment ago, or the pool's, pdf_pool.py)."""
        html = self.html(names)
        return Attachment(
            filename=self.filename(office_id),
            content_type=PDF_TYPE,
            content=render_pdf(html, source=self.source),
            fingerprint=self._fingerprint(html),
        )

    @property
    def source(self) -> str:
        path = self.letter.pdf_template
        return self.letter.display(path.name) if path is not None else self.letter.display_path

    def _fingerprint(self, html: str) -> str:
        """What the PDF says without its date, for the resend check (attachment.py)."""
        return hashlib.sha256(html.replace(self.date_line, "").encode("utf-8")).hexdigest()


@dataclass
class Lookahead:
    """Which offices' PDFs are made or on their way to the pool.

    The pool starts at the second office asked for: a preview wants one, and a
    queue asks for every office in order, so from then on the next AHEAD offices
    are laid out together on every core.
    """

    asked: set[str] = field(default_factory=set)

    def before(
        self, office: str, order: Sequence[str], html_for: Callable[[str], str | None]
    ) -> None:
        if office in self.asked:
            return
        first = not self.asked
        self.asked.add(office)
        if first or office not in order:
            return
        start = order.index(office)
        batch = [office] + [o for o in order[start + 1 : start + AHEAD] if o not in self.asked]
        self.asked.update(batch)
        htmls = [html for html in map(html_for, batch) if html is not None]
        lay_out_ahead(htmls)


def prepare_pdf(
    letter: Letter, templates: LetterTemplates, *, timezone: str, now: datetime | None = None
) -> PdfLetter | None:
    """The letter's [pdf], checked (logo type and size) before anything renders."""
    options = letter.definition.pdf
    if options is None:
        return None
    weasyprint_module()  # a missing system library is said once, before anything renders
    return PdfLetter(
        letter=letter,
        templates=templates,
        options=options,
        date_line=us_date(letter_day(options, timezone, now)),
        logo_uri=_logo_uri(letter.logo_file, letter.display_path),
    )


def _logo_uri(path: Path | None, source: str) -> str | None:
    """The logo as a data: URL, the one resource a PDF may load (pdf_render.py)."""
    if path is None:
        return None
    kind = _LOGO_TYPES.get(path.suffix.casefold())
    if kind is None:
        raise InputError(f'[pdf] logo "{path.name}" must be a PNG, JPEG or SVG file', path=source)
    data = path.read_bytes()
    if len(data) > MAX_LOGO_BYTES:
        raise InputError(
            f'[pdf] logo "{path.name}" is {len(data):,} bytes; every PDF carries it, so keep it '
            f"under {MAX_LOGO_BYTES:,}",
            path=source,
        )
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
