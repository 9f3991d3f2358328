"""One check for the wire form of every message the suite produces.

Called where every message passes: the aiosmtpd server's DATA handler
(tests/servers/smtp.py), every `.eml` file left under a test's tmp_path
(tests/conftest.py), and, for the JSON SendGrid gets, `payload_header_problems`
in the stand-in (tests/servers/sendgrid.py). A message that breaks RFC 5322 in
any test, not only in the tests about headers, fails that test.

Written from the RFCs, not from capitolmail.message, so a mistake in the header
builder cannot hide in its own checker.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Mapping
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

MAX_LINE = 998  # RFC 5322 2.1.1, in octets, without the CRLF
_FIELD = re.compile(rb"[!-9;-~]+:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ONCE = ("From", "To", "Subject", "Message-ID")
_AT_MOST_ONCE = ("Cc",)
_NEVER = ("Bcc",)  # Cc is shown (a letter's copies); Bcc never is


def wire_format_problems(raw: bytes) -> list[str]:
    """Everything wrong with one message as it goes on the wire; [] when it is sound."""
    problems: list[str] = []
    head, separator, _ = raw.partition(b"\r\n\r\n")
    if not separator:
        problems.append("no blank line (CRLF CRLF) after the headers")
    for number, line in enumerate(raw.split(b"\r\n"), start=1):
        if len(line) > MAX_LINE:
            problems.append(f"line {number} is {len(line)} octets (RFC 5322 allows {MAX_LINE})")
        if b"\r" in line or b"\n" in line:
            problems.append(f"line {number} holds a bare CR or LF")
    for number, line in enumerate(head.split(b"\r\n"), start=1):
        if not line.isascii():
            problems.append(f"header line {number} is not ASCII: {line[:60]!r}")
        elif any(byte < 32 and byte != 9 or byte == 127 for byte in line):
            problems.append(f"header line {number} holds a control character: {line[:60]!r}")
        elif not (line[:1] in (b" ", b"\t") and line.strip() or _FIELD.match(line)):
            problems.append(f"header line {number} is neither a field nor a fold: {line[:60]!r}")
    try:
        message = BytesParser(policy=email.policy.strict).parsebytes(raw)
    except Exception as err:  # strict raises the first defect it meets
        return [*problems, f"the parser refuses it: {err!r}"]
    assert isinstance(message, EmailMessage)
    problems += [f"defect: {defect!r}" for defect in message.defects]
    # Each header parsed once: every get()/get_all() would parse it again, and this
    # runs for every message the suite sends.
    fields = message.items()
    by_name: dict[str, list[Any]] = {}
    for name, value in fields:
        by_name.setdefault(name.lower(), []).append(value)
    for name in _ONCE:
        count = len(by_name.get(name.lower(), []))
        if count != 1:
            problems.append(f"{count} {name} headers (want exactly one)")
    for name in _AT_MOST_ONCE:
        if len(by_name.get(name.lower(), [])) > 1:
            problems.append(f"{len(by_name[name.lower()])} {name} headers (want at most one)")
    for name in _NEVER:
        if by_name.get(name.lower()):
            problems.append(f"a {name} header: {by_name[name.lower()]}")
    for name, value in fields:
        defects = getattr(value, "defects", ())
        problems += [f"{name}: defect {defect!r}" for defect in defects]
    for name in ("From", "To"):
        value = by_name.get(name.lower(), [None])[0]
        if value is not None and len(value.addresses) != 1:
            problems.append(f"{name} names {len(value.addresses)} addresses (want one)")
    return problems


def assert_wire_format(raw: bytes) -> EmailMessage:
    """The parsed message, or AssertionError listing every problem."""
    problems = wire_format_problems(raw)
    assert not problems, "malformed message:\n  " + "\n  ".join(problems)
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def payload_header_problems(payload: Mapping[str, Any]) -> list[str]:
    """What would break the headers SendGrid builds from a v3 payload.

    SendGrid folds and encodes the values itself, so here a value may be long;
    what must never be there is a line break or other control character (a
    second header, a Bcc), or a name that is not a header name.
    """
    problems: list[str] = []
    personalizations = payload.get("personalizations") or []
    texts: list[tuple[str, Any]] = [("subject", payload.get("subject"))]
    for entry in [payload.get("from"), payload.get("reply_to")]:
        if isinstance(entry, Mapping):
            texts += [("from/reply_to name", entry.get("name")), ("address", entry.get("email"))]
    header_sets = [payload.get("headers")]
    for personalization in personalizations:
        texts.append(("subject", personalization.get("subject")))
        header_sets.append(personalization.get("headers"))
        for kind in ("to", "cc", "bcc"):
            for recipient in personalization.get(kind) or []:
                texts += [(f"{kind} name", recipient.get("name"))]
                texts += [(f"{kind} email", recipient.get("email"))]
    for headers in header_sets:
        for name, value in (headers or {}).items():
            if not re.fullmatch(r"[!-9;-~]+", str(name)):
                problems.append(f"header name {name!r} is not a field name")
            texts.append((f"header {name}", value))
            if len(str(name)) + 2 + len(str(value)) > 4 * MAX_LINE:
                problems.append(f"header {name} is {len(str(value))} characters long")
    for what, value in texts:
        if isinstance(value, str) and _CONTROL.search(value):
            problems.append(f"{what} holds a control character: {value[:60]!r}")
    return problems


def rfc2047_display_name(raw: bytes, header: str) -> str:
    """The display name in `header`, decoded as RFC 2047 6.2 says: whitespace
    between adjacent encoded-words is dropped, as mail clients do.

    The email package's new parser (policy.default) keeps a space between
    adjacent encoded-words in a phrase, so it cannot read back a long name that
    had to be split over several of them (its own generator splits them the
    same way); the legacy `decode_header` follows the RFC.
    """
    message = BytesParser(policy=email.policy.compat32).parsebytes(raw)
    value = str(message[header])
    phrase = value.rpartition("<")[0].strip()
    decoded = str(make_header(decode_header(phrase)))
    if decoded.startswith('"') and decoded.endswith('"'):
        decoded = decoded[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return decoded
