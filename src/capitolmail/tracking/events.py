"""The normalised event: what a provider told us happened to a message it accepted.

Shaped after django-anymail's AnymailTrackingEvent, so each source (a webhook
parser, the inbound mailbox) fills the same fields and `apply.py` never learns
which provider spoke. Sources know the provider's words; `apply.py` knows our
message states; neither imports the other, and both import this leaf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
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
    REPLIED = "replied"  # a person answered (the inbound mailbox): beside the state
    AUTO_REPLIED = "auto_replied"  # an autoresponder answered: counted apart from replies
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One provider event.

    `event_name` is the provider's own word for it ("bounce", "spamreport"),
    kept for the log. `message_id` and `job_id` are our ids as the provider
    carried them back (None when capitolmail did not send the message); they are
    claims, and `apply.py` trusts only what the message row says. `event_id` is
    the provider's id, for spotting a retried batch (SendGrid retries for a day).
    `description` is the provider's explanation and `mta_response` the receiving
    server's reply. `provider_message_id` is the id the provider's reply to the
    send carried (SendGrid's X-Message-Id), kept for a message whose reply
    never came. `tags` are the message's categories; `metadata` our custom
    args as the event carried them; `esp_event` the event as received.
    """

    event_type: EventType
    event_name: str
    timestamp: datetime | None = None
    message_id: str | None = None
    job_id: str | None = None
    recipient: str | None = None
    event_id: str | None = None
    provider_message_id: str | None = None
    description: str | None = None
    mta_response: str | None = None
    tags: tuple[str, ...] = ()
    # The link a click event names, as the provider gave it (tracking/links.py cuts it).
    url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)
    esp_event: Any = field(default=None, repr=False, compare=False)

    @property
    def reason(self) -> str | None:
        """Why, in the provider's words: its description, else the server's reply."""
        return self.description or self.mta_response
