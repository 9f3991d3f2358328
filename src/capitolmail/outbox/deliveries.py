"""Provider events applied to messages: delivered, bounced, dropped, spam reports.

Every function takes an open connection inside a transaction; `Store` owns the
transactions, one per webhook request, so a batch of a thousand events is one
commit rather than a thousand. Three rules, each for a failure seen in practice:

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

An event acts only on what is ours: the message its custom args name, and only
when the event's address is that message's recipient. Anyone holding a signed
event (another tool on the same SendGrid account, a leaked batch) could otherwise
suppress any address, or move our message with someone else's bounce. Hard
bounces, spam reports and unsubscribes then suppress the message's recipient as we
stored it; every other event is counted and left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capitolmail.delivery import DeliveryEvent, EventKind
from capitolmail.errors import StoreError
from capitolmail.outbox.events import PROVED_BY, record_event
from capitolmail.outbox.records import email_key
from capitolmail.outbox.schema import messages, webhook_events
from capitolmail.outbox.states import MessageState
from capitolmail.outbox.suppressions import Suppression, SuppressionReason, add_suppressions

# How far along a message is once the provider has it. Every other state is one
# where we had not seen the provider accept it; an event proves it did.
_RANK: dict[MessageState, int] = {
    MessageState.SENT: 0,
    MessageState.DELIVERED: 1,
    MessageState.BOUNCED: 2,
    MessageState.DROPPED: 2,
    MessageState.SPAM_REPORT: 2,
}
_MOVES: dict[EventKind, MessageState] = {
    EventKind.DELIVERED: MessageState.DELIVERED,
    EventKind.BOUNCED: MessageState.BOUNCED,
    EventKind.DROPPED: MessageState.DROPPED,
    EventKind.SPAM_REPORT: MessageState.SPAM_REPORT,
}
_SUPPRESSES: dict[EventKind, SuppressionReason] = {
    EventKind.BOUNCED: SuppressionReason.BOUNCE,
    EventKind.SPAM_REPORT: SuppressionReason.SPAM_REPORT,
    EventKind.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBE,
}
# Event-log rows for an event that moved nothing start with this ("event_opened"),
# so they never read as a state change in a message's history.
EVENT_PREFIX = "event_"
# How long an applied event id is remembered for spotting a retried batch.
KEEP_EVENT_IDS = timedelta(days=7)
_DETAIL_LIMIT = 500


@dataclass(slots=True)
class DeliveryReport:
    """What one batch did, for the log line the webhook writes."""

    applied: int = 0  # events recorded against one of our messages
    moved: int = 0  # messages whose state changed
    duplicates: int = 0  # event ids already applied
    unmatched: int = 0  # no capitolmail message id, or one not in this database
    mismatched: int = 0  # our message, but the event names another address (or none)
    unknown: int = 0  # event kinds we do not know; logged and dropped
    suppressed: int = 0  # addresses written to the suppression list
    proved: int = 0  # messages not yet `sent` that an event proved the provider took


def apply_delivery_events(
    conn: Connection, events: Sequence[DeliveryEvent], now: datetime
) -> DeliveryReport:
    report = DeliveryReport()
    suppressions: list[Suppression] = []
    for event in events:
        if event.kind is EventKind.UNKNOWN:
            report.unknown += 1
            continue
        if event.event_id is not None and not _first_sighting(conn, event.event_id, now):
            report.duplicates += 1
            continue
        at = event.at or now
        row = _message(conn, event.message_id)
        if row is None:
            report.unmatched += 1
            continue
        if not event.recipient or email_key(event.recipient) != row.to_email_key:
            report.mismatched += 1
            continue
        reason = _SUPPRESSES.get(event.kind)
        if reason is not None:
            suppressions.append(Suppression(row.to_email, reason, at, _detail(event)))
        row, proved = _prove_sent(conn, row, event, at, now)
        report.proved += proved
        moved_to = _move(conn, row, event.kind, now)
        report.applied += 1
        report.moved += moved_to is not None
        note = None
        if moved_to is None and event.kind in _MOVES:
            note = f"not applied: the message is {row.state}"
        record_event(
            conn,
            job_id=row.job_id,
            message_id=row.id,
            at=at,
            kind=str(moved_to) if moved_to else f"{EVENT_PREFIX}{event.kind}",
            detail="; ".join(part for part in (_detail(event), note) if part),
        )
    report.suppressed = add_suppressions(conn, suppressions)
    # SendGrid stops retrying a batch after 24 hours (it says up to 72 in places);
    # an id older than a week can never come back, so it need not be kept.
    conn.execute(delete(webhook_events).where(webhook_events.c.received_at < now - KEEP_EVENT_IDS))
    return report


def _first_sighting(conn: Connection, event_id: str, now: datetime) -> bool:
    """Remember the id; False when it was already there.

    INSERT … ON CONFLICT DO NOTHING rather than a SELECT first: two deliveries of
    one batch at once then still apply it once (the second insert waits for the
    first transaction on PostgreSQL; SQLite's write lock serialises them).
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(webhook_events)
        .values(sg_event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=[webhook_events.c.sg_event_id])
        .returning(webhook_events.c.sg_event_id)
    )
    return conn.execute(statement).first() is not None


def _message(conn: Connection, message_id: str | None) -> Any:
    if not message_id:
        return None
    query = select(
        messages.c.id,
        messages.c.job_id,
        messages.c.state,
        messages.c.to_email,
        messages.c.to_email_key,
    ).where(messages.c.id == message_id)
    return conn.execute(query).first()


def _prove_sent(
    conn: Connection, row: Any, event: DeliveryEvent, at: datetime, now: datetime
) -> tuple[Any, bool]:
    """Move a message the provider has, by this event's word, but we had not seen
    accepted to `sent`; the row as it is now, and whether this moved it.

    The UPDATE names the state it saw, so a sender or `cancel` changing the row at
    the same moment is not overwritten: on PostgreSQL the UPDATE waits for their
    lock, then finds another state and the row is read again.
    """
    for _ in range(3):
        if row.state in _RANK:
            return row, False
        result = conn.execute(
            update(messages)
            .where(messages.c.id == row.id, messages.c.state == row.state)
            .values(
                state=MessageState.SENT.value,
                sent_at=at,
                provider_message_id=func.coalesce(
                    messages.c.provider_message_id, event.provider_message_id
                ),
                last_error=None,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        if result.rowcount:
            record_event(
                conn,
                job_id=row.job_id,
                message_id=row.id,
                at=at,
                kind=MessageState.SENT,
                detail=f'{PROVED_BY}the provider\'s "{event.name}" event; it was {row.state}',
            )
            return _message(conn, row.id), True
        row = _message(conn, row.id)
    raise StoreError(f"message {row.id} kept changing state while an event was applied")


def _move(conn: Connection, row: Any, kind: EventKind, now: datetime) -> MessageState | None:
    """The new state, or None when the event would not move the message forward.

    The UPDATE repeats the check in its WHERE, so a sender recording an outcome
    for the same row at the same moment cannot be overwritten.
    """
    target = _MOVES.get(kind)
    if target is None:
        return None
    current = _RANK.get(MessageState(row.state))
    if current is None or current >= _RANK[target]:
        return None
    earlier = [state.value for state, rank in _RANK.items() if rank < _RANK[target]]
    result = conn.execute(
        update(messages)
        .where(messages.c.id == row.id, messages.c.state.in_(earlier))
        .values(state=target.value, updated_at=now)
    )
    return target if result.rowcount else None


def _detail(event: DeliveryEvent) -> str:
    text = f"{event.name}: {event.reason}" if event.reason else event.name
    return text[:_DETAIL_LIMIT]
