"""Telling the other workers at once that a job changed: PostgreSQL's NOTIFY.

Every change of a job's state (scheduled, started, paused, resumed, cancelled,
requeued, done, missed) and of its pace announces itself on `CHANNEL` in the
transaction that makes it, so the notice goes out exactly when the change is
committed and never for a change rolled back. Workers LISTEN for it
(sending/job_notices.py) and react in milliseconds instead of at their next
poll. SQLite has no such channel; its workers keep polling, and so does every
worker as a safety net for a notice missed while its listening connection was
down.

One PostgreSQL database can hold several outboxes, one per schema (staging
beside production, or the test suite's schema per test), and NOTIFY reaches
every listener in the database. So each notice names the schema it was made in
and a listener keeps only its own outbox's: a job 7 paused in staging must not
wake production's worker to look at its own job 7. During an upgrade a worker
of the version before this refreshes on every notice as before; this version
drops the older notices, which name no schema, and its poll finds those changes.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

CHANNEL = "capitolmail_jobs"
# The payload is "<job id>:<change>" then a newline then the schema: the first two
# are ours and never hold a newline, so the first newline splits it exactly.
_NOTIFY = text("SELECT pg_notify(:channel, :payload || chr(10) || coalesce(current_schema(), ''))")
# What a listener asks for the schema its notices must name (on the driver's connection).
OWN_SCHEMA = "SELECT coalesce(current_schema(), '')"


def announce(conn: Connection, job_id: int, change: str) -> None:
    """Announce that job `job_id` changed (`change`: "sending", "paused", "options"...)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": f"{job_id}:{change}"})


def parse_notice(payload: str, schema: str) -> tuple[int, str] | None:
    """The job id and change a notice names; None for one not made in `schema`'s outbox."""
    notice, _, made_in = payload.partition("\n")
    if made_in != schema:
        return None
    job, _, change = notice.partition(":")
    return (int(job), change) if job.isdigit() else None
