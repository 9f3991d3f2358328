"""The send half of the outbox: workers claim due messages; outcomes.py records the rest.

The rule everything here serves: a message is never sent twice. A claim commits
`sending` before any message is handed to a provider, so a crash leaves evidence
(which `workers.recover_abandoned` turns into `unknown`, never back into
`queued`), and an outcome is recorded only for a message still in `sending`,
never over one that something else has already decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)

from capitolmail.errors import StoreError
from capitolmail.outbox.events import chunked, event_row, record_events
from capitolmail.outbox.records import ClaimedMessage, message_from_row
from capitolmail.outbox.schema import UTCDateTime, events, jobs, messages, workers
from capitolmail.outbox.states import JobState, MessageState
from capitolmail.rate import Rate, parse_rate

_CLAIMABLE_JOB_STATES = (JobState.SCHEDULED.value, JobState.SENDING.value)


def claim_due(conn: Connection, worker_id: str, limit: int, now: datetime) -> list[ClaimedMessage]:
    if limit <= 0:
        return []
    registered = conn.execute(select(workers.c.id).where(workers.c.id == worker_id)).first()
    if registered is None:
        # recover_abandoned treats rows of unregistered workers as abandoned, so a
        # claim by one would be marked `unknown` by the next worker to start.
        raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
    starting = _start_due_jobs(conn, now)
    due_jobs = conn.execute(
        select(jobs.c.id, jobs.c.options, jobs.c.paced_until)
        .where(jobs.c.state.in_(_CLAIMABLE_JOB_STATES), jobs.c.scheduled_at <= now)
        .order_by(jobs.c.id)
    ).all()
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

    record_events(
        conn,
        [
            event_row(job_id=job_id, at=now, kind=f"job_{JobState.SENDING}", detail=None)
            for job_id in starting
        ],
    )
    return _mark_claimed(conn, picked, worker_id, now, rates)


# Built once: SQLAlchemy caches their compiled forms, and claiming a batch is then one
# UPDATE ... RETURNING and one INSERT ... SELECT per chunk of ids, whatever the batch
# size, with no event dict built per row. Bound names differ from column names:
# SQLAlchemy reserves those for SET values.
_CLAIMED_IDS = bindparam("b_ids", expanding=True)
# Only what a provider needs: every timestamp column would be parsed for nothing.
_CLAIMED_COLUMNS = (
    messages.c.id,
    messages.c.job_id,
    messages.c.seq,
    messages.c.attempts,
    messages.c.from_email,
    messages.c.from_name,
    messages.c.to_email,
    messages.c.to_name,
    messages.c.subject,
    messages.c.text_body,
    messages.c.html_body,
    messages.c.reply_to,
    # As text where the driver gives text (SQLite): records.py parses each value once.
    type_coerce(messages.c.headers, Text).label("headers"),
    type_coerce(messages.c.categories, Text).label("categories"),
)
_CLAIM_UPDATE = (
    update(messages)
    .where(messages.c.id.in_(_CLAIMED_IDS))
    .values(
        state=MessageState.SENDING.value,
        attempts=messages.c.attempts + 1,
        claimed_by=bindparam("b_worker", type_=String()),
        claimed_at=bindparam("b_now", type_=UTCDateTime()),
        next_attempt_at=None,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)
# RETURNING needs SQLite 3.35 (2021); with an older library the rows are read after.
_CLAIM = _CLAIM_UPDATE.returning(*_CLAIMED_COLUMNS)
_CLAIMED_ROWS = select(*_CLAIMED_COLUMNS).where(messages.c.id.in_(_CLAIMED_IDS))
# The `sending` events, from the rows just updated: "attempt N by worker W".
_CLAIM_EVENTS = insert(events).from_select(
    ["message_id", "job_id", "at", "kind", "detail"],
    select(
        messages.c.id,
        messages.c.job_id,
        bindparam("b_now", type_=UTCDateTime()),
        literal(MessageState.SENDING.value),
        literal("attempt ")
        + cast(messages.c.attempts, String())
        + literal(" by worker ")
        + bindparam("b_worker", type_=String()),
    )
    .where(messages.c.id.in_(_CLAIMED_IDS))
    .order_by(messages.c.job_id, messages.c.seq),
)


def _mark_claimed(
    conn: Connection,
    picked: list[str],
    worker_id: str,
    now: datetime,
    rates: dict[int, str | None],
) -> list[ClaimedMessage]:
    """Move the picked (and locked) rows to `sending`, one event each; in job and seq order."""
    rows: list[Row[Any]] = []
    for chunk in chunked(picked):
        params = {"b_ids": list(chunk), "b_worker": worker_id, "b_now": now}
        if conn.dialect.update_returning:
            rows.extend(conn.execute(_CLAIM, params))
        else:
            conn.execute(_CLAIM_UPDATE, params)
            rows.extend(conn.execute(_CLAIMED_ROWS, params))
        conn.execute(_CLAIM_EVENTS, params)
    rows.sort(key=lambda row: (row.job_id, row.seq))
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


def next_paced_turn(conn: Connection, now: datetime) -> datetime | None:
    """The earliest time a rate-limited job with queued messages may send again.

    `worker --once` waits for it: a paced job is due now in the user's terms,
    only spread out; retries backing off are not waited for.
    """
    waiting = select(func.min(jobs.c.paced_until)).where(
        jobs.c.state.in_(_CLAIMABLE_JOB_STATES),
        jobs.c.scheduled_at <= now,
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


def _rate(options: dict[str, Any] | None) -> str | None:
    rate = (options or {}).get("rate")
    return rate if isinstance(rate, str) else None


def _start_due_jobs(conn: Connection, now: datetime) -> list[int]:
    """Move scheduled jobs whose time has come to `sending`; their ids.

    Done first, before any message row is locked, so claimers take locks in the
    same order as cancel_job (job row, then its messages) and PostgreSQL never
    finds the two waiting on each other. A job's row is locked only on its first
    claim; after that it is `sending` and this matches nothing.
    """
    due = (
        conn.execute(
            select(jobs.c.id)
            .where(jobs.c.state == JobState.SCHEDULED.value, jobs.c.scheduled_at <= now)
            .order_by(jobs.c.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    if due:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(due))
            .values(
                state=JobState.SENDING.value,
                # A paused and resumed job keeps the time it first started.
                started_at=func.coalesce(jobs.c.started_at, literal(now, UTCDateTime())),
            )
        )
    return list(due)


def _due_in_job(conn: Connection, job_id: int, limit: int, now: datetime) -> list[str]:
    """The ids of up to `limit` due messages of one job, in seq order, locked.

    Two queries rather than one with OR: each is a single range of the
    (job_id, state, seq) index, so the cost does not grow with the rows already
    sent. SKIP LOCKED lets concurrent PostgreSQL workers take the next rows instead
    of waiting; SQLite ignores it, and BEGIN IMMEDIATE already holds the file.
    """
    params = {"b_job": job_id, "b_limit": limit, "b_now": now}
    rows = [*conn.execute(_QUEUED_IN_JOB, params), *conn.execute(_RETRYING_IN_JOB, params)]
    rows.sort(key=lambda row: row.seq)
    return [row.id for row in rows[:limit]]


# _due_in_job's two queries, built once (a claim runs them for every job it looks at).
_QUEUED_IN_JOB = (
    select(messages.c.id, messages.c.seq)
    .where(
        messages.c.job_id == bindparam("b_job"),
        messages.c.state == MessageState.QUEUED.value,
    )
    .order_by(messages.c.seq)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
_RETRYING_IN_JOB = (
    select(messages.c.id, messages.c.seq)
    .where(
        messages.c.job_id == bindparam("b_job"),
        messages.c.state == MessageState.RETRY_WAIT.value,
        messages.c.next_attempt_at <= bindparam("b_now", type_=UTCDateTime()),
    )
    .order_by(messages.c.seq)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
