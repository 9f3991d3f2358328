"""The one message type: what letters produce, the outbox stores and providers consume.

Frozen on purpose: rendering happens once at queue time, and what was previewed
and approved is exactly what a provider hands over. Only transport facts that
belong to the moment of sending (the Date header) are added later.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.utils import format_datetime, formataddr

# RFC 5322: header lines should stay under 78 characters; no line may pass 998.
_MAX_HEADER_LINE = 78
_MAX_BODY_LINE = 998


def has_line_break(value: str) -> bool:
    """True when `value` would split a header in two (header injection)."""
    return any(ch in value for ch in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One email to one recipient, fully rendered.

    `message_id` is our UUID; it rides in the Message-ID header (and, for
    SendGrid, in custom_args) so every later event finds its row. `job_id` is
    carried as a label only, so the file provider can group a job's files and an
    ESP can tag them; providers never look the job up.
    """

    message_id: str
    job_id: str
    from_email: str
    from_name: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    categories: tuple[str, ...] = field(default=())

    def content_hash(self) -> str:
        """A digest of what the message says (subject and bodies), ignoring case and spacing.

        Two messages with the same digest are the same letter, whatever slug or job
        they came from: the outbox keeps it so a copy queued again is recognised.
        """
        parts = (self.subject, self.text, self.html or "")
        normalised = "\0".join(" ".join(part.casefold().split()) for part in parts)
        return hashlib.sha256(normalised.encode("utf-8")).hexdigest()

    @property
    def message_id_header(self) -> str:
        domain = self.from_email.rpartition("@")[2] or "capitolmail.invalid"
        return f"<{self.message_id}@{domain}>"

    def to_bytes(self, *, date: datetime | None = None) -> bytes:
        """The RFC 5322 message as it goes on the wire: CRLF line endings, 7-bit clean.

        Written out directly rather than through `email.message.EmailMessage`, whose
        header registry re-parses every header: that took 2.6-4.6 ms a message and
        was three quarters of an SMTP send's CPU (benchmarks/send.py). Bodies are
        7bit when they are ASCII with short lines and quoted-printable otherwise, so
        the message survives relays without 8BITMIME; non-ASCII headers use RFC 2047.
        `date` is the moment of sending; without it there is no Date header, so a
        preview does not pretend to have been sent.
        """
        lines = [
            _header("From", formataddr((self.from_name, self.from_email), charset="utf-8")),
            _header("To", formataddr((self.to_name, self.to_email), charset="utf-8")),
        ]
        if self.reply_to:
            lines.append(_header("Reply-To", self.reply_to))
        lines.append(_header("Subject", self.subject))
        if date is not None:
            lines.append(_header("Date", format_datetime(date)))
        lines.append(_header("Message-ID", self.message_id_header))
        lines.extend(_header(name, value) for name, value in self.headers)
        lines.append("MIME-Version: 1.0")
        if self.html is None:
            part = _text_part(self.text, "plain")
            # The final CRLF below ends the body; a trailing newline must not add another.
            lines.extend(part[:-1] if part[-1] == "" else part)
        else:
            boundary = f"=_capitolmail_{uuid.uuid4().hex}"
            lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            lines.append("")
            for body, subtype in ((self.text, "plain"), (self.html, "html")):
                lines.append(f"--{boundary}")
                lines.extend(_text_part(body, subtype))
            lines.append(f"--{boundary}--")
        return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _header(name: str, value: str) -> str:
    """One header, RFC 2047-encoded when not ASCII and folded when long."""
    if value.isascii() and len(name) + 2 + len(value) <= _MAX_HEADER_LINE:
        return f"{name}: {value}"
    if value.isascii():
        return _fold_ascii(f"{name}: {value}")
    folded = Header(value, "utf-8", header_name=name).encode(
        linesep="\r\n", maxlinelen=_MAX_HEADER_LINE
    )
    return f"{name}: {folded}"


def _fold_ascii(line: str) -> str:
    """Fold at spaces, never before the first word of the value.

    The email package's folder breaks right after "Name:" when the first word is
    long (a List-Unsubscribe URL), leaving a blank first line that some receivers
    read as an empty header. A word longer than a line stays whole: 998 is the
    hard limit, 78 only the recommended one.
    """
    name, _, value = line.partition(": ")
    lines: list[str] = []
    current = f"{name}:"
    for word in value.split(" "):
        if current.endswith(":") or len(current) + 1 + len(word) <= _MAX_HEADER_LINE:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = f" {word}"
    lines.append(current)
    return "\r\n".join(lines)


def _text_part(body: str, subtype: str) -> list[str]:
    """Headers, a blank line and the encoded body of one text part, as lines.

    A body ending in a newline ends in an empty line here: in a multipart message
    the CRLF before a boundary belongs to the boundary, so that line keeps it.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and all(len(line) <= _MAX_BODY_LINE for line in text.split("\n")):
        charset, encoding, payload = "us-ascii", "7bit", text
    else:
        # quoprimime escapes each code point below 256 as one byte, so it is fed
        # the UTF-8 bytes spelled as Latin-1 characters.
        latin = text.encode("utf-8").decode("latin-1")
        charset, encoding = "utf-8", "quoted-printable"
        payload = quoprimime.body_encode(latin, maxlinelen=76, eol="\n")
    return [
        f'Content-Type: text/{subtype}; charset="{charset}"',
        f"Content-Transfer-Encoding: {encoding}",
        "",
        *payload.split("\n"),
    ]
