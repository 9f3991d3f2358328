"""Refuse, before anything is queued, a message larger than the provider takes.

A relay that declares `SIZE 10240000` answers 552 to a larger message, and
SendGrid answers 400 to a request of 30 MB or more: each message would fail at
send, one at a time, long after the team approved the letter. So `queue` and
`letters check` ask the configured provider for its limit (providers.size_limit)
and measure every message the way that provider measures it: the RFC 5322 bytes
for SMTP, the JSON request body for SendGrid (base64 attachments and JSON
escapes included). The first message over the limit stops the run with one line
naming the recipient and both sizes, and the job's transaction stores nothing.

Measuring costs a full serialisation (about 0.1 ms a message for SMTP), which
in a 300,000-message alert would add half a minute; a message whose every
character could not possibly reach the limit, even encoded at its worst, is not
measured (`_upper_bound`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from capitolmail.config import Settings
from capitolmail.errors import CapitolmailError, InputError, Problem
from capitolmail.letters.kind import Screen
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage
from capitolmail.providers import SizeLimit, size_limit

# Worst case of any encoding a character meets on the way out: 4 UTF-8 bytes, each
# quoted-printable (=XX, 3) with soft line breaks, or an RFC 2047 encoded-word, or a
# JSON \u escape (6); base64 of bytes is 4/3. 16 covers all of them.
_WORST_EXPANSION = 16
# MIME structure, boundaries, header names, SendGrid's fixed JSON keys.
_FIXED_OVERHEAD = 16_384


def size_screen(settings: Settings, *, outbox_dir: Path, source: str) -> tuple[Screen | None, str]:
    """A screen refusing messages over the provider's limit, and a note for the user.

    The note says what was checked, or why nothing could be: a relay that cannot be
    reached at queue time does not stop the queue (the letter may be sent later,
    from elsewhere), but the user is told its limit was not checked.
    """
    try:
        limit = size_limit(settings, outbox_dir=outbox_dir)
    except CapitolmailError as err:
        return None, f"Note: message sizes were not checked against the provider's limit ({err})"
    if limit is None:
        return None, ""

    def screen(messages: Iterable[QueuedMessage]) -> Iterator[QueuedMessage]:
        for queued in messages:
            refuse_oversized(queued, limit, source)
            yield queued

    return screen, ""


def refuse_oversized(queued: QueuedMessage, limit: SizeLimit, source: str) -> None:
    """InputError naming the recipient and both sizes when `queued` is over `limit`."""
    message = queued.message
    if _upper_bound(message) <= limit.max_bytes:
        return
    size = limit.measure(message)
    if size <= limit.max_bytes:
        return
    raise InputError(
        [
            Problem(
                source,
                f"the message to {recipient_label(queued)} is {size:,} bytes, over the "
                f"{limit.max_bytes:,} bytes {limit.owner} takes; nothing was queued "
                "(make the letter or its attachments smaller)",
            )
        ]
    )


def recipient_label(queued: QueuedMessage) -> str:
    """Whose message it is, in a line: the office and address, or the supporter's address."""
    message = queued.message
    if queued.bioguide:
        return f"office {queued.bioguide} ({message.to_email})"
    return message.to_email


def _upper_bound(message: OutgoingMessage) -> int:
    return _FIXED_OVERHEAD + _WORST_EXPANSION * _weight(message)


def _weight(value: Any) -> int:
    """Characters (or bytes) in every field of the message, whatever fields it has,
    so a field added later (attachments) is never left out of the bound."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, tuple | list):
        return sum(_weight(item) for item in value) + 2 * len(value)
    if isinstance(value, dict):
        return sum(_weight(k) + _weight(v) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_weight(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64  # a number, None, a flag
