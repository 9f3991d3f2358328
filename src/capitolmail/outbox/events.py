"""The event log: one row per state change, written in the same transaction as the change.

`status` and an operator deciding on `requeue` read a message's history here; the
message row itself only holds where it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, insert, literal, select, update

from capitolmail.outbox import driver_sql
from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.records import EventInfo
from capitolmail.outbox.schema import UTCDateTime, events, messages
from capitolmail.outbox.states import MessageState
from capitolmail.redaction import redact

T = TypeVar("T")

# Rows per executemany batch, and ids per `IN (...)`: large enough that 300,000
# messages take a few hundred round trips, small enough for SQLite's limit on
# bound parameters (32,766) and for PostgreSQL's plan cache to stay useful.
BATCH = 1000
# How the detail of a `sent` event starts when a provider's event, not the sender's
# outcome, moved the message there; outcomes.py reads it to accept a late outcome.
PROVED_BY = "proved by "


def chunked(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def event_row(
    *,
    job_id: int,
    at: datetime,
    kind: str,
    message_id: str | None = None,
    detail: str | None,
    url: str | None = None,
) -> dict[str, object]:
    return {
        "job_id": job_id,
        "message_id": message_id,
        "at": at,
        "kind": str(kind),
        # A detail may quote a provider's reply, which may echo a secret.
        "detail": stored_text(detail),
        "url": stored_text(url),
    }


def stored_text(text: str | None) -> str | None:
    """What the outbox keeps of an error or a detail: redacted, as everything that shows it."""
    return None if text is None else redact(text)


def record_events(conn: Connection, rows: Iterable[dict[str, object]]) -> None:
    """Insert `rows` (from event_row) in one call to the driver: every outcome writes one."""
    bind = driver_sql.bind_time(conn.dialect)
    params = [{**row, "at": bind(row["at"])} for row in rows]  # type: ignore[arg-type]
    driver_sql.run_many(conn, _INSERT_EVENT, params)


_INSERT_EVENT = DriverSQL(
    sqlite="INSERT INTO events (job_id, message_id, at, kind, detail, url)"
    " VALUES (:job_id, :message_id, :at, :kind, :detail, :url)",
    postgresql="INSERT INTO events (job_id, message_id, at, kind, detail, url)"
    " VALUES (%(job_id)s, %(message_id)s, %(at)s, %(kind)s, %(detail)s, %(url)s)",
)


def record_event(
    conn: Connection,
    *,
    job_id: int,
    at: datetime,
    kind: str,
    message_id: str | None = None,
    detail: str | None = None,
    url: str | None = None,
) -> None:
    conn.execute(
        insert(events).values(
            event_row(
                job_id=job_id, at=at, kind=kind, message_id=message_id, detail=detail, url=url
            )
        )
    )


def list_events(conn: Connection, job_id: int, message_id: str | None = None) -> list[EventInfo]:
    query = select(events).where(events.c.job_id == job_id).order_by(events.c.id)
    if message_id is not None:
        query = query.where(events.c.message_id == message_id)
    return [
        EventInfo(
            id=row.id,
            job_id=row.job_id,
            message_id=row.message_id,
            at=row.at,
            kind=row.kind,
            detail=row.detail,
        )
        for row in conn.execute(query)
    ]


def move_messages(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    to: MessageState,
    now: datetime,
    detail: str,
    values: dict[str, Any] | None = None,
) -> int:
    """Move every message matching `where` to `to`, one event each; returns how many.

    Set-based, because cancelling a 300,000-message alert must not fetch its rows.
    On PostgreSQL the events come from the UPDATE's own RETURNING, so a row a
    claimer took meanwhile (the UPDATE re-checks `where` after waiting for its
    lock) gets no false event. SQLite's write transaction already excludes
    every other writer, so there the events are selected before the update.
    """
    changes = {"state": to.value, "updated_at": now, **(values or {})}
    columns = ["message_id", "job_id", "at", "kind", "detail"]
    constants = (literal(now, UTCDateTime()), literal(str(to)), literal(detail))
    if conn.dialect.name == "postgresql":
        moved = (
            update(messages)
            .where(where)
            .values(changes)
            .returning(messages.c.id, messages.c.job_id)
            .cte("moved")
        )
        result = conn.execute(
            insert(events).from_select(columns, select(moved.c.id, moved.c.job_id, *constants)),
            execution_options={"preserve_rowcount": True},  # kept for UPDATE/DELETE only
        )
        return result.rowcount
    conn.execute(
        insert(events).from_select(
            columns, select(messages.c.id, messages.c.job_id, *constants).where(where)
        )
    )
    return conn.execute(update(messages).where(where).values(changes)).rowcount
