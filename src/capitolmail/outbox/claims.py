"""The send half of the outbox: workers claim due messages; outcomes.py records the rest.

The rule everything here serves: a message is never sent twice. A claim commits
`sending` before any message is handed to a provider, so a crash leaves evidence
(which `workers.recover_abandoned` turns into `unknown`, never back into
`queued`), and an outcome is recorded only for a message still in `sending`,
never over one that something else has already decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, func, select, update

from capitolmail.errors import StoreError
from capitolmail.outbox.events import chunked, event_row, move_messages, record_events
from capitolmail.outbox.records import ClaimedMessage, message_from_row
from capitolmail.outbox.schema import jobs, messages, suppressions, workers
from capitolmail.outbox.states import JobState, MessageState
from capitolmail.rate import Rate, parse_rate
from capitolmail.timing import SendWindow


def claim_due(conn: Connection, worker_id: str, limit: int, now: datetime) -> list[ClaimedMessage]:
    if limit <= 0:
        return []
    registered = conn.execute(select(workers.c.id).where(workers.c.id == worker_id)).first()
    if registered is None:
        # recover_abandoned treats rows of unregistered workers as abandoned, so a
        # claim by one would be marked `unknown` by the next worker to start.
        raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
    due_jobs = [
        job
        for job in conn.execute(
            select(jobs.c.id, jobs.c.options, jobs.c.paced_until)
            .where(jobs.c.state == JobState.SENDING.value)
            .order_by(jobs.c.id)
        )
        if in_send_window(job.options, now)
    ]
    rates = {job.id: _rate(job.options) for job in due_jobs}
    picked: list[str] = []
    for job in due_jobs:
        remaining = limit - len(picked)
        if remaining <= 0:
            break
        rate = rates[job.id]
        if rate is None:
            picked.extend(_due_in_job(conn, job.id, remaining, now))
        elif job.paced_until is None or job.paced_until <= now:
            picked.extend(_claim_paced(conn, job.id, parse_rate(rate), remaining, now))

    picked = _without_suppressed(conn, picked, now)
    for chunk in chunked(picked):
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(chunk))
            .values(
                state=MessageState.SENDING.value,
                attempts=messages.c.attempts + 1,
                claimed_by=worker_id,
                claimed_at=now,
                next_attempt_at=None,
                updated_at=now,
            )
        )
    rows: list[Row[Any]] = []
    for chunk in chunked(picked):
        rows.extend(conn.execute(select(messages).where(messages.c.id.in_(chunk))).all())
    rows.sort(key=lambda row: (row.job_id, row.seq))
    record_events(
        conn,
        [
            event_row(
                job_id=row.job_id,
                message_id=row.id,
                at=now,
                kind=MessageState.SENDING,
                detail=f"attempt {row.attempts} by worker {worker_id}",
            )
            for row in rows
        ],
    )
    return [
        ClaimedMessage(
            message=message_from_row(row),
            job_id=row.job_id,
            attempts=row.attempts,
            job_rate=rates[row.job_id],
        )
        for row in rows
    ]


def _claim_paced(conn: Connection, job_id: int, rate: Rate, limit: int, now: datetime) -> list[str]:
    """Claim at most one burst of a rate-limited job and push its next turn back.

    The job row is locked first (the order cancel_job uses), so two workers
    sharing the job read and advance `paced_until` one after the other and the
    job's rate holds across workers.
    """
    paced_until = conn.execute(
        select(jobs.c.paced_until).where(jobs.c.id == job_id).with_for_update()
    ).scalar_one()
    if paced_until is not None and paced_until > now:
        return []
    burst = max(1, int(rate.per_second))
    picked = _due_in_job(conn, job_id, min(limit, burst), now)
    if picked:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(paced_until=now + timedelta(seconds=len(picked) / rate.per_second))
        )
    return picked


def _without_suppressed(conn: Connection, picked: list[str], now: datetime) -> list[str]:
    """Drop, as `suppressed`, the picked messages whose address is suppressed now.

    The last look before a provider sees the message: a supporter who unsubscribed,
    or an office address that hard-bounced, after the job was queued is not sent
    to. One indexed query per claim; the suppression list is small beside a job.
    """
    if not picked:
        return picked
    blocked: set[str] = set()
    for chunk in chunked(picked):
        blocked.update(
            conn.execute(
                select(messages.c.id)
                .join(suppressions, suppressions.c.email_key == messages.c.to_email_key)
                .where(messages.c.id.in_(chunk))
            ).scalars()
        )
    if not blocked:
        return picked
    for chunk in chunked(sorted(blocked)):
        move_messages(
            conn,
            messages.c.id.in_(chunk),
            to=MessageState.SUPPRESSED,
            now=now,
            detail="not sent: the address was added to the suppression list after queueing",
            values={
                "last_error": "suppressed before sending (address on the suppression list)",
                "next_attempt_at": None,
            },
        )
    return [message_id for message_id in picked if message_id not in blocked]


def next_paced_turn(conn: Connection, now: datetime) -> datetime | None:
    """The earliest time a rate-limited job with queued messages may send again.

    `worker --once` waits for it: a paced job is due now in the user's terms,
    only spread out; retries backing off are not waited for.
    """
    waiting = select(func.min(jobs.c.paced_until)).where(
        jobs.c.state == JobState.SENDING.value,
        jobs.c.paced_until > now,
        select(messages.c.id)
        .where(
            messages.c.job_id == jobs.c.id,
            messages.c.state == MessageState.QUEUED.value,
        )
        .exists(),
    )
    value: datetime | None = conn.execute(waiting).scalar_one_or_none()
    return value


def in_send_window(options: dict[str, Any] | None, now: datetime) -> bool:
    """Whether a job may send now: always, unless its send window is closed."""
    spec = (options or {}).get("window")
    if not isinstance(spec, str):
        return True
    window, zone = _window(spec, (options or {}).get("timezone") or "UTC")
    return window.contains(now, zone)


@lru_cache(maxsize=64)
def _window(spec: str, zone: str) -> tuple[SendWindow, ZoneInfo]:
    # Parsed once per spec: claim_due runs many times a second in a busy worker.
    return SendWindow.parse(spec), ZoneInfo(zone)


def _rate(options: dict[str, Any] | None) -> str | None:
    rate = (options or {}).get("rate")
    return rate if isinstance(rate, str) else None


def _due_in_job(conn: Connection, job_id: int, limit: int, now: datetime) -> list[str]:
    """The ids of up to `limit` due messages of one job, in seq order, locked.

    Two queries rather than one with OR: each is a single range of the
    (job_id, state, seq) index, so the cost does not grow with the rows already
    sent. SKIP LOCKED lets concurrent PostgreSQL workers take the next rows instead
    of waiting; SQLite ignores it, and BEGIN IMMEDIATE already holds the file.
    """
    queued = (
        select(messages.c.id, messages.c.seq)
        .where(messages.c.job_id == job_id, messages.c.state == MessageState.QUEUED.value)
        .order_by(messages.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    retrying = (
        select(messages.c.id, messages.c.seq)
        .where(
            messages.c.job_id == job_id,
            messages.c.state == MessageState.RETRY_WAIT.value,
            messages.c.next_attempt_at <= now,
        )
        .order_by(messages.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [*conn.execute(queued), *conn.execute(retrying)]
    rows.sort(key=lambda row: row.seq)
    return [row.id for row in rows[:limit]]
