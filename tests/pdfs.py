"""Reading PDFs the way a person checks them: the text on the pages, the fonts, the files
a message carries. pypdf, not our own code, reads them, so a test of the PDF letter
cannot agree with itself."""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    """Every page's text with spacing collapsed (columns and line breaks vary)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def fonts(data: bytes) -> dict[str, bool]:
    """Each font the pages use, and whether its glyphs are embedded in the file."""
    found: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            found[str(font.get("/BaseFont"))] = embedded
    return found


def read_message(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(  # type: ignore[return-value]
        raw.replace(b"\r\n", b"\n"), policy=email.policy.default
    )


def attached_pdfs(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(filename, bytes) of every application/pdf attachment, as a mail client lists them."""
    return [
        (str(part.get_filename()), part.get_content())
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
