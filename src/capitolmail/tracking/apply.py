"""Provider events applied to our messages and to the suppression list.

Whatever the source (SendGrid's webhook today, the inbound mailbox's bounces
next), events arrive as `TrackingEvent`s and one batch is applied in one
transaction (`Store.record_deliveries`). Four rules, each for a failure seen
in practice:

- An event id is applied once. SendGrid retries a batch that got no 2xx for 24
  hours; the second copy must change nothing, not even the event log.
- A message only moves forward (sent < delivered < bounced | dropped |
  spam_report). Events arrive out of order across batches, and a `delivered`
  that comes after a spam report must not make the complaint disappear.
- An event is evidence: the provider only reports on a message it accepted. A
  message we had not seen accepted (`sending`, `retry_wait`, `unknown`, `queued`
  after a requeue, even `failed` or `cancelled`) moves to `sent` first, with a
  `sent` event saying which event proved it, and then on as the event says. It
  is never retried: only `queued` and `retry_wait` rows are claimed, and the
  sender's own outcome, when it comes later, is a no-op (outbox/outcomes.py).
  So an event is never dropped for arriving early, and no event id is marked
  seen without the event being applied.
- An event acts only on what is ours: the message its id names, and only when
  the event's address is that message's recipient. Anyone holding a signed
  event (another tool on the same SendGrid account, a leaked batch) could
  otherwise suppress any address, or move our message with someone else's
  bounce. Hard bounces, spam reports and unsubscribes then suppress the
  message's recipient as we stored it; every other event is counted and left alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from capitolmail.errors import StoreError
from capitolmail.outbox import (
    MessageState,
    Suppression,
    SuppressionReason,
    TrackedMessage,
    email_key,
)
from capitolmail.outbox.events import PROVED_BY
from capitolmail.recipients.suppression import suppression
from capitolmail.tracking.events import EventType, TrackingEvent
from capitolmail.tracking.links import clicked_link

log = logging.getLogger("capitolmail.tracking")

# How far along a message is once the provider has it. Every other state is one
# where we had not seen the provider accept it; an event proves it did.
_RANK: dict[MessageState, int] = {
    MessageState.SENT: 0,
    MessageState.DELIVERED: 1,
    MessageState.BOUNCED: 2,
    MessageState.DROPPED: 2,
    MessageState.SPAM_REPORT: 2,
}
_MOVES: dict[EventType, MessageState] = {
    EventType.DELIVERED: MessageState.DELIVERED,
    EventType.BOUNCED: MessageState.BOUNCED,
    EventType.DROPPED: MessageState.DROPPED,
    EventType.SPAM_REPORT: MessageState.SPAM_REPORT,
}
_SUPPRESSES: dict[EventType, SuppressionReason] = {
    EventType.BOUNCED: SuppressionReason.BOUNCE,
    EventType.SPAM_REPORT: SuppressionReason.SPAM_REPORT,
    EventType.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBE,
}
# Event-log rows for an event that moved nothing start with this ("event_opened"),
# so they never read as a state change in a message's history.
EVENT_PREFIX = "event_"
# How long an applied event id is remembered for spotting a retried batch.
# SendGrid stops retrying a batch after 24 hours (it says up to 72 in places);
# an id older than a week can never come back, so it need not be kept.
KEEP_EVENT_IDS = timedelta(days=7)
_DETAIL_LIMIT = 500
# How often a message that keeps changing under us is read again before giving up.
_PROVE_TRIES = 3


class DeliveryLedger(Protocol):
    """The store's operations inside one batch's transaction (outbox/deliveries.py)."""

    now: datetime

    def first_sighting(self, event_id: str) -> bool: ...
    def forget_event_ids(self, received_before: datetime) -> None: ...
    def message(self, message_id: str) -> TrackedMessage | None: ...
    def mark_sent(
        self, message: TrackedMessage, *, at: datetime, provider_message_id: str | None
    ) -> bool: ...
    def advance(
        self, message_id: str, *, from_states: Iterable[MessageState], to: MessageState
    ) -> bool: ...
    def record_event(
        self,
        message: TrackedMessage,
        *,
        at: datetime,
        kind: str,
        detail: str | None,
        url: str | None = None,
    ) -> None: ...
    def add_suppressions(self, entries: Iterable[Suppression]) -> int: ...


class DeliveryStore(Protocol):
    """All that applying events needs of the outbox: one transaction per batch."""

    def record_deliveries(self, now: datetime) -> AbstractContextManager[DeliveryLedger]: ...


@dataclass(slots=True)
class DeliveryReport:
    """What one batch did, for the log line the webhook writes."""

    events: int = 0  # events in the batch
    applied: int = 0  # events recorded against one of our messages
    moved: int = 0  # messages whose state changed
    duplicates: int = 0  # event ids already applied
    unmatched: int = 0  # no capitolmail message id, or one not in this database
    mismatched: int = 0  # our message, but the event names another address (or none)
    unknown: int = 0  # event kinds we do not know; logged and dropped
    suppressed: int = 0  # addresses written to the suppression list
    proved: int = 0  # messages not yet `sent` that an event proved the provider took
    unknown_names: Counter[str] = field(default_factory=Counter)  # the provider's words

    def summary(self) -> str:
        return (
            f"{self.events} events, {self.applied} applied, {self.moved} moved a message, "
            f"{self.proved} proved a message sent, {self.duplicates} duplicates, "
            f"{self.unmatched} not ours, {self.mismatched} for another address, "
            f"{self.unknown} unknown, {self.suppressed} addresses suppressed"
        )


def apply_events(
    store: DeliveryStore, events: Sequence[TrackingEvent], now: datetime
) -> DeliveryReport:
    """Apply one batch in one transaction; StoreError (nothing applied) when the
    database fails, so the provider's retry brings the whole batch back."""
    report = DeliveryReport()
    with store.record_deliveries(now) as ledger:
        apply_in(ledger, events, report)
        ledger.forget_event_ids(now - KEEP_EVENT_IDS)
    return report


def apply_in(
    ledger: DeliveryLedger, events: Sequence[TrackingEvent], report: DeliveryReport
) -> None:
    """Apply events inside a transaction the caller holds, adding to `report`.

    For a source that writes more in the same transaction: the inbound mailbox
    remembers each message it read there, so a crash cannot apply one twice.
    """
    report.events += len(events)
    suppressions: list[Suppression] = []
    for event in events:
        entry = _apply(ledger, event, report)
        if entry is not None:
            suppressions.append(entry)
    report.suppressed += ledger.add_suppressions(suppressions)


def _apply(
    ledger: DeliveryLedger, event: TrackingEvent, report: DeliveryReport
) -> Suppression | None:
    """Apply one event, counting what it did; the suppression it calls for, if any."""
    if event.event_type is EventType.UNKNOWN:
        report.unknown += 1
        report.unknown_names[event.event_name] += 1
        return None
    if event.event_id is not None and not ledger.first_sighting(event.event_id):
        report.duplicates += 1
        return None
    message = ledger.message(event.message_id) if event.message_id else None
    if message is None:
        report.unmatched += 1
        return None
    if not event.recipient or email_key(event.recipient) != message.to_email_key:
        report.mismatched += 1
        return None
    at = event.timestamp or ledger.now
    entry = _suppression(message, event, at)
    message, proved = _prove_sent(ledger, message, event, at)
    report.proved += proved
    moved_to = _move(ledger, message, event.event_type)
    report.applied += 1
    report.moved += moved_to is not None
    note = None
    if moved_to is None and event.event_type in _MOVES:
        note = f"not applied: the message is {message.state}"
    ledger.record_event(
        message,
        at=at,
        kind=str(moved_to) if moved_to else f"{EVENT_PREFIX}{event.event_type}",
        detail="; ".join(part for part in (_detail(event), note) if part),
        url=clicked_link(event.url) if event.event_type is EventType.CLICKED else None,
    )
    return entry


def _suppression(message: TrackedMessage, event: TrackingEvent, at: datetime) -> Suppression | None:
    """The suppression a bounce, spam report or unsubscribe calls for, made as every
    other suppression is; None for other events, or a stored address that is not one."""
    reason = _SUPPRESSES.get(event.event_type)
    if reason is None:
        return None
    try:
        return suppression(message.to_email, reason, at, _detail(event))
    except ValueError:
        log.warning("message %s: its recipient is not a valid address; not suppressed", message.id)
        return None


def _prove_sent(
    ledger: DeliveryLedger, message: TrackedMessage, event: TrackingEvent, at: datetime
) -> tuple[TrackedMessage, bool]:
    """Move a message the provider has, by this event's word, but we had not seen
    accepted to `sent`; the message as it is now, and whether this moved it.

    `mark_sent` names the state it saw, so a sender or `cancel` changing the row
    at the same moment is not overwritten: the row is read again instead.
    """
    for _ in range(_PROVE_TRIES):
        if message.state in _RANK:
            return message, False
        if ledger.mark_sent(message, at=at, provider_message_id=event.provider_message_id):
            detail = (
                f'{PROVED_BY}the provider\'s "{event.event_name}" event; it was {message.state}'
            )
            ledger.record_event(message, at=at, kind=MessageState.SENT, detail=detail)
            return _reread(ledger, message), True
        message = _reread(ledger, message)
    raise StoreError(f"message {message.id} kept changing state while an event was applied")


def _reread(ledger: DeliveryLedger, message: TrackedMessage) -> TrackedMessage:
    again = ledger.message(message.id)
    if again is None:  # messages are never deleted while their job exists
        raise StoreError(f"message {message.id} disappeared while an event was applied")
    return again


def _move(ledger: DeliveryLedger, message: TrackedMessage, kind: EventType) -> MessageState | None:
    """The new state, or None when the event would not move the message forward.

    The store's update repeats the check, so a sender recording an outcome for
    the same row at the same moment cannot be overwritten.
    """
    target = _MOVES.get(kind)
    if target is None:
        return None
    current = _RANK.get(message.state)
    if current is None or current >= _RANK[target]:
        return None
    earlier = [state for state, rank in _RANK.items() if rank < _RANK[target]]
    moved = ledger.advance(message.id, from_states=earlier, to=target)
    return target if moved else None


def _detail(event: TrackingEvent) -> str:
    text = f"{event.event_name}: {event.reason}" if event.reason else event.event_name
    return text[:_DETAIL_LIMIT]
