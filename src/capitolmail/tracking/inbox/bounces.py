"""Bounces found by flufl.bounce: RFC 3464 delivery status notifications and the
non-standard reports relays still send (Exim, Postfix, qmail, Exchange, Yahoo ...).

flufl.bounce (GNU Mailman's detectors) knows over a hundred real formats;
writing our own would mean re-learning each. It answers which addresses failed
for good and which only for now; we add the reason a DSN gives, for the
event log, and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

from capitolmail.redaction import shorten

log = logging.getLogger("capitolmail.inbox")
# Addresses one bounce may report: a real one names a few; more is noise or an attack.
_MAX_ADDRESSES = 50
_REASON_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Bounce:
    """The addresses a bounce reports, lower-cased, and the reason it gives."""

    permanent: tuple[str, ...]
    temporary: tuple[str, ...]
    reason: str = ""


def find_bounce(message: Message) -> Bounce | None:
    """The bounce this message is, or None when no detector recognises one.

    A detector that trips over broken MIME raises; that mail is then not a
    bounce we can read, and the caller's catch makes it `unparsed`.
    """
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        return None
    hard = _addresses(permanent)
    soft = tuple(address for address in _addresses(temporary) if address not in hard)
    if not hard and not soft:
        return None
    return Bounce(permanent=hard, temporary=soft, reason=_reason(message))


def _addresses(found: frozenset[bytes] | frozenset[str]) -> tuple[str, ...]:
    addresses = []
    for item in list(found)[:_MAX_ADDRESSES]:
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        text = text.strip().strip("<>").strip().lower()
        if "@" in text and len(text) <= 320 and text.isprintable() and " " not in text:
            addresses.append(text)
    return tuple(sorted(set(addresses)))


def _reason(message: Message) -> str:
    """A DSN's Diagnostic-Code, else its Status: what the receiving server said."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            for name in ("Diagnostic-Code", "Status"):
                value = block.get(name)
                if value:
                    return shorten(" ".join(str(value).split()), _REASON_LIMIT)
    return ""
