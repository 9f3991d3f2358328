"""Writing a whole job at once: one transaction, batched, with little per-row work.

An action alert to 300,000 supporters is one job. Through SQLAlchemy's usual
executemany path each of a row's 27 values passes through a type processor, which
cost more than SQLite's own work; here the statement is compiled once, the values
shared by every row are processed once, and the rows go to the driver in batches:
executemany on SQLite, COPY on PostgreSQL (psycopg's executemany spent more time
in Python per row than the server spent inserting). Measured on a 2-core VM,
300,000 messages took 19 s → 12 s on SQLite and 32 s → 12 s on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import DBAPIError

from capitolmail.outbox.events import BATCH, record_event
from capitolmail.outbox.records import QueuedMessage, email_key
from capitolmail.outbox.schema import jobs, messages
from capitolmail.outbox.states import JobState, MessageState


def create_job(
    conn: Connection,
    *,
    letter_slug: str,
    kind: str,
    queued: Sequence[QueuedMessage],
    now: datetime,
) -> int:
    if not queued:
        raise ValueError("a job needs at least one message")
    inserted = conn.execute(
        insert(jobs).values(
            letter_slug=letter_slug,
            kind=kind,
            state=JobState.DRAFT.value,
            created_at=now,
            total=len(queued),
            options={},
        )
    ).inserted_primary_key
    assert inserted is not None
    job_id: int = inserted[0]
    _insert_messages(conn, job_id, queued, now)
    record_event(
        conn, job_id=job_id, at=now, kind=f"job_{JobState.DRAFT}", detail=f"{len(queued)} messages"
    )
    return job_id


def _insert_messages(
    conn: Connection, job_id: int, queued: Sequence[QueuedMessage], now: datetime
) -> None:
    dialect = conn.dialect
    compiled = insert(messages).compile(dialect=dialect)
    processors: dict[str, Callable[[Any], Any] | None] = {
        column.name: column.type.dialect_impl(dialect).bind_processor(dialect)
        for column in messages.c
    }

    def bind(name: str, value: Any) -> Any:
        processor = processors[name]
        return value if processor is None else processor(value)

    same_for_all = {
        name: bind(name, value)
        for name, value in {
            "job_id": job_id,
            "state": MessageState.QUEUED.value,
            "attempts": 0,
            "last_error": None,
            "next_attempt_at": None,
            "provider_message_id": None,
            "claimed_by": None,
            "claimed_at": None,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
        }.items()
    }
    names = [column.name for column in messages.c]
    for start in range(0, len(queued), BATCH):
        rows = []
        for seq in range(start, min(start + BATCH, len(queued))):
            values = dict(same_for_all)
            for name, value in _per_message(seq, queued[seq]).items():
                values[name] = bind(name, value)
            rows.append(values)
        if dialect.driver == "psycopg":
            _copy_rows(conn, names, [tuple(row[name] for name in names) for row in rows])
        elif compiled.positional:
            order = compiled.positiontup or []
            conn.exec_driver_sql(
                str(compiled), [tuple(row[name] for name in order) for row in rows]
            )
        else:
            conn.exec_driver_sql(str(compiled), rows)


def _copy_rows(conn: Connection, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Stream one batch with COPY, inside the connection's open transaction."""
    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None
    statement = f"COPY {messages.name} ({', '.join(names)}) FROM STDIN"
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as err:
        # Past SQLAlchemy, so wrap as it would: callers handle SQLAlchemy's errors.
        raise DBAPIError.instance(statement, None, err, dbapi.Error) from err


def _per_message(seq: int, item: QueuedMessage) -> dict[str, Any]:
    message = item.message
    if len(message.message_id) > 36:
        raise ValueError(f"message id {message.message_id!r} is longer than a UUID")
    return {
        "id": message.message_id,
        "seq": seq,
        "to_email": message.to_email,
        "to_email_key": email_key(message.to_email),
        "to_name": message.to_name,
        "from_email": message.from_email,
        "from_name": message.from_name,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "text_body": message.text,
        "html_body": message.html,
        "headers": [[name, value] for name, value in message.headers],
        "categories": list(message.categories),
        "bioguide": item.bioguide,
        "contact_role": item.contact_role,
        "supporter_id": item.supporter_id,
    }
