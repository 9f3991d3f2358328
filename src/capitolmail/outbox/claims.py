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

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from capitolmail.errors import StoreError
from capitolmail.outbox import claim_sql, driver_sql
from capitolmail.outbox.attachments import read_blobs
from capitolmail.outbox.bodies import Bodies, read_bodies
from capitolmail.outbox.events import chunked, move_messages
from capitolmail.outbox.provider_pace import PaceTurn, spend_turns, take_turns
from capitolmail.outbox.records import ClaimedMessage, message_from_row
from capitolmail.outbox.schema import jobs, messages
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
        (job.id, pacing, job.paced_until)
        for job in conn.execute(claim_sql.SENDING_JOBS)
        if (pacing := Pacing.from_stored(job.options)).is_open(now)
    ]
    rates = {job_id: pacing.rate for job_id, pacing, _ in due_jobs}
    claim = _claim_for(conn, worker_id, now, handed_over=handed_over)
    for job_id, pacing, paced_until in due_jobs:
        remaining = limit - claim.picked
        if remaining <= 0:
            break
        if pacing.rate is None:
            claim.take(job_id, remaining)
        elif paced_until is None or paced_until <= now:
            _claim_paced(conn, claim, job_id, pacing.rate, remaining, now)
    claimed = claim.finish(rates)
    if pace is not None:
        spend_turns(conn, pace, len(claimed))
    return claimed


def _claim_for(
    conn: Connection, worker_id: str, now: datetime, *, handed_over: bool
) -> _PickedThenClaimed | _ClaimedPerJob:
    """How this database claims: one statement a job on PostgreSQL, in steps elsewhere."""
    if conn.dialect.name == "postgresql":
        return _ClaimedPerJob(conn, worker_id, now, handed_over)
    return _PickedThenClaimed(conn, worker_id, now, handed_over)


class _PickedThenClaimed:
    """SQLite's claim, in steps: pick each job's ids, then one suppression check, one
    UPDATE and its events for them all. SQLite takes no UPDATE inside a WITH, and its
    statements are calls into a library in this process: no round trips to save."""

    def __init__(self, conn: Connection, worker_id: str, now: datetime, handed_over: bool):
        self.conn, self.worker_id, self.now, self.handed_over = conn, worker_id, now, handed_over
        self.ids: list[str] = []

    @property
    def picked(self) -> int:
        return len(self.ids)

    def take(self, job_id: int, limit: int) -> int:
        """Pick (and lock) up to `limit` of the job's due messages; how many."""
        found = _due_in_job(self.conn, job_id, limit, self.now)
        self.ids.extend(found)
        return len(found)

    def finish(self, rates: dict[int, Rate | None]) -> list[ClaimedMessage]:
        conn = self.conn
        picked = _without_suppressed(conn, self.ids, self.now)
        if not picked:
            return []
        if conn.dialect.update_returning:
            rows = _mark_claimed_written_out(
                conn, picked, self.worker_id, self.now, self.handed_over
            )
        else:
            rows = _mark_claimed_built(conn, picked, self.worker_id, self.now, self.handed_over)
        # A statement of its own: SQLite's RETURNING reads only the rows it updates.
        return _claimed_messages(conn, rows, rates, read_bodies(conn, [row.id for row in rows]))


class _ClaimedPerJob:
    """PostgreSQL's claim: one statement a job picks, checks the suppression list,
    moves the rows to `sending`, writes their events and returns them (claim_sql.CLAIM_IN_JOB).

    Each statement is a round trip to a server that may be on another machine (a
    managed database): seven of them made a claim at 1,000,000 queued rows wait
    6 ms where the server worked 2 (benchmarks/workers.py). A suppressed row comes
    back picked and unclaimed, and is moved to `suppressed` after.
    """

    def __init__(self, conn: Connection, worker_id: str, now: datetime, handed_over: bool):
        self.conn, self.worker_id = conn, worker_id
        self.now = now
        bind = driver_sql.bind_time(conn.dialect)
        self.params: dict[str, Any] = {
            "worker": worker_id,
            "now": bind(now),
            "handed": bind(now) if handed_over else None,
            "sending": MessageState.SENDING.value,
        }
        self.rows: list[Any] = []
        self.blocked: list[str] = []

    @property
    def picked(self) -> int:
        return len(self.rows) + len(self.blocked)

    def take(self, job_id: int, limit: int) -> int:
        """Claim up to `limit` of the job's due messages; how many were picked."""
        params = {**self.params, "job": job_id, "limit": limit}
        found = driver_sql.rows(self.conn, claim_sql.CLAIM_IN_JOB, params)
        for row in found:
            picked_id, blocked, *claimed = row
            if blocked:
                self.blocked.append(picked_id)
            elif claimed[0] is None:
                # The rows are locked by this statement: only the worker check refuses one.
                raise StoreError(
                    f"worker {self.worker_id} is not registered; call register_worker first"
                )
            else:
                self.rows.append(claim_sql.ClaimedRow._make(claimed))
        return len(found)

    def finish(self, rates: dict[int, Rate | None]) -> list[ClaimedMessage]:
        if self.blocked:
            _move_suppressed(self.conn, self.blocked, self.now)
        return _claimed_messages(self.conn, self.rows, rates, {})  # bodies joined in


def _claimed_messages(
    conn: Connection, rows: list[Any], rates: dict[int, Rate | None], bodies: Bodies
) -> list[ClaimedMessage]:
    """The claimed rows as messages for a provider, in job and seq order; `bodies` are
    those the claim did not read with the rows (bodies.py)."""
    rows.sort(key=lambda row: (row.job_id, row.seq))
    blobs = read_blobs(conn, rows)
    return [
        ClaimedMessage(
            message=message_from_row(row, blobs, bodies),
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
    rows = [
        claim_sql.ClaimedRow._make(row)
        for row in driver_sql.rows(conn, claim_sql.CLAIM_WRITTEN, params)
    ]
    if len(rows) < len(picked):
        # The rows are locked by this transaction: only the worker check refuses one.
        raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
    driver_sql.rowcount(conn, claim_sql.CLAIM_EVENTS_WRITTEN, params)
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
        updated = conn.execute(claim_sql.CLAIM_UPDATE, params).rowcount
        marked = list(conn.execute(claim_sql.CLAIMED_ROWS, params)) if updated == len(chunk) else []
        if len(marked) < len(chunk):
            raise StoreError(f"worker {worker_id} is not registered; call register_worker first")
        rows.extend(marked)
        conn.execute(claim_sql.CLAIM_EVENTS, params)
    return rows


def _claim_paced(
    conn: Connection,
    claim: _PickedThenClaimed | _ClaimedPerJob,
    job_id: int,
    rate: Rate,
    limit: int,
    now: datetime,
) -> None:
    """Claim at most one burst of a rate-limited job and push its next turn back.

    The job row is locked first (the order cancel_job uses), so two workers
    sharing the job read and advance `paced_until` one after the other and the
    job's rate holds across workers.
    """
    paced_until = conn.execute(
        select(jobs.c.paced_until).where(jobs.c.id == job_id).with_for_update()
    ).scalar_one()
    if paced_until is not None and paced_until > now:
        return
    burst = max(1, int(rate.per_second))
    picked = claim.take(job_id, min(limit, burst))
    if picked:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(paced_until=now + timedelta(seconds=picked / rate.per_second))
        )


def _without_suppressed(conn: Connection, picked: list[str], now: datetime) -> list[str]:
    """Drop, as `suppressed`, the picked messages whose address is suppressed now.

    The last look before a provider sees the message: a supporter who unsubscribed,
    or an office address that hard-bounced, after the job was queued is not sent
    to. SQLite's claim asks once, probing the suppressions' primary key for each
    picked row; PostgreSQL's asks inside its one statement (claim_sql.CLAIM_IN_JOB).
    """
    if not picked:
        return picked
    listed = {"ids": driver_sql.in_list(conn.dialect, picked)}
    blocked = {row[0] for row in driver_sql.rows(conn, claim_sql.SUPPRESSED, listed)}
    if not blocked:
        return picked
    _move_suppressed(conn, blocked, now)
    return [message_id for message_id in picked if message_id not in blocked]


def _move_suppressed(conn: Connection, blocked: Iterable[str], now: datetime) -> None:
    """Picked messages whose address is suppressed now go to `suppressed`, not sent."""
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
    """SQLite's pick: the ids of up to `limit` due messages of one job, in seq order.

    Two queries rather than one with OR: each is a single index range, so the cost
    does not grow with the rows already sent nor with other jobs' retries: queued
    rows from (job_id, state, seq), due retries from the partial retry index
    (migration 0014; the state in that query must stay a literal). BEGIN IMMEDIATE
    holds the file meanwhile. PostgreSQL's claim runs the same two picks inside its
    one statement (claim_sql.CLAIM_IN_JOB) with SKIP LOCKED, so concurrent workers
    take the next rows instead of waiting.
    """
    params = {"job": job_id, "limit": limit, "now": driver_sql.bind_time(conn.dialect)(now)}
    rows = [
        *driver_sql.rows(conn, claim_sql.QUEUED_IN_JOB, params),
        *driver_sql.rows(conn, claim_sql.RETRYING_IN_JOB, params),
    ]
    rows.sort(key=lambda row: row[1])
    return [row[0] for row in rows[:limit]]


def _text(rate: Rate | None) -> str | None:
    return None if rate is None else str(rate)
