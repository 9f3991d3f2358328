"""The inbound mailbox's side of the store: which messages were read, and what they were."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import inbox_messages
from capitolmail.outbox.store.part import StorePart


class InboxReadings(StorePart):
    """Read-only questions `inbox sync` and `status` ask; the writes happen in the
    delivery ledger's transaction (`DeliveryLedger.first_inbox_reading`)."""

    def inbox_read_among(self, mailbox: str, keys: Sequence[str]) -> set[str]:
        """Those of `keys` already read from `mailbox`, so a sync fetches only new mail."""
        found: set[str] = set()
        with self._read("look up mailbox messages already read") as conn:
            for part in chunked(keys):
                query = select(inbox_messages.c.key).where(
                    inbox_messages.c.mailbox == mailbox, inbox_messages.c.key.in_(list(part))
                )
                found.update(conn.execute(query).scalars())
        return found

    def inbox_outcomes(self) -> dict[str, int]:
        """How many mailbox messages of each outcome were read, every mailbox together."""
        query = select(inbox_messages.c.outcome, func.count()).group_by(inbox_messages.c.outcome)
        with self._read("count mailbox messages read") as conn:
            return {outcome: count for outcome, count in conn.execute(query)}
