"""A file carried with a message (the letter as a PDF), and its MIME part.

A leaf beside message.py: the letter pipeline makes attachments at queue time,
the outbox stores their bytes, and every provider sends those same bytes, so
what was previewed is what is attached. The file name goes into a header, so it
is checked here, once, for every way an attachment can be made.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

# A file name that needs no RFC 2231 encoding and no quoting rules beyond "…":
# what mail clients and SendGrid show alike. Compose makes names of this shape.
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ ()-]{0,119}")
_CONTENT_TYPES = frozenset({"application/pdf"})
# RFC 2045: base64 lines of at most 76 characters.
_BASE64_LINE = 76


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file. `fingerprint` is what the file says, for the resend check.

    A PDF's bytes change with its date line, so the letter pipeline hands in the
    text it was rendered from (without the date) as `fingerprint`: a letter queued
    again the next day under another slug is still recognised as the same letter.
    """

    filename: str
    content_type: str
    content: bytes
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not _SAFE_FILENAME.fullmatch(self.filename):
            raise ValueError(
                f'attachment file name "{self.filename}" must be ASCII letters, digits, '
                "spaces, . _ - ( ), at most 120 characters, starting with a letter or digit"
            )
        if self.content_type not in _CONTENT_TYPES:
            raise ValueError(f'attachment type "{self.content_type}" is not supported')
        if not self.content:
            raise ValueError(f'attachment "{self.filename}" is empty')

    @property
    def sha256(self) -> str:
        """The key the outbox stores the bytes under: one copy per job for identical files."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def base64(self) -> str:
        return base64.b64encode(self.content).decode("ascii")

    def identity(self) -> str:
        """What the resend check compares: the fingerprint, or the bytes when there is none."""
        return self.fingerprint or self.sha256

    def mime_lines(self) -> list[str]:
        """The part's headers, a blank line and its base64 body, as lines (CRLF joined later)."""
        encoded = self.base64
        return [
            f'Content-Type: {self.content_type}; name="{self.filename}"',
            "Content-Transfer-Encoding: base64",
            f'Content-Disposition: attachment; filename="{self.filename}"',
            "",
            *(encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)),
        ]


def safe_filename(name: str, *, fallback: str = "letter") -> str:
    """`name` made into a file name Attachment accepts: other characters become "-"."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    cleaned = re.sub(r"[^A-Za-z0-9._()-]+", "-", stem).strip("-._ ") or fallback
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix)[:8]
    room = 120 - (len(suffix) + 1 if suffix else 0)
    return cleaned[:room].rstrip("-._ ") + (f".{suffix}" if suffix else "")
