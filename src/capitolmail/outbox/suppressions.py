"""The suppression list: addresses nobody may email again, with why and since when.

Kept in the outbox database, keyed by the same `email_key` as `messages.to_email_key`,
because it is read where messages are: when a job is queued and again right
before each send, so one indexed lookup answers "may this go?". Every function
takes an open connection inside a transaction; `Store` owns the transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from capitolmail.outbox.events import chunked
from capitolmail.outbox.records import email_key
from capitolmail.outbox.schema import suppressions


class SuppressionReason(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    SPAM_REPORT = "spam_report"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Suppression:
    """One suppressed address; `at` is when it happened (the unsubscribe, the bounce)."""

    email: str
    reason: SuppressionReason
    at: datetime
    detail: str | None = None

    def __post_init__(self) -> None:
        # A typo here would suppress under a reason `status` cannot explain.
        object.__setattr__(self, "reason", SuppressionReason(self.reason))
        if not email_key(self.email):
            raise ValueError("a suppression needs an address")


def add_suppressions(conn: Connection, entries: Iterable[Suppression]) -> int:
    """Insert or update by address: adding an address again keeps one row, with the
    newest reason, detail and time. Returns how many distinct addresses were written."""
    by_key = {email_key(entry.email): entry for entry in entries}
    if not by_key:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(suppressions)
    statement = statement.on_conflict_do_update(
        index_elements=[suppressions.c.email_key],
        set_={
            name: statement.excluded[name]
            for name in ("email", "reason", "detail", "suppressed_at")
        },
    )
    rows = [
        {
            "email_key": key,
            "email": entry.email.strip(),
            "reason": entry.reason.value,
            "detail": entry.detail,
            "suppressed_at": entry.at,
        }
        for key, entry in by_key.items()
    ]
    for chunk in chunked(rows):
        conn.execute(statement, list(chunk))
    return len(rows)


def remove_suppression(conn: Connection, address: str) -> bool:
    """False when the address was not suppressed."""
    result = conn.execute(
        delete(suppressions).where(suppressions.c.email_key == email_key(address))
    )
    return result.rowcount > 0


def list_suppressions(conn: Connection) -> list[Suppression]:
    query = select(suppressions).order_by(suppressions.c.email_key)
    return [
        Suppression(
            email=row.email,
            reason=SuppressionReason(row.reason),
            at=row.suppressed_at,
            detail=row.detail,
        )
        for row in conn.execute(query)
    ]


def suppressed_among(conn: Connection, addresses: Iterable[str]) -> set[str]:
    """The `email_key`s of those `addresses` that are suppressed."""
    keys = sorted({email_key(address) for address in addresses})
    found: set[str] = set()
    for chunk in chunked(keys):
        query = select(suppressions.c.email_key).where(suppressions.c.email_key.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found
