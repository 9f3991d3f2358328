"""The store's side of tracking: the few operations that applying an event needs.

The rules (which message an event names, which states it may move, what is
suppressed) live in `tracking/apply.py`, which knows no SQL; these are the
rows those rules read and write. A `DeliveryLedger` is one open transaction,
so a batch of a thousand events is one commit rather than a thousand, and a
retried batch applied twice at once is still applied once.

Every UPDATE here names the state it expects, so a sender or `cancel` changing
the same row at the same moment is never overwritten: on PostgreSQL the UPDATE
waits for their lock, then finds another state and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capitolmail.outbox.events import record_event
from capitolmail.outbox.records import email_key
from capitolmail.outbox.schema import inbox_messages, messages, supporters, webhook_events
from capitolmail.outbox.states import MessageState
from capitolmail.outbox.suppressions import Suppression, add_suppressions


@dataclass(frozen=True, slots=True)
class TrackedMessage:
    """What an event is checked against: where the message is and whom it went to."""

    id: str
    job_id: int
    state: MessageState
    to_email: str
    to_email_key: str


class DeliveryLedger:
    """Operations on messages, the event log, seen event ids and the suppression list,
    all inside one transaction that `Store.record_deliveries` opens and commits."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self._conn = conn
        self.now = now

    def first_sighting(self, event_id: str) -> bool:
        """Remember the provider's event id; False when it was already there.

        INSERT … ON CONFLICT DO NOTHING rather than a SELECT first: two deliveries
        of one batch at once then still apply it once (the second insert waits for
        the first transaction on PostgreSQL; SQLite's write lock serialises them).
        """
        insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(webhook_events)
            .values(sg_event_id=event_id, received_at=self.now)
            .on_conflict_do_nothing(index_elements=[webhook_events.c.sg_event_id])
            .returning(webhook_events.c.sg_event_id)
        )
        return self._conn.execute(statement).first() is not None

    def forget_event_ids(self, received_before: datetime) -> None:
        self._conn.execute(
            delete(webhook_events).where(webhook_events.c.received_at < received_before)
        )

    def message(self, message_id: str) -> TrackedMessage | None:
        """Our message by its id, or None when this database has no such message."""
        query = select(
            messages.c.id,
            messages.c.job_id,
            messages.c.state,
            messages.c.to_email,
            messages.c.to_email_key,
        ).where(messages.c.id == message_id)
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return TrackedMessage(
            row.id, row.job_id, MessageState(row.state), row.to_email, row.to_email_key
        )

    def office_colleague(self, message_id: str, address: str) -> str | None:
        """The message of the same job that went to `address` at the same office as
        `message_id`, or None: a joint letter reaches each office through several
        contacts, and one of them may answer the copy another was sent. Only a
        contact the job itself wrote to counts: an office is a bioguide id, never a
        domain (every House office writes from mail.house.gov)."""
        named = messages.alias("named")
        same_office = (
            select(messages.c.id)
            .join(
                named,
                and_(named.c.job_id == messages.c.job_id, named.c.bioguide == messages.c.bioguide),
            )
            .where(named.c.id == message_id, messages.c.to_email_key == email_key(address))
            .limit(1)
        )
        found: str | None = self._conn.execute(same_office).scalar_one_or_none()
        return found

    def mark_sent(
        self, message: TrackedMessage, *, at: datetime, provider_message_id: str | None
    ) -> bool:
        """Move a message from the state it was read in to `sent`; False when it had moved.

        Its provider id is kept when it has one (the send's own reply said it).
        """
        result = self._conn.execute(
            update(messages)
            .where(messages.c.id == message.id, messages.c.state == message.state.value)
            .values(
                state=MessageState.SENT.value,
                sent_at=at,
                provider_message_id=func.coalesce(
                    messages.c.provider_message_id, provider_message_id
                ),
                last_error=None,
                next_attempt_at=None,
                updated_at=self.now,
            )
        )
        return bool(result.rowcount)

    def advance(
        self, message_id: str, *, from_states: Iterable[MessageState], to: MessageState
    ) -> bool:
        """Move a message that is in one of `from_states` to `to`; False when it was not."""
        result = self._conn.execute(
            update(messages)
            .where(
                messages.c.id == message_id,
                messages.c.state.in_([state.value for state in from_states]),
            )
            .values(state=to.value, updated_at=self.now)
        )
        return bool(result.rowcount)

    def record_event(
        self,
        message: TrackedMessage,
        *,
        at: datetime,
        kind: str,
        detail: str | None,
        url: str | None = None,
    ) -> None:
        """One line in the message's history (redacted, as every detail is); `url` is
        a click's link, already cut by tracking/links.py."""
        record_event(
            self._conn,
            job_id=message.job_id,
            message_id=message.id,
            at=at,
            kind=kind,
            detail=detail,
            url=url,
        )

    def add_suppressions(self, entries: Iterable[Suppression]) -> int:
        """As `Store.add_suppressions`, in this transaction."""
        return add_suppressions(self._conn, entries)

    def first_inbox_reading(self, mailbox: str, key: str, outcome: str) -> bool:
        """Remember one message of the inbound mailbox as read; False when it already was.

        In the transaction that applies what it said, so a sync that dies halfway
        neither loses a bounce nor applies it twice, and two syncs at once (the
        worker's and a person's) read each message once.
        """
        insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(inbox_messages)
            .values(mailbox=mailbox, key=key, outcome=outcome, read_at=self.now)
            .on_conflict_do_nothing(index_elements=[inbox_messages.c.mailbox, inbox_messages.c.key])
            .returning(inbox_messages.c.key)
        )
        return self._conn.execute(statement).first() is not None

    def supporter_address(self, address: str) -> str | None:
        """The supporter's address as stored, when `address` is one of our supporters'."""
        query = select(supporters.c.email).where(supporters.c.email_key == email_key(address))
        return self._conn.execute(query.limit(1)).scalar_one_or_none()
