"""Email headers as they go on the wire: checked, encoded and folded in one place.

A header is where one stray CR/LF in a CSV cell becomes a second recipient list,
so every header a message carries is made here (`build_header`, `address_header`,
`address_list_header`): field names must be RFC 5322's, values hold no control
character, free text (Subject) is RFC 2047-encoded when it is not ASCII, every
other header is ASCII only, and lines are folded under 998 octets.
"""

from __future__ import annotations

import functools
import re
from email.header import Header

from capitolmail.errors import HeaderError

# RFC 5322: header lines should stay under 78 characters; no line may pass 998.
_MAX_HEADER_LINE = 78
_MAX_LINE = 998
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


@functools.lru_cache(maxsize=1024)
def build_header(name: str, value: str) -> str:
    """One header as it goes on the wire, folded (CRLF) so no line passes 998 octets.

    Cached: a job's messages share most of their headers (From, Subject, the
    job's own), and a send builds each message's again. A refusal is not cached.

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
    if max(map(len, folded.split("\r\n"))) > _MAX_LINE:
        raise HeaderError(name, f"has a word longer than a header line may be ({_MAX_LINE})")
    return folded


@functools.lru_cache(maxsize=1024)
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
    return (
        len(name) + 2 + len(words[0]) <= _MAX_HEADER_LINE
        and 1 + max(map(len, words)) <= _MAX_HEADER_LINE
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
