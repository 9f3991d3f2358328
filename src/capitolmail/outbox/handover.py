"""Marking the moment a claimed message reaches the transport's irreversible step.

A claim commits `sending`; that alone does not say whether the provider got as
far as SMTP DATA or writing the SendGrid request. `handed_over_at`, committed
just before that step, does: a dead worker's `sending` row without it provably
never reached the provider and goes back to `queued`, and only a row with it
becomes `unknown` (workers.recover_abandoned). The sender marks many messages
at once, so this is one UPDATE per batch, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from capitolmail.outbox import driver_sql
from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.states import MessageState

# Written out rather than built: a mark is on the path of every send (driver_sql.py).
# Only the id list may choose the index. Given the equality on `state`, SQLite's
# planner (no statistics) read every `sending` row for each mark, and so did
# PostgreSQL's with statistics taken before the claims (the job queued, then
# analysed): 120 us a mark at 64 in flight on SQLite, 1.9 ms at 3,000 (several
# workers' claims), 1.7 ms on PostgreSQL; by the primary key 45 us and 0.5 ms.
# So the two checks are written so that no index serves them: a unary + on SQLite,
# IS NOT DISTINCT FROM on PostgreSQL (neither column is NULL where it matters: the
# state never is, and the worker is bound).
_WHERE = {
    "sqlite": "id IN (SELECT value FROM json_each(:ids))"
    " AND +state = :state AND +claimed_by = :worker",
    "postgresql": "id = ANY(%(ids)s) AND state IS NOT DISTINCT FROM %(state)s"
    " AND claimed_by IS NOT DISTINCT FROM %(worker)s",
}
_MARK = DriverSQL(
    sqlite=f"UPDATE messages SET handed_over_at = :now WHERE {_WHERE['sqlite']} RETURNING id",
    postgresql=f"UPDATE messages SET handed_over_at = %(now)s WHERE {_WHERE['postgresql']}"
    " RETURNING id",
)
# For a SQLite library without RETURNING (before 3.35): the rows marked, read after.
_MARK_BARE = DriverSQL(
    sqlite=f"UPDATE messages SET handed_over_at = :now WHERE {_WHERE['sqlite']}",
    postgresql=f"UPDATE messages SET handed_over_at = %(now)s WHERE {_WHERE['postgresql']}",
)
_MARKED = DriverSQL(
    sqlite=f"SELECT id FROM messages WHERE {_WHERE['sqlite']}",
    postgresql=f"SELECT id FROM messages WHERE {_WHERE['postgresql']}",
)


def mark_handed_over(
    conn: Connection, worker_id: str, message_ids: Sequence[str], now: datetime
) -> set[str]:
    """Set `handed_over_at` on the rows this worker still holds in `sending`; their ids.

    A row missing from the answer is no longer this worker's to send: another
    worker found it presumed dead and put the row back (or a job was cancelled),
    so the provider must not hand it over, or it could go out twice.

    On a connection outside any transaction the mark is one statement that commits
    by itself: one call to the database, where BEGIN, UPDATE and COMMIT took three
    (and on PostgreSQL three round trips) while a thread waited at the brink.

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
    params = {
        "now": driver_sql.bind_time(dialect)(now),
        "state": MessageState.SENDING.value,
        "worker": worker_id,
        "ids": driver_sql.in_list(dialect, ids),
    }
    if not dialect.update_returning:
        driver_sql.rowcount(conn, _MARK_BARE, params)
        # Another worker may have taken some back; the rows still ours are those marked.
        return {row[0] for row in driver_sql.rows(conn, _MARKED, params)}
    if conn.in_transaction():
        return {row[0] for row in driver_sql.rows(conn, _MARK, params)}
    return {row[0] for row in driver_sql.rows_committed(conn, _MARK, params)}
