"""Who alerts go to and who nothing goes to: the supporters and the suppression list."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from capitolmail.outbox import history, supporters, suppressions
from capitolmail.outbox.records import email_key
from capitolmail.outbox.store.part import StorePart, aware
from capitolmail.outbox.supporters import SupporterInfo, SupporterRecord, UpsertCounts
from capitolmail.outbox.suppressions import Suppression, SuppressionReason


class Audience(StorePart):
    """Supporter imports and reads, and the suppression list every send checks."""

    def upsert_supporters(
        self, records: Sequence[SupporterRecord], *, import_id: str, now: datetime
    ) -> UpsertCounts:
        """Write one batch of an import in one transaction, upserting by `email_key`.

        Rows of earlier imports are replaced; a row this `import_id` already wrote
        is merged into (later values win, tags are unioned), so a streaming import
        merges duplicates across batches without remembering every address.
        """
        aware("now", now)
        with self._write("import supporters") as conn:
            return supporters.upsert_supporters(conn, records, import_id, now)

    def list_supporters(self, *, limit: int | None = None) -> list[SupporterInfo]:
        """In the order they were first imported."""
        with self._read("read the supporters") as conn:
            return supporters.list_supporters(conn, limit)

    def iter_supporters(
        self, *, consenting_only: bool = True, page_size: int = 5000
    ) -> Iterator[list[SupporterInfo]]:
        """Every supporter in id order, a page at a time, each page its own short read.

        Safe to run while this process holds a write transaction elsewhere (queueing
        an alert reads supporters while it writes messages): SQLite in WAL mode and
        PostgreSQL both let a reader see the last committed state meanwhile.
        """
        after = 0
        while True:
            with self._read("read the supporters") as conn:
                page = supporters.supporter_page(
                    conn, after_id=after, limit=page_size, consenting_only=consenting_only
                )
            if not page:
                return
            yield page
            after = page[-1].id

    def count_supporters(self) -> int:
        with self._read("read the supporters") as conn:
            return supporters.count_supporters(conn)

    def supporter_email(self, supporter_id: int) -> str | None:
        """The address of supporter `supporter_id`, or None when there is no such supporter."""
        with self._read("read the supporters") as conn:
            return supporters.supporter_email(conn, supporter_id)

    def add_suppressions(self, entries: Iterable[Suppression]) -> int:
        """Suppress addresses; an address already there keeps one row with the new
        reason, detail and time. Returns the number of distinct addresses written."""
        entries = list(entries)
        for entry in entries:
            aware("at", entry.at)
        with self._write("suppress addresses") as conn:
            return suppressions.add_suppressions(conn, entries)

    def add_suppression(
        self, email: str, reason: str, *, at: datetime, detail: str | None = None
    ) -> None:
        """One address; `reason` is a SuppressionReason value (ValueError otherwise)."""
        self.add_suppressions([Suppression(email, SuppressionReason(reason), at, detail)])

    def remove_suppression(self, email: str) -> bool:
        """False when the address was not suppressed."""
        with self._write("remove the suppression") as conn:
            return suppressions.remove_suppression(conn, email)

    def list_suppressions(self) -> list[Suppression]:
        """Sorted by address."""
        with self._read("read the suppression list") as conn:
            return suppressions.list_suppressions(conn)

    def suppressed_among(self, emails: Iterable[str]) -> set[str]:
        """Which of `emails` are suppressed, as `email_key` spells them."""
        with self._read("read the suppression list") as conn:
            return suppressions.suppressed_among(conn, emails)

    def list_name(self, address: str, list_id: str) -> str | None:
        """The list's name as `address` saw it in the List-Id of a message it was sent."""
        with self._read("read the messages") as conn:
            return history.list_name(conn, email_key(address), list_id)
