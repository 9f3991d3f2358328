"""One message of the inbound mailbox read: what it is, and which of our messages it names.

Everything here treats the mail as hostile: anyone can write to a Reply-To or a
bounce address. Headers are decoded leniently and every value that may reach a
log line or the event log is made one printable line (`one_line`), so a CR/LF
in a Subject cannot forge a log record. Only our own Message-IDs count as a
link to a message (`<uuid@domain>`, message.py's `message_id_header`); the
store then decides whether the uuid is one of ours and whose address it went to.
"""

from __future__ import annotations

import email
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum

from capitolmail.redaction import shorten
from capitolmail.tracking.inbox.bounces import Bounce, find_bounce
from capitolmail.verp import message_id_in

# Our Message-ID: a UUID at the From domain (message.py). Case-insensitive, since
# some relays upper-case what they quote back.
_OUR_ID = re.compile(
    r"<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@[^<>\s]{1,255}>",
    re.IGNORECASE,
)
# A bounce quoting one message names it once or twice; more is a message built to
# make us look up many rows.
_MAX_IDS = 20
# Text searched for our ids inside a bounce: returned headers come first, and a
# bounce that quotes a whole large message need not be read to its end.
_MAX_SCAN = 1_000_000
SUBJECT_LIMIT = 120
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|auto[- ]?response|autoresponse|out of (the )?office"
    r"|thank you for (contacting|your (e-?mail|message|letter))|thanks for contacting)",
    re.IGNORECASE,
)
# Headers autoresponders set (RFC 3834's Auto-Submitted; the rest are what common
# servers and Exchange write). Auto-Submitted: no is a person.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autoresponse")
_AUTO_PRECEDENCE = {"auto_reply", "auto-reply"}


class Kind(StrEnum):
    """What a mailbox message was; the values are the outcomes `status` counts."""

    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    OTHER = "other"  # not ours to act on: left alone
    UNPARSED = "unparsed"  # could not be read: logged and left alone


@dataclass(frozen=True, slots=True)
class Reading:
    """What one mailbox message says, in the few fields the sync acts on."""

    kind: Kind
    sender: str = ""  # the From address, one line
    subject: str = ""  # decoded, one line, cut to SUBJECT_LIMIT
    at: datetime | None = None  # its Date, when that is a plausible time
    our_ids: tuple[str, ...] = ()  # uuids of ours it names (In-Reply-To / returned headers)
    recipients: tuple[str, ...] = ()  # To, Cc and delivery headers, for unsubscribes
    bounce: Bounce | None = None
    problem: str = ""  # why it could not be read (UNPARSED)
    auto_reason: str = field(default="", compare=False)


def read_mail(
    raw: bytes, now: datetime, unsubscribe_address: str, *, return_path: str = ""
) -> Reading:
    """Classify one message. Never raises: a message that cannot be read is UNPARSED.

    With `return_path` (VERP, verp.py), a bounce delivered to one of its
    +MESSAGE-ID addresses names that message first, before any id it quotes.
    """
    try:
        message = email.message_from_bytes(raw)
        if not message.keys():
            return Reading(Kind.UNPARSED, problem="no headers")
        return _classify(message, now, unsubscribe_address, return_path)
    except Exception as err:  # hostile MIME must not stop a sync: the mail is left alone
        return Reading(Kind.UNPARSED, problem=f"{type(err).__name__}: {one_line(str(err), 200)}")


def _classify(
    message: Message, now: datetime, unsubscribe_address: str, return_path: str
) -> Reading:
    sender = _first_address(message, "From")
    subject = shorten(header_text(message, "Subject"), SUBJECT_LIMIT)
    at = _date(message, now)
    common = {"sender": sender, "subject": subject, "at": at}
    bounce = find_bounce(message)
    if bounce is not None:
        verp = [message_id_in(return_path, a) for a in _recipients(message)] if return_path else []
        ids = _unique([found for found in verp if found] + list(_ids_anywhere(message)))
        return Reading(Kind.BOUNCE, our_ids=ids, bounce=bounce, **common)
    auto = auto_reply_reason(message, subject)
    recipients = _recipients(message)
    if not auto and _is_unsubscribe(recipients, subject, unsubscribe_address):
        ids = _ids_in_headers(message, ("In-Reply-To", "References"))
        return Reading(Kind.UNSUBSCRIBE, our_ids=ids, recipients=recipients, **common)
    ids = _ids_in_headers(message, ("In-Reply-To", "References"))
    if not ids:
        return Reading(Kind.OTHER, **common)
    kind = Kind.AUTO_REPLY if auto else Kind.REPLY
    return Reading(kind, our_ids=ids, auto_reason=auto, **common)


def auto_reply_reason(message: Message, subject: str) -> str:
    """Why the message looks sent by a machine, or "" when a person seems to have written it."""
    submitted = header_text(message, "Auto-Submitted").strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for name in _AUTO_HEADERS:
        if message.get(name) is not None:
            return name
    if header_text(message, "Precedence").strip().lower() in _AUTO_PRECEDENCE:
        return "Precedence: auto_reply"
    if _AUTO_SUBJECT.match(subject):
        return "subject"
    return ""


def _is_unsubscribe(recipients: tuple[str, ...], subject: str, address: str) -> bool:
    """Mail to the List-Unsubscribe mailto address asking to leave.

    The mailto link carries `?subject=unsubscribe`, and that address is often
    the Reply-To too, so a supporter's ordinary reply to an alert must not
    unsubscribe them: the subject must say so.
    """
    if not address:
        return False
    wanted = address.strip().lower()
    return wanted in recipients and "unsubscribe" in subject.lower()


def _ids_in_headers(message: Message, names: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        for value in message.get_all(name, []):
            found += [match.lower() for match in _OUR_ID.findall(str(value))]
    return _unique(found)


def _ids_anywhere(message: Message) -> tuple[str, ...]:
    """Our ids in a bounce: in any part's Message-ID / References / In-Reply-To (the
    returned message or headers), then in the text parts, where relays quote them."""
    found: list[str] = []
    budget = _MAX_SCAN
    for part in message.walk():
        for name in ("Message-ID", "In-Reply-To", "References"):
            for value in part.get_all(name, []):
                found += [match.lower() for match in _OUR_ID.findall(str(value))]
        if part.is_multipart() or budget <= 0:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text = payload[:budget].decode("latin-1")
            budget -= len(payload)
            found += [match.lower() for match in _OUR_ID.findall(text)]
    return _unique(found)


def _unique(ids: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))[:_MAX_IDS]


def _recipients(message: Message) -> tuple[str, ...]:
    values: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        values += [str(value) for value in message.get_all(name, [])]
    return tuple(
        address.strip().lower() for _, address in getaddresses(values)[:50] if "@" in address
    )


def _first_address(message: Message, name: str) -> str:
    addresses = getaddresses([header_text(message, name)])
    address = addresses[0][1] if addresses else ""
    return one_line(address, 320)


def header_text(message: Message, name: str) -> str:
    """A header decoded (RFC 2047) as well as it can be, else as it came; one line."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:  # a broken encoded word: keep the raw text
        text = str(value)
    return one_line(text, 2000)


def one_line(text: str, limit: int) -> str:
    """`text` with every control and line-separating character made a space, cut to `limit`.

    What a message says reaches log lines and the event log; a CR, LF, U+2028
    or an escape sequence there could forge a line or rewrite a terminal.
    """
    cleaned = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
        for char in text[: limit * 4]
    )
    return shorten(" ".join(cleaned.split()), limit)


def _date(message: Message, now: datetime) -> datetime | None:
    """The Date header, when it is a time that can be true; None otherwise (then now counts)."""
    value = message.get("Date")
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if parsed > now + timedelta(days=1) or parsed.year < 2000:
        return None
    return min(parsed, now)
