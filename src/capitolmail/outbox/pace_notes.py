"""The pace a throttling provider forced on the sending jobs, as `status` shows it.

A worker keeps its adaptive pace in memory (sending/throttle.py); `status` runs in another
process, so each change is noted as a job-level event, kind `relay_pace`, on
every sending job. Its detail is the messages per second ("0.1667"), or "none"
once the limit is lifted. Changes are few (halvings, and raises at most every
few seconds), and job-level events have no message id, so reading the latest
note goes through the message-id index rather than a job's message history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from capitolmail.outbox.events import chunked, event_row, record_events
from capitolmail.outbox.schema import events, jobs, workers
from capitolmail.outbox.states import JobState

PACE_EVENT = "relay_pace"
_LIFTED = "none"


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
    """The pace in force for each of `job_ids` that has one (its latest note is not "none").

    Only a running worker holds a pace: notes older than the oldest registered
    worker were left by one that stopped or died, and the next starts afresh.
    """
    ids = sorted(set(job_ids))
    oldest_worker = conn.execute(select(func.min(workers.c.started_at))).scalar()
    if oldest_worker is None or not ids:
        return {}
    latest: dict[int, tuple[int, str | None, datetime]] = {}
    for chunk in chunked(ids):
        rows = conn.execute(
            select(events.c.id, events.c.job_id, events.c.detail, events.c.at).where(
                events.c.message_id.is_(None),
                events.c.kind == PACE_EVENT,
                events.c.job_id.in_(chunk),
                events.c.at >= oldest_worker,
            )
        )
        for row in rows:
            if row.job_id not in latest or row.id > latest[row.job_id][0]:
                latest[row.job_id] = (row.id, row.detail, row.at)
    notes: dict[int, PaceNote] = {}
    for job_id, (_, detail, at) in latest.items():
        if detail and detail != _LIFTED:
            notes[job_id] = PaceNote(float(detail), at)
    return notes
