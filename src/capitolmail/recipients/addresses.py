"""One rule for every address: validate, normalise to ASCII, then key.

email-validator (no DNS lookups) checks the syntax and normalises case and
Unicode. The form kept is its `ascii_email`: the domain in IDNA ("punycode"),
`jose@bücher.example.org` as `jose@xn--bcher-kva.example.org`, because that is
what goes on the wire. The key is `outbox.email_key` of that form, the same key
`messages.to_email_key` holds, so a supporter, a suppression, a provider's
event and a queued message for one person match however the address was typed.

A local part (before the @) that is not ASCII is refused: it could only be sent
with SMTPUTF8, which the SMTP provider does not use and the file outbox's 7-bit
messages cannot carry.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

# An address already in the form normalised_address returns (the cheap path at compose).
_ASCII_FORM = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+",
    re.IGNORECASE,
)
# Shown escaped in errors: a CR or LF in the address would break the one-line message.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def normalised_address(text: str) -> str:
    """The address as it is sent (IDNA domain); ValueError saying why it is invalid."""
    value = text.strip()
    shown = value.encode("unicode_escape").decode("ascii") if _CONTROL.search(value) else value
    local = value.rpartition("@")[0]
    if local and not local.isascii():
        odd = next(ch for ch in local if not ch.isascii())
        raise ValueError(
            f'"{shown}" has a non-ASCII character before the @ ("{odd}"), which cannot be '
            "sent without SMTPUTF8; ask for an ASCII address"
        )
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as err:
        reason = str(err).rstrip(".")
        raise ValueError(f'"{shown}" is not a valid address ({reason})') from err
    assert result.ascii_email is not None  # allow_smtputf8=False guarantees it
    return result.ascii_email


def ascii_address(text: str) -> str:
    """`text` if it is already in sending form, else normalised_address(text).

    Compose calls this for every message: addresses imported by an older
    version may still hold a Unicode domain, and most need no work at all.
    """
    if len(text) <= 254 and _ASCII_FORM.fullmatch(text):
        return text
    return normalised_address(text)
