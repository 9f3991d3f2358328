"""The pace a throttling provider forced on the sending jobs, as `status` shows it.

The pace in force is the provider's, shared by every worker (provider_pace.py), and
`status` reads it from there. Each change is also noted, by the worker that made
it, as a job-level event, kind `relay_pace`, on every sending job, so a job's
history says when its sending slowed: the detail is the messages per second
("0.1667"), or "none" once the limit is lifted. Changes are few (halvings, and
raises at most every few seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from capitolmail.outbox.events import event_row, record_events
from capitolmail.outbox.provider_pace import forced_paces
from capitolmail.outbox.schema import jobs
from capitolmail.outbox.states import JobState

PACE_EVENT = "relay_pace"
_LIFTED = "none"  # the detail of a note that the limit was lifted


@dataclass(frozen=True, slots=True)
class PaceNote:
    """A worker's provider was throttling: it sent at most `per_second` since `at`."""

    per_second: float
    at: datetime


def note_pace(conn: Connection, per_second: float | None, now: datetime) -> int:
    """Note the pace on every sending job; how many jobs were noted."""
    sending = conn.execute(
        select(jobs.c.id).where(jobs.c.state == JobState.SENDING.value)
    ).scalars()
    detail = _LIFTED if per_second is None else f"{per_second:.6g}"
    rows = [event_row(job_id=job_id, at=now, kind=PACE_EVENT, detail=detail) for job_id in sending]
    record_events(conn, rows)
    return len(rows)


def current_paces(conn: Connection, job_ids: Iterable[int]) -> dict[int, PaceNote]:
    """The pace in force for each of `job_ids`: the provider's shared pace (provider_pace.py).

    Every worker sends at that pace, whichever job, so each sending job shows it;
    the notes above are the history of its changes, kept with each job.
    """
    forced = forced_paces(conn)
    if not forced:
        return {}
    per_second, at = min(forced)
    return dict.fromkeys(sorted(set(job_ids)), PaceNote(per_second, at))
