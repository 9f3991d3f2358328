"""What a provider tells us happened to a message after it accepted it.

The one type that crosses from a provider's webhook parser (`web/sendgrid.py`)
to the outbox (`outbox/deliveries.py`): the parser knows the provider's words,
the outbox knows our states, and neither imports the other. A leaf module, like
`message.py`, so both sides can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Provider events in our words; `unknown` keeps an event we cannot classify."""

    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"  # a hard bounce: the address does not take mail
    BLOCKED = "blocked"  # refused this time (reputation, content): a soft failure
    DROPPED = "dropped"
    SPAM_REPORT = "spam_report"
    UNSUBSCRIBED = "unsubscribed"
    OPENED = "opened"
    CLICKED = "clicked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One provider event.

    `message_id` is our UUID from custom_args (None when the message was not
    sent by capitolmail); `event_id` is the provider's id for deduplication
    (SendGrid retries a batch for up to 24 hours); `name` is the provider's own
    word for the event, kept for the log; `raw` is the event as received;
    `provider_message_id` is the id the provider's reply to the send carried
    (SendGrid's X-Message-Id), kept for a message whose reply never came.
    """

    kind: EventKind
    name: str
    message_id: str | None
    recipient: str | None
    at: datetime | None
    reason: str | None
    event_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    provider_message_id: str | None = None
