"""Putting a letter's messages in the outbox, and what the letter already reached."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from capitolmail.outbox import bulk, history, job_queries
from capitolmail.outbox.records import QueuedMessage
from capitolmail.outbox.store.part import StorePart, aware


class JobQueue(StorePart):
    """The queueing side: one job in one transaction, and the lookups that keep a
    letter from reaching the same person twice."""

    def create_job(
        self, *, letter_slug: str, kind: str, messages: Iterable[QueuedMessage], now: datetime
    ) -> int:
        """Store a draft job and all its messages, `queued`, in one transaction.

        `messages` may be a generator that renders as it goes: it is consumed in
        batches inside the transaction, and anything it raises stores nothing.
        `seq` is the position in `messages` (from 0); a message with `suppressed`
        set is stored `suppressed`. Each message's `job_id` is ignored: the job
        does not exist until now.
        """
        aware("now", now)
        with self._write("queue the job") as conn:
            return bulk.create_job(
                conn, letter_slug=letter_slug, kind=kind, queued=messages, now=now
            )

    def reached_recipients(self, letter_slug: str, emails: Iterable[str]) -> set[str]:
        """Which of `emails` (as `email_key` spells them) may already have this letter."""
        with self._read() as conn:
            return job_queries.reached_recipients(conn, letter_slug, emails)

    def earlier_messages(
        self, wanted: Iterable[tuple[str, str]], *, since: datetime
    ) -> list[history.EarlierMessage]:
        """Who already had the same content: `wanted` is (email_key, content_hash) pairs."""
        aware("since", since)
        with self._read() as conn:
            return history.earlier_messages(conn, wanted, since=since)
