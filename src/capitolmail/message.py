"""The one message type: what letters produce, the outbox stores and providers consume.

Frozen on purpose: rendering happens once at queue time, and what was previewed
and approved is exactly what a provider hands over. Only transport facts that
belong to the moment of sending (the Date header) are added later.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.utils import format_datetime

from capitolmail.attachment import Attachment
from capitolmail.errors import HeaderError

# RFC 5322: header lines should stay under 78 characters; no line may pass 998.
_MAX_HEADER_LINE = 78
_MAX_LINE = 998
_MAX_BODY_LINE = 998
# Line breaks, as str.splitlines() knows them: each would split a header in two.
_LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# C0 (NUL, ESC, TAB, CR, LF...), DEL and C1, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# RFC 5322 field names: printable ASCII but the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Headers whose value is free text (RFC 5322 "unstructured"), where RFC 2047
# encoded-words may stand anywhere; every other header is ASCII only.
_TEXT_HEADERS = frozenset({"subject", "comments"})
# Headers that are "phrase <id>" (RFC 2919 List-Id); the phrase may be encoded.
_PHRASE_HEADERS = frozenset({"list-id"})


# Headers the message sets from its own fields; an extra header by one of these
# names would add a second recipient list (Bcc) or a second identity.
OWN_HEADERS = frozenset(
    name.casefold()
    for name in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Reply-To",
        "Sender",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Return-Path",
    )
)


def has_line_break(value: str) -> bool:
    """True when `value` would split a header in two (header injection)."""
    return any(ch in value for ch in _LINE_BREAKS)


def control_character(value: str) -> str | None:
    """The first control character in `value`, spelled U+XXXX (with its name), or None.

    Any of them in a header is either an injection (CR, LF, the Unicode line
    separators) or bytes no mail client shows the same way (NUL, ESC, TAB, C1).
    """
    match = _CONTROL.search(value)
    if match is None:
        return None
    char = match.group()
    names = {"\x00": "NUL", "\t": "tab", "\n": "line feed", "\r": "carriage return", "\x1b": "ESC"}
    code = f"U+{ord(char):04X}"
    return f"{code} ({names[char]})" if char in names else code


def refuse_control_characters(value: str) -> str:
    """`value`, or ValueError naming its first control character: the one wording every
    setting, row and header uses for it."""
    found = control_character(value)
    if found is not None:
        raise ValueError(f"contains a control character, {found}; remove it")
    return value


def check_header_text(header: str, value: str) -> None:
    """HeaderError when `value` holds a control character; every header value passes here."""
    try:
        refuse_control_characters(value)
    except ValueError as err:
        raise HeaderError(header, str(err)) from None


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
            lines.append(build_header("Date", format_datetime(date)))
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


def build_header(name: str, value: str) -> str:
    """One header as it goes on the wire, folded (CRLF) so no line passes 998 octets.

    The one place a header is made: the name must be an RFC 5322 field name, the
    value may hold no control character, free-text headers (Subject) are
    RFC 2047-encoded when they are not plain short-worded ASCII, and every
    other header must be ASCII and is folded at its spaces. HeaderError says
    which header and why when that is not possible.
    """
    if not _FIELD_NAME.fullmatch(name):
        raise HeaderError(repr(name), "is not a valid header name (printable ASCII, no colon)")
    check_header_text(name, value)
    kind = name.casefold()
    if kind in _TEXT_HEADERS:
        if _plain_text(name, value):
            return _fold_ascii(f"{name}: {value}")
        return f"{name}: {_encoded_words(name, value)}"
    if kind in _PHRASE_HEADERS:
        phrase, angle, rest = value.rpartition(" <")
        if angle and rest.endswith(">"):
            return _with_phrase(name, phrase, f"<{rest}")
    if not value.isascii():
        raise HeaderError(name, "must be ASCII (only free text such as Subject may be encoded)")
    folded = _fold_ascii(f"{name}: {value}")
    if any(len(line) > _MAX_LINE for line in folded.split("\r\n")):
        raise HeaderError(name, f"has a word longer than a header line may be ({_MAX_LINE})")
    return folded


def address_header(header: str, display_name: str, address: str) -> str:
    """From, To or Reply-To: an optional display name, then the addr-spec.

    The name is quoted where RFC 5322 wants it ("Nguyen, Jordan") and
    RFC 2047-encoded, in as many encoded-words as the length needs, when it is
    not ASCII, is too long for one line, or looks like an encoded-word itself
    (which a mail client would otherwise decode into something else). The
    address must be plain ASCII (IDNA domains, no SMTPUTF8).
    """
    check_header_text(header, display_name)
    check_header_text(header, address)
    if not _ADDR_SPEC.fullmatch(address) or len(address) > 254:
        raise HeaderError(
            header, f'"{address}" is not an ASCII address (local@domain, IDNA for the domain)'
        )
    if not display_name:
        return f"{header}: {address}"
    return _with_phrase(header, display_name, f"<{address}>")


def address_list_header(header: str, addresses: tuple[str, ...]) -> str:
    """Cc: addr-specs separated by commas, folded after a comma; each checked as To's is."""
    for address in addresses:
        address_header(header, "", address)
    return _fold_ascii(f"{header}: {', '.join(addresses)}")


def distinct_addresses(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """`addresses` in order, each once, compared as the outbox compares them
    ("Jane@House.GOV" and "jane@house.gov" are one mailbox)."""
    seen: set[str] = set()
    kept = []
    for address in addresses:
        key = address.strip().lower()
        if key not in seen:
            seen.add(key)
            kept.append(address)
    return tuple(kept)


# What compose normalises addresses to: an ASCII dot-atom local part and an IDNA domain.
_ADDR_SPEC = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# RFC 5322 specials: a display name holding one must be a quoted-string.
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _with_phrase(header: str, phrase: str, angle: str) -> str:
    """`header: phrase <angle>`, the phrase quoted or encoded, folded before `<` if needed."""
    if phrase.isascii() and "=?" not in phrase:
        if _SPECIALS.search(phrase) or phrase != " ".join(phrase.split(" ")) or "  " in phrase:
            escaped = phrase.replace("\\", "\\\\").replace('"', '\\"')
            phrase = f'"{escaped}"'
        first = f"{header}: {phrase}"
        lines = [first] if len(first) <= _MAX_HEADER_LINE else []
    else:
        lines = []
    if not lines:
        lines = f"{header}: {_encoded_words(header, phrase)}".split("\r\n")
    if len(lines[-1]) + 1 + len(angle) <= _MAX_HEADER_LINE:
        lines[-1] = f"{lines[-1]} {angle}"
    else:
        lines.append(f" {angle}")
    return "\r\n".join(lines)


def _plain_text(name: str, value: str) -> bool:
    """Whether free text can go as it is: ASCII, single spaces, every word short enough to
    fold to 78 columns, and nothing a client would take for an encoded-word."""
    if not value.isascii() or "=?" in value or "  " in value or value != value.strip(" "):
        return False
    words = value.split(" ")
    return len(name) + 2 + len(words[0]) <= _MAX_HEADER_LINE and all(
        1 + len(word) <= _MAX_HEADER_LINE for word in words
    )


def _encoded_words(name: str, value: str) -> str:
    """RFC 2047 encoded-words, split at character boundaries so each line is <= 78.

    The email package's `Header` does the splitting (it never cuts a UTF-8
    sequence); a value that is ASCII is encoded too when its words are too long
    to fold, since a 998-character word cannot be folded at all.
    """
    return Header(value, "utf-8", header_name=name).encode(
        linesep="\r\n", maxlinelen=_MAX_HEADER_LINE
    )


def _fold_ascii(line: str) -> str:
    """Fold at spaces, never before the first word of the value.

    The email package's folder breaks right after "Name:" when the first word is
    long (a List-Unsubscribe URL), leaving a blank first line that some receivers
    read as an empty header. A word longer than a line stays whole: 998 is the
    hard limit (build_header refuses past it), 78 only the recommended one.
    """
    if len(line) <= _MAX_HEADER_LINE:
        return line
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
