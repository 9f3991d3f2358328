"""The send half of the outbox: workers claim due messages; outcomes.py records the rest.

The rule everything here serves: a message is never sent twice. A claim commits
`sending` before any message is handed to a provider, and `handed_over_at`
(handover.py) before the transport's irreversible step, so a crash leaves
evidence: `workers.recover_abandoned` turns a handed-over row into `unknown` and
only a row that provably never got there back into `queued`; and an outcome
is recorded only for a message still in `sending`, never over one that
something else has already decided.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
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
from capitolmail.outbox import driver_sql
from capitolmail.outbox.attachments import read_blobs
from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.events import chunked, move_messages
from capitolmail.outbox.provider_pace import PaceTurn, spend_turns, take_turns
from capitolmail.outbox.records import ClaimedMessage, message_from_row
from capitolmail.outbox.schema import UTCDateTime, events, jobs, messages, workers
from capitolmail.outbox.states import JobState, MessageState
from capitolmail.timing.pacing import Pacing
from capitolmail.timing.rate import Rate


def claim_due(
    conn: Connection,
    worker_id: str,
    limit: int,
    now: datetime,
    *,
    handed_over: bool = True,
    pace: PaceTurn | None = None,
) -> list[ClaimedMessage]:
    """`handed_over` marks the rows handed over at once, for a provider that does not
    report its irreversible step (handover.py): if its worker dies they are `unknown`.
    `pace` limits the claim to the turns the provider's shared pace has free now
    (provider_pace.py), taken in this same transaction."""
    if limit <= 0:
        return []
    if pace is not None:
        limit = take_turns(conn, pace, limit, now)
        if limit <= 0:
            return []
    due_jobs = [
        job for job in conn.execute(_SENDING_JOBS) if Pacing.from_stored(job.options).is_open(now)
    ]
    rates = {job.id: Pacing.from_stored(job.options).rate for job in due_jobs}
    picked: list[str] = []
    for job in due_jobs:
        remaining = limit - len(picked)
        if remaining <= 0:
            break
        rate = rates[job.id]
        if rate is None:
            picked.extend(_due_in_job(conn, job.id, remaining, now))
        elif job.paced_until is None or job.paced_until <= now:
            picked.extend(_claim_paced(conn, job.id, rate, remaining, now))

    picked = _without_suppressed(conn, picked, now)
    claimed = _mark_claimed(conn, picked, worker_id, now, rates, handed_over=handed_over)
    if pace is not None:
        spend_turns(conn, pace, len(claimed))
    return claimed


# Built once, as the statements below: claim_due reads the sending jobs at every claim.
_SENDING_JOBS = (
    select(jobs.c.id, jobs.c.options, jobs.c.paced_until)
    .where(jobs.c.state == JobState.SENDING.value)
    .order_by(jobs.c.id)
)
# The claim built with SQLAlchemy, for a SQLite library without RETURNING (the usual
# claim is written out below). Built once: SQLAlchemy caches their compiled forms.
# Bound names differ from column names: SQLAlchemy reserves those for SET values.
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
    type_coerce(messages.c.tracking, Text).label("tracking"),
    type_coerce(messages.c.cc, Text).label("cc"),
    type_coerce(messages.c.bcc, Text).label("bcc"),
    type_coerce(messages.c.attachments, Text).label("attachments"),
)
_CLAIM_UPDATE = (
    update(messages)
    .where(
        messages.c.id.in_(_CLAIMED_IDS),
        # recover_abandoned treats rows of unregistered workers as abandoned, so a
        # claim by one would be marked `unknown` by the next worker to start: the
        # UPDATE takes no row for one, and _mark_claimed refuses the claim.
        select(workers.c.id).where(workers.c.id == bindparam("b_worker")).exists(),
    )
    .values(
        state=MessageState.SENDING.value,
        attempts=messages.c.attempts + 1,
        claimed_by=bindparam("b_worker", type_=String()),
        claimed_at=bindparam("b_now", type_=UTCDateTime()),
        next_attempt_at=None,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
        # None until the provider reaches its irreversible step (handover.py).
        handed_over_at=bindparam("b_handed", type_=UTCDateTime()),
    )
)
# RETURNING needs SQLite 3.35 (2021); with an older library the rows are read after.
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


# The claim as every batch runs it, written out (driver_sql.py): the same columns as
# _CLAIMED_COLUMNS, the JSON ones as their text (records.py parses each value once).
_CLAIMED_NAMES = [column.name for column in _CLAIMED_COLUMNS]
_ClaimedRow = namedtuple("_ClaimedRow", _CLAIMED_NAMES)  # type: ignore[misc]
# PostgreSQL's driver would parse every JSON value of every row; as text, records.py
# parses each distinct value once (a job's messages share them).
_JSON_COLUMNS = {"headers", "categories", "tracking", "cc", "bcc", "attachments"}
_CLAIMED_AS_TEXT = ", ".join(
    f"{name}::text AS {name}" if name in _JSON_COLUMNS else name for name in _CLAIMED_NAMES
)
_CLAIM_SET = {
    "sqlite": "SET state = :sending, attempts = attempts + 1, claimed_by = :worker,"
    " claimed_at = :now, next_attempt_at = NULL, updated_at = :now, handed_over_at = :handed",
    "postgresql": "SET state = %(sending)s, attempts = attempts + 1, claimed_by = %(worker)s,"
    " claimed_at = %(now)s, next_attempt_at = NULL, updated_at = %(now)s,"
    " handed_over_at = %(handed)s",
}
_CLAIM_WRITTEN = DriverSQL(
    sqlite=f"UPDATE messages {_CLAIM_SET['sqlite']}"
    " WHERE id IN (SELECT value FROM json_each(:ids))"
    " AND EXISTS (SELECT 1 FROM workers WHERE workers.id = :worker)"
    f" RETURNING {', '.join(_CLAIMED_NAMES)}",
    postgresql=f"UPDATE messages {_CLAIM_SET['postgresql']}"
    " WHERE id = ANY(%(ids)s) AND EXISTS (SELECT 1 FROM workers WHERE workers.id = %(worker)s)"
    f" RETURNING {_CLAIMED_AS_TEXT}",
)
# The `sending` events ("attempt N by worker W"), from the rows just updated.
_CLAIM_EVENTS_WRITTEN = DriverSQL(
    sqlite="INSERT INTO events (message_id, job_id, at, kind, detail)"
    " SELECT id, job_id, :now, :sending, 'attempt ' || CAST(attempts AS TEXT) || ' by worker '"
    " || :worker FROM messages WHERE id IN (SELECT value FROM json_each(:ids))"
    " ORDER BY job_id, seq",
    postgresql="INSERT INTO events (message_id, job_id, at, kind, detail)"
    " SELECT id, job_id, %(now)s, %(sending)s, 'attempt ' || CAST(attempts AS TEXT)"
    " || ' by worker ' || %(worker)s FROM messages WHERE id = ANY(%(ids)s)"
    " ORDER BY job_id, seq",
)


def _mark_claimed(
    conn: Connection,
    picked: list[str],
    worker_id: str,
    now: datetime,
    rates: dict[int, Rate | None],
    *,
    handed_over: bool,
) -> list[ClaimedMessage]:
    """Move the picked (and locked) rows to `sending`, one event each; in job and seq order."""
    if not picked:
        return []
    if conn.dialect.update_returning:
        rows: list[Any] = _mark_claimed_written_out(conn, picked, worker_id, now, handed_over)
    else:
        rows = _mark_claimed_built(conn, picked, worker_id, now, handed_over)
    rows.sort(key=lambda row: (row.job_id, row.seq))
    blobs = read_blobs(conn, rows)
    return [
        ClaimedMessage(
            message=message_from_row(row, blobs),
            job_id=row.job_id,
            attempts=row.attempts,
            job_rate=_text(rates[row.job_id]),
        )
        for row in rows
    ]


def _mark_claimed_written_out(
    conn: Connection, picked: list[str], worker_id: str, now: datetime, handed_over: bool
) -> list[Any]:
    """The claim's UPDATE ... RETURNING and its events, on the driver's cursor (driver_sql.py)."""
    dialect = conn.dialect
    bind = driver_sql.bind_time(dialect)
    params = {
        "ids": driver_sql.in_list(dialect, picked),
        "worker": worker_id,
        "now": bind(now),
        "handed": bind(now) if handed_over else None,
        "sending": MessageState.SENDING.value,
    }
    rows = [_ClaimedRow._make(row) for row in driver_sql.rows(conn, _CLAIM_WRITTEN, params)]
    if len(rows) < len(picked):
        # The rows are locked by this transaction: only the worker check refuses one.
        raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
    driver_sql.rowcount(conn, _CLAIM_EVENTS_WRITTEN, params)
    return rows


def _mark_claimed_built(
    conn: Connection, picked: list[str], worker_id: str, now: datetime, handed_over: bool
) -> list[Any]:
    """The same through SQLAlchemy, for a SQLite library without RETURNING (before 3.35)."""
    rows: list[Any] = []
    for chunk in chunked(picked):
        params = {
            "b_ids": list(chunk),
            "b_worker": worker_id,
            "b_now": now,
            "b_handed": now if handed_over else None,
        }
        updated = conn.execute(_CLAIM_UPDATE, params).rowcount
        marked = list(conn.execute(_CLAIMED_ROWS, params)) if updated == len(chunk) else []
        if len(marked) < len(chunk):
            raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
        rows.extend(marked)
        conn.execute(_CLAIM_EVENTS, params)
    return rows


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
    to. One query per claim, probing the suppressions' primary key for each picked
    row. Not an EXISTS in the pick itself: PostgreSQL then hashed the whole
    suppression list at every claim (2 ms at 5,000 addresses, benchmarks/workers.py).
    """
    if not picked:
        return picked
    listed = {"ids": driver_sql.in_list(conn.dialect, picked)}
    blocked = {row[0] for row in driver_sql.rows(conn, _SUPPRESSED, listed)}
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


_SUPPRESSED = DriverSQL(
    sqlite="SELECT messages.id FROM messages JOIN suppressions"
    " ON suppressions.email_key = messages.to_email_key"
    " WHERE messages.id IN (SELECT value FROM json_each(:ids))",
    postgresql="SELECT messages.id FROM messages JOIN suppressions"
    " ON suppressions.email_key = messages.to_email_key WHERE messages.id = ANY(%(ids)s)",
)


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


def _due_in_job(conn: Connection, job_id: int, limit: int, now: datetime) -> list[str]:
    """The ids of up to `limit` due messages of one job, in seq order, locked.

    Two queries rather than one with OR: each is a single index range, so the cost
    does not grow with the rows already sent nor with other jobs' retries: queued
    rows from (job_id, state, seq), due retries from the partial retry index
    (migration 0014; the state in that query must stay a literal). SKIP LOCKED
    lets concurrent PostgreSQL workers take the next rows instead of waiting;
    SQLite ignores it, and BEGIN IMMEDIATE already holds the file.
    """
    params = {"job": job_id, "limit": limit, "now": driver_sql.bind_time(conn.dialect)(now)}
    rows = [
        *driver_sql.rows(conn, _QUEUED_IN_JOB, params),
        *driver_sql.rows(conn, _RETRYING_IN_JOB, params),
    ]
    rows.sort(key=lambda row: row[1])
    return [row[0] for row in rows[:limit]]


# _due_in_job's two queries, written out (driver_sql.py): a claim runs them for every
# job it looks at. The states are literals, not parameters: the planners match the
# retry query's to the partial index's predicate.
_QUEUED_IN_JOB = DriverSQL(
    sqlite=f"SELECT id, seq FROM messages WHERE job_id = :job"
    f" AND state = '{MessageState.QUEUED.value}' ORDER BY seq LIMIT :limit",
    postgresql=f"SELECT id, seq FROM messages WHERE job_id = %(job)s"
    f" AND state = '{MessageState.QUEUED.value}' ORDER BY seq LIMIT %(limit)s"
    " FOR UPDATE SKIP LOCKED",
)
_RETRYING_IN_JOB = DriverSQL(
    sqlite=f"SELECT id, seq FROM messages WHERE job_id = :job"
    f" AND state = '{MessageState.RETRY_WAIT.value}' AND next_attempt_at <= :now"
    " ORDER BY seq LIMIT :limit",
    postgresql=f"SELECT id, seq FROM messages WHERE job_id = %(job)s"
    f" AND state = '{MessageState.RETRY_WAIT.value}' AND next_attempt_at <= %(now)s"
    " ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
)


def _text(rate: Rate | None) -> str | None:
    return None if rate is None else str(rate)
