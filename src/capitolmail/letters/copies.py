"""Cc and Bcc: copies of every message of a joint letter, from letter.toml alone.

A Bcc is a stranger reading a letter the office never knows they saw, so the
addresses come only from the letter's own file, as plain addresses: never from a
CSV cell, a template or a header a template adds (message.OWN_HEADERS refuses
those), and letter.toml's values are not rendered. Each address is validated and
normalised as every other address is (recipients/addresses.py), so a CR or LF
cannot reach the Cc header or the SMTP envelope.

Alerts take no copies: each alert carries one supporter's own one-click
unsubscribe link and address, which no third party may hold.
"""

from __future__ import annotations

from collections.abc import Iterable

from capitolmail.message import distinct_addresses
from capitolmail.recipients.addresses import normalised_address

# SendGrid counts to, cc and bcc together: at most 1,000 per request, one To each.
MAX_COPIES = 999


def copy_addresses(values: list[str]) -> list[str]:
    """Each address validated and normalised, duplicates (ignoring case) dropped."""
    normalised = []
    for value in values:
        normalised.append(normalised_address(value))
    return list(distinct_addresses(tuple(normalised)))


def check_copies(kind: str, cc: list[str], bcc: list[str]) -> None:
    """ValueError when the copies do not fit the letter: an alert, an address in both
    cc and bcc, or more than SendGrid takes in one message."""
    if kind == "alert" and (cc or bcc):
        key = "cc" if cc else "bcc"
        raise ValueError(
            f"{key} is for joint letters: every alert holds one supporter's address and own "
            "unsubscribe link, which no one else may receive"
        )
    both = sorted({address.lower() for address in cc} & {address.lower() for address in bcc})
    if both:
        raise ValueError(f"{both[0]} is in both cc and bcc; keep it in one of them")
    if len(cc) + len(bcc) > MAX_COPIES:
        raise ValueError(
            f"{len(cc) + len(bcc):,} cc and bcc addresses; at most {MAX_COPIES} (SendGrid takes "
            "1,000 recipients per message, counting To, Cc and Bcc)"
        )


def copies_for(to_email: str, cc: Iterable[str], bcc: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """One message's Cc and Bcc: without its own To, each address once across both."""
    to_key = to_email.strip().lower()
    kept_cc = tuple(a for a in distinct_addresses(tuple(cc)) if a.lower() != to_key)
    taken = {to_key, *(a.lower() for a in kept_cc)}
    kept_bcc = tuple(a for a in distinct_addresses(tuple(bcc)) if a.lower() not in taken)
    return kept_cc, kept_bcc
