"""The hand-delivery packet: the letter's PDF for each office, and one file to print.

GR staff walk the letter to the offices that matter most. The packet is every
selected office's PDF (offices without an email contact too: paper reaches them
all the same), made exactly as the messages' attachments are, and, with
`combined`, one PDF to print in one go: an index page listing each office, its
building and the page its letter starts on, then every office's letter.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from capitolmail.attachment import Attachment
from capitolmail.errors import CapitolmailError, InputError
from capitolmail.letters.addressee import for_legislator
from capitolmail.letters.kind import LetterKind
from capitolmail.letters.kinds.joint import JointLetter
from capitolmail.letters.pdf_pool import AHEAD, lay_out_ahead
from capitolmail.letters.pdf_render import render_pdf

_INDEX_STYLE = """
@page { size: letter; margin: 0.9in 1in; }
html { font-family: "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 10pt; color: #111; }
h1 { font-size: 15pt; color: #1f3a5f; margin: 0 0 4pt 0; }
p { margin: 0 0 14pt 0; color: #444; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; border-bottom: 1pt solid #1f3a5f; padding: 3pt 4pt; font-size: 9pt; }
td { border-bottom: 0.5pt solid #c8ced6; padding: 3pt 4pt; vertical-align: top; }
td.page { text-align: right; width: 0.6in; }
"""


@dataclass(frozen=True, slots=True)
class Packet:
    """What `letters pdf` wrote: the office files, and the combined file if asked for."""

    office_files: tuple[Path, ...]
    combined: Path | None
    offices: int
    shared: bool


def office_pdfs(kind: LetterKind) -> list[tuple[str, str, Attachment]]:
    """(office name, building line, PDF) for every selected office, in audience order.

    A letter with one shared PDF gives that one file once.
    """
    if not isinstance(kind, JointLetter) or kind.pdf is None:
        raise InputError(
            "this letter has no [pdf] table, so there is no PDF to write; add [pdf] to "
            "letter.toml (README: The PDF letter)",
            path=kind.letter.display_path,
        )
    if not kind.pdf.per_office:
        return [("every office", "", kind.office_pdf(None))]
    made = []
    for number, office in enumerate(kind.offices):
        if number % AHEAD == 0:  # the next offices, laid out together on every core
            ahead = kind.offices[number : number + AHEAD]
            lay_out_ahead([kind.pdf.html(kind.pdf_names(o)) for o in ahead])
        addressee = for_legislator(office)
        where = ", ".join(addressee.address_lines[1:])
        made.append((addressee.name, where, kind.office_pdf(office)))
    return made


def write_packet(kind: LetterKind, folder: Path, *, combined: bool) -> Packet:
    """Write each office's PDF into `folder` (made if needed), and the combined file."""
    made = office_pdfs(kind)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CapitolmailError(f"cannot create {folder}: {err.strerror}") from None
    files = []
    for _, _, attachment in made:
        path = folder / attachment.filename
        _write(path, attachment.content)
        files.append(path)
    combined_path = None
    if combined and len(made) > 1:
        combined_path = folder / f"{kind.letter.slug}-packet.pdf"
        _write(combined_path, combine(kind.letter.slug, made))
    shared = len(made) == 1 and made[0][0] == "every office"
    return Packet(tuple(files), combined_path, len(made), shared)


def combine(slug: str, made: list[tuple[str, str, Attachment]]) -> bytes:
    """The index page, then every office's letter, with a bookmark per office."""
    from pypdf import PdfReader, PdfWriter

    readers = [PdfReader(io.BytesIO(attachment.content)) for _, _, attachment in made]
    index_pages, index = 1, None
    # The index says where each letter starts, which depends on its own length: lay it
    # out again until the page count it assumed is the one it has (a long audience).
    for _ in range(4):
        starts, page = [], index_pages + 1
        for reader in readers:
            starts.append(page)
            page += len(reader.pages)
        html = _index_html(slug, made, starts)
        index = PdfReader(io.BytesIO(render_pdf(html, source=slug)))
        if len(index.pages) == index_pages:
            break
        index_pages = len(index.pages)
    assert index is not None
    writer = PdfWriter()
    writer.append(index)
    for (name, _, _), reader in zip(made, readers, strict=True):
        writer.append(reader, outline_item=name)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _index_html(slug: str, made: list[tuple[str, str, Attachment]], starts: list[int]) -> str:
    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td class='page'>{}</td></tr>").format(
            number, name, where, start
        )
        for number, ((name, where, _), start) in enumerate(zip(made, starts, strict=True), 1)
    )
    return str(
        Markup(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><style>{}</style>"
            "</head><body><h1>Hand-delivery packet: {}</h1><p>{} offices, one letter each, "
            "in this order.</p><table><tr><th>#</th><th>Office</th><th>Deliver to</th>"
            "<th>Page</th></tr>{}</table></body></html>"
        ).format(Markup(_INDEX_STYLE), escape(slug), len(made), rows)
    )


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as err:
        raise CapitolmailError(f"cannot write {path}: {err.strerror}") from None
