"""Marking the moment a claimed message reaches the transport's irreversible step.

A claim commits `sending`; that alone does not say whether the provider got as
far as SMTP DATA or writing the SendGrid request. `handed_over_at`, committed
just before that step, does: a dead worker's `sending` row without it provably
never reached the provider and goes back to `queued`, and only a row with it
becomes `unknown` (workers.recover_abandoned). The sender marks many messages
at once, so this is one UPDATE per batch, whatever the batch size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Dialect

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import UTCDateTime
from capitolmail.outbox.states import MessageState

# Written out rather than built: a mark is on the path of every send, and
# SQLAlchemy's statement machinery costs more than the UPDATE itself. SQLite gets
# one placeholder per id (so the primary key finds each row), PostgreSQL an array.
_SENDING = MessageState.SENDING.value
_MARK_SQLITE = (
    "UPDATE messages SET handed_over_at = ? WHERE id IN ({}) AND state = ? AND claimed_by = ?"
)
_MARKED_SQLITE = "SELECT id FROM messages WHERE id IN ({}) AND state = ? AND claimed_by = ?"
_MARK_POSTGRESQL = (
    "UPDATE messages SET handed_over_at = %(now)s WHERE id = ANY(%(ids)s)"
    " AND state = %(state)s AND claimed_by = %(worker)s RETURNING id"
)


def mark_handed_over(
    conn: Connection, worker_id: str, message_ids: Sequence[str], now: datetime
) -> set[str]:
    """Set `handed_over_at` on the rows this worker still holds in `sending`; their ids.

    A row missing from the answer is no longer this worker's to send: another
    worker found it presumed dead and put the row back (or a job was cancelled),
    so the provider must not hand it over, or it could go out twice.

    The commit is a durable one on PostgreSQL too (no `synchronous_commit = off`):
    a mark lost to a crash of the database server would send its row back to
    `queued` if the worker riding out that outage were killed as well, and the
    letter could go out twice. Group commits already share one flush among the
    marks that wait together.
    """
    ids = list(message_ids)
    if not ids:
        return set()
    dialect = conn.dialect
    stamp = _bind_time(dialect)(now)
    if dialect.name == "postgresql":
        params = {"now": stamp, "state": _SENDING, "worker": worker_id, "ids": ids}
        return set(conn.exec_driver_sql(_MARK_POSTGRESQL, params).scalars())
    marked: set[str] = set()
    for chunk in chunked(ids):
        listed = ", ".join("?" * len(chunk))
        where = (*chunk, _SENDING, worker_id)
        cursor = conn.exec_driver_sql(_MARK_SQLITE.format(listed), (stamp, *where))
        if cursor.rowcount == len(chunk):
            marked.update(chunk)  # the usual case: every row was still ours
        else:
            # Another worker took some back; the rows still ours are those marked.
            rows = conn.exec_driver_sql(_MARKED_SQLITE.format(listed), where)
            marked.update(rows.scalars())
    return marked


@functools.cache
def _bind_time(dialect: Dialect) -> Callable[[datetime], object]:
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    return processor or (lambda value: value)
