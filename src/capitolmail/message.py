"""The one message type: what letters produce, the outbox stores and providers consume.

Frozen on purpose: rendering happens once at queue time, and what was previewed
and approved is exactly what a provider hands over. Only transport facts that
belong to the moment of sending (the Date header) are added later.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import quoprimime
from email.utils import format_datetime

from capitolmail.attachment import Attachment
from capitolmail.errors import HeaderError
from capitolmail.message_headers import (
    OWN_HEADERS,
    address_header,
    address_list_header,
    build_header,
    check_header_text,
    control_character,
    distinct_addresses,
    has_line_break,
    refuse_control_characters,
)

# Re-exported: the names that check and build headers have always been imported from here.
__all__ = [
    "OWN_HEADERS",
    "Attachment",
    "OutgoingMessage",
    "Tracking",
    "address_header",
    "address_list_header",
    "build_header",
    "check_header_text",
    "control_character",
    "distinct_addresses",
    "has_line_break",
    "refuse_control_characters",
]

_MAX_BODY_LINE = 998


@dataclass(frozen=True, slots=True)
class Tracking:
    """Whether the provider may rewrite links (clicks) and add a pixel (opens).

    Off unless a letter turns it on: in mail to congressional offices, rewritten
    links and tracking pixels look like phishing to their filters. Only SendGrid
    tracks; SMTP and the file outbox send the message as it was rendered.
    """

    opens: bool = False
    clicks: bool = False

    def as_stored(self) -> dict[str, bool]:
        return {"opens": self.opens, "clicks": self.clicks}

    @classmethod
    def from_stored(cls, value: object) -> Tracking:
        """What the outbox kept (a dict, its JSON text, or None for a row from before 0012)."""
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            return cls()
        return cls(opens=value.get("opens") is True, clicks=value.get("clicks") is True)


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
    # Open and click tracking asked of the provider (SendGrid's tracking_settings).
    tracking: Tracking = field(default_factory=Tracking)
    # Copies from letter.toml only (never from a CSV cell or a template): Cc is shown
    # in the headers, Bcc only in the envelope (SMTP RCPT TO, SendGrid's bcc).
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    # Files sent with the message (the letter as a PDF), made at queue time.
    attachments: tuple[Attachment, ...] = ()
    # content_hash() remembered: queueing asks twice per message (the resend check,
    # then the insert), and a 300,000-message alert should hash each body once.
    _content_hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def content_hash(self) -> str:
        """A digest of what the message says (subject and bodies), ignoring case and spacing.

        Two messages with the same digest are the same letter, whatever slug or job
        they came from: the outbox keeps it so a copy queued again is recognised.
        Attachments count by what they say (`Attachment.identity`), so a short
        cover note with a new letter attached is a new letter.
        """
        if self._content_hash is None:
            parts: tuple[str, ...] = (self.subject, self.text, self.html or "")
            parts += tuple(attachment.identity() for attachment in self.attachments)
            normalised = "\0".join(" ".join(part.casefold().split()) for part in parts)
            digest = hashlib.sha256(normalised.encode("utf-8")).hexdigest()
            object.__setattr__(self, "_content_hash", digest)  # frozen: set once, here
        assert self._content_hash is not None
        return self._content_hash

    def envelope_recipients(self) -> tuple[str, ...]:
        """Every address the message is delivered to, To first, each once."""
        return distinct_addresses((self.to_email, *self.cc, *self.bcc))

    @property
    def message_id_header(self) -> str:
        domain = self.from_email.rpartition("@")[2] or "capitolmail.invalid"
        return f"<{self.message_id}@{domain}>"

    def header_lines(self, *, date: datetime | None = None) -> list[str]:
        """Every header above MIME-Version, each folded; HeaderError for one that cannot be.

        Compose calls this at queue time, so a message whose headers would break
        (a control character, a word too long to fold, a header that only the
        message itself may set) is refused before it is stored.
        """
        lines = [
            address_header("From", self.from_name, self.from_email),
            address_header("To", self.to_name, self.to_email),
        ]
        if self.cc:
            lines.append(address_list_header("Cc", self.cc))
        # Bcc is never written: it is in the envelope alone (envelope_recipients).
        if self.reply_to:
            lines.append(address_header("Reply-To", "", self.reply_to))
        lines.append(build_header("Subject", self.subject))
        if date is not None:
            lines.append(_date_header(date.replace(microsecond=0)))
        lines.append(build_header("Message-ID", self.message_id_header))
        for name, value in self.headers:
            if name.casefold() in OWN_HEADERS:
                raise HeaderError(name, "is set by capitolmail itself and may not be added")
            lines.append(build_header(name, value))
        return lines

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
        lines = self.header_lines(date=date)
        lines.append("MIME-Version: 1.0")
        if self.attachments:
            # multipart/mixed: the readable body first, then each file (RFC 2046 5.1.3).
            boundary = f"=_capitolmail_mixed_{uuid.uuid4().hex}"
            lines.extend(_multipart_header("mixed", boundary))
            lines.append(f"--{boundary}")
            lines.extend(self._body_lines())
            for attachment in self.attachments:
                lines.append(f"--{boundary}")
                lines.extend(attachment.mime_lines())
            lines.append(f"--{boundary}--")
        else:
            body = self._body_lines()
            # The final CRLF below ends the body; a trailing newline must not add another.
            lines.extend(body[:-1] if body[-1] == "" else body)
        return ("\r\n".join(lines) + "\r\n").encode("ascii")

    def _body_lines(self) -> list[str]:
        """The text part, or text and HTML as multipart/alternative, as lines."""
        if self.html is None:
            return _text_part(self.text, "plain")
        boundary = f"=_capitolmail_{uuid.uuid4().hex}"
        lines = _multipart_header("alternative", boundary)
        for body, subtype in ((self.text, "plain"), (self.html, "html")):
            lines.append(f"--{boundary}")
            lines.extend(_text_part(body, subtype))
        lines.append(f"--{boundary}--")
        return lines


def _multipart_header(subtype: str, boundary: str) -> list[str]:
    return [f"Content-Type: multipart/{subtype};", f' boundary="{boundary}"', ""]


@functools.lru_cache(maxsize=4)
def _date_header(date: datetime) -> str:
    """The Date header, to the second as RFC 5322 writes it: one per second, not per message."""
    return build_header("Date", format_datetime(date))


def _text_part(body: str, subtype: str) -> list[str]:
    """Headers, a blank line and the encoded body of one text part, as lines.

    A body ending in a newline ends in an empty line here: in a multipart message
    the CRLF before a boundary belongs to the boundary, so that line keeps it.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and max(map(len, text.split("\n"))) <= _MAX_BODY_LINE:
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
