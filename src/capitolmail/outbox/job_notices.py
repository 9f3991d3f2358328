"""Telling the other workers at once that a job changed: PostgreSQL's NOTIFY.

Every change of a job's state (scheduled, started, paused, resumed, cancelled,
requeued, done, missed) and of its pace announces itself on `CHANNEL` in the
transaction that makes it, so the notice goes out exactly when the change is
committed and never for a change rolled back. Workers LISTEN for it
(sending/job_notices.py) and react in milliseconds instead of at their next
poll. SQLite has no such channel; its workers keep polling, and so does every
worker as a safety net for a notice missed while its listening connection was
down.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

CHANNEL = "capitolmail_jobs"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def announce(conn: Connection, job_id: int, change: str) -> None:
    """Announce that job `job_id` changed (`change`: "sending", "paused", "options"...)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": f"{job_id}:{change}"})


def parse_notice(payload: str) -> tuple[int, str] | None:
    """The job id and change a notice names; None for one that is not ours."""
    job, _, change = payload.partition(":")
    return (int(job), change) if job.isdigit() else None
