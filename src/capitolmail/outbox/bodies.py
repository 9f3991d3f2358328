"""Where a message's text and HTML live: their own table since migration 0018.

The send path writes a message's row at its claim, its hand-over mark and its
outcome; SQLite rewrites the whole row each time, and with a letter's bodies in
it a row filled most of a page, so each write of a batch was a page of its own.
Kept apart, the bodies are written once, when the job is queued, and read once,
when the message is claimed.

A message queued before 0018 has no row here and keeps its bodies in its own
row: `text_and_html` gives every reader whichever is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from capitolmail.errors import StoreError
from capitolmail.outbox import driver_sql
from capitolmail.outbox.driver_sql import DriverSQL

# (text, html) by message id.
Bodies = dict[str, tuple[str, str | None]]

# Written out: a claim reads its batch's bodies on every turn of the send loop.
_READ = DriverSQL(
    sqlite="SELECT message_id, text_body, html_body FROM message_bodies"
    " WHERE message_id IN (SELECT value FROM json_each(:ids))",
    postgresql="SELECT message_id, text_body, html_body FROM message_bodies"
    " WHERE message_id = ANY(%(ids)s)",
)


def read_bodies(conn: Connection, message_ids: Sequence[str]) -> Bodies:
    """The bodies kept apart for `message_ids` (a message queued before 0018 has none)."""
    if not message_ids:
        return {}
    params = {"ids": driver_sql.in_list(conn.dialect, list(message_ids))}
    return {row[0]: (row[1], row[2]) for row in driver_sql.rows(conn, _READ, params)}


def text_and_html(row: Any, bodies: Bodies) -> tuple[str, str | None]:
    """A stored message's text and HTML: kept apart, or in its row (queued before 0018).

    A row with neither is a damaged outbox and raises StoreError: compose never
    queues an empty text part, so an empty one here means the bodies were lost, and
    sending would put an empty letter in a Hill office's inbox.
    """
    found = bodies.get(row.id)
    if found is not None:
        return found
    if not row.text_body:
        raise StoreError(
            f"message {row.id} of job {row.job_id} has no text in the outbox (its row in"
            " message_bodies is missing): the outbox database is damaged; nothing was sent"
            " for it. Restore the database from a backup, or cancel the job"
        )
    return row.text_body, row.html_body


def body_row(message_id: str, text: str, html: str | None) -> dict[str, Any]:
    """A message's row in message_bodies, as the job's writer inserts it (bulk.py)."""
    return {"message_id": message_id, "text_body": text, "html_body": html}
