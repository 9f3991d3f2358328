"""The inbound mailbox's side of the store: which messages were read, and what they were."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import distinct, func, select

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import events, inbox_messages
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

    def replies_by_job(self, job_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Messages with a reply, and with an auto-reply, per job: `status`'s figures.

        Counted from the event log (kinds `event_replied`, `event_auto_replied`),
        one per message however often its office wrote back.
        """
        wanted = list(job_ids)
        kinds = {"event_replied": "replied", "event_auto_replied": "auto_replied"}
        found = {job_id: dict.fromkeys(kinds.values(), 0) for job_id in wanted}
        if not wanted:
            return found
        query = (
            select(events.c.job_id, events.c.kind, func.count(distinct(events.c.message_id)))
            .where(events.c.job_id.in_(wanted), events.c.kind.in_(list(kinds)))
            .group_by(events.c.job_id, events.c.kind)
        )
        with self._read("count replies") as conn:
            for job_id, kind, count in conn.execute(query):
                found[job_id][kinds[kind]] = count
        return found
