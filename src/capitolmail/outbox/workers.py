"""Workers: who is sending, whether they are still alive, and what the dead left behind.

A worker that dies between claiming and recording leaves rows in `sending`. One
whose `handed_over_at` is set had reached the transport's irreversible step
(handover.py): the provider may or may not have accepted it, so it becomes
`unknown` and waits for an operator (`capitolmail requeue JOB --unknown`), since
resending on a guess could put a second copy of a letter in a Hill office's
inbox. One without it never got that far and goes back to `queued`, its attempt
not counted. Every running worker calls this at each heartbeat, not only at start.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from capitolmail.outbox.events import move_messages
from capitolmail.outbox.schema import messages, workers
from capitolmail.outbox.states import MessageState

# A worker that has not written a heartbeat for this long is presumed dead even
# on another host, where we cannot ask the operating system (worker.stale_after).
STALE_WORKER_AFTER = timedelta(minutes=5)

ABANDONED_ERROR = "worker died while sending; may or may not have been delivered"
REQUEUED_DETAIL = "worker died before handing the message over; queued again"
LOST_CLAIM_DETAIL = (
    "claimed as the database connection broke, so the worker never saw the claim; queued again"
)


@dataclass(frozen=True, slots=True)
class Recovered:
    """What one recovery pass did with dead workers' `sending` rows."""

    unknown: int = 0  # handed over: may have been delivered
    requeued: int = 0  # never handed over: back to `queued`

    def __bool__(self) -> bool:
        return bool(self.unknown or self.requeued)


@dataclass(frozen=True, slots=True)
class WorkerView:
    """A worker's row as `capitolmail workers` shows it, with what it holds `sending`
    per job (job id -> messages)."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    sending: dict[int, int]


def process_alive(host: str, pid: int) -> bool:
    """Whether the worker process still runs; on another host we cannot tell, so yes."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class RunningWorker:
    """A registered worker that still looks alive: where it runs and when it last beat."""

    host: str
    pid: int
    heartbeat_at: datetime


def running_workers(
    conn: Connection,
    now: datetime,
    *,
    stale_after: timedelta = STALE_WORKER_AFTER,
    is_alive: Callable[[str, int], bool] = process_alive,
) -> list[RunningWorker]:
    """The registered workers alive by the rule `recover_abandoned` uses, oldest beat first.

    Reads only columns every schema revision has, so it can be asked of a database
    that is about to be upgraded (database.migrate).
    """
    cutoff = now - stale_after
    rows = conn.execute(
        select(workers.c.host, workers.c.pid, workers.c.heartbeat_at).order_by(
            workers.c.heartbeat_at
        )
    )
    return [
        RunningWorker(host, pid, beat)
        for host, pid, beat in rows
        if _alive(host, pid, beat, cutoff, is_alive)
    ]


def _alive(
    host: str, pid: int, beat: datetime, cutoff: datetime, is_alive: Callable[[str, int], bool]
) -> bool:
    """The one rule for a live worker: a heartbeat since `cutoff`, and its process there."""
    return beat >= cutoff and is_alive(host, pid)


def list_workers(conn: Connection) -> list[WorkerView]:
    """Every registered worker, oldest first, with its `sending` rows counted per job."""
    held: dict[str, dict[int, int]] = {}
    for claimer, job_id, count in conn.execute(
        select(messages.c.claimed_by, messages.c.job_id, func.count())
        .where(messages.c.state == MessageState.SENDING.value)
        .group_by(messages.c.claimed_by, messages.c.job_id)
    ):
        held.setdefault(claimer, {})[job_id] = count
    rows = conn.execute(select(workers).order_by(workers.c.started_at, workers.c.id))
    return [
        WorkerView(
            id=row.id,
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            sending=dict(sorted(held.get(row.id, {}).items())),
        )
        for row in rows
    ]


def register_worker(
    conn: Connection,
    worker_id: str,
    host: str,
    pid: int,
    now: datetime,
    rate_per_second: float | None = None,
) -> None:
    conn.execute(delete(workers).where(workers.c.id == worker_id))
    conn.execute(
        insert(workers).values(
            id=worker_id,
            host=host,
            pid=pid,
            started_at=now,
            heartbeat_at=now,
            rate_per_second=rate_per_second,
        )
    )


def registered_rates(conn: Connection) -> list[float | None]:
    """The `worker.rate` of each registered worker, per second (None: it has none)."""
    rates = conn.execute(select(workers.c.rate_per_second)).scalars()
    return [None if rate is None else float(rate) for rate in rates]


def heartbeat(conn: Connection, worker_id: str, now: datetime) -> bool:
    result = conn.execute(update(workers).where(workers.c.id == worker_id).values(heartbeat_at=now))
    return result.rowcount == 1


def remove_worker(conn: Connection, worker_id: str) -> None:
    conn.execute(delete(workers).where(workers.c.id == worker_id))


def recover_abandoned(
    conn: Connection,
    now: datetime,
    *,
    is_alive: Callable[[str, int], bool],
    stale_after: timedelta,
) -> Recovered:
    cutoff = now - stale_after
    live: set[str] = set()
    dead: set[str] = set()
    for worker in conn.execute(select(workers)):
        if _alive(worker.host, worker.pid, worker.heartbeat_at, cutoff, is_alive):
            live.add(worker.id)
        else:
            dead.add(worker.id)
    if dead:
        conn.execute(delete(workers).where(workers.c.id.in_(dead)))
    claimers = conn.execute(
        select(messages.c.claimed_by)
        .where(messages.c.state == MessageState.SENDING.value)
        .distinct()
    ).scalars()
    abandoned = [claimer for claimer in claimers if claimer not in live]
    if not abandoned:
        return Recovered()
    owners = [claimer for claimer in abandoned if claimer is not None]
    where = (messages.c.state == MessageState.SENDING.value) & or_(
        messages.c.claimed_by.in_(owners), messages.c.claimed_by.is_(None)
    )
    unknown = move_messages(
        conn,
        where & messages.c.handed_over_at.is_not(None),
        to=MessageState.UNKNOWN,
        now=now,
        detail=ABANDONED_ERROR,
        values={"last_error": ABANDONED_ERROR},
    )
    requeued = _back_in_the_queue(
        conn, where & messages.c.handed_over_at.is_(None), now, REQUEUED_DETAIL
    )
    return Recovered(unknown=unknown, requeued=requeued)


def _back_in_the_queue(conn: Connection, where: Any, now: datetime, detail: str) -> int:
    """`queued` again, unclaimed, the claim's attempt given back: it never reached a provider."""
    return move_messages(
        conn,
        where,
        to=MessageState.QUEUED,
        now=now,
        detail=detail,
        values={
            "attempts": messages.c.attempts - 1,
            "claimed_by": None,
            "claimed_at": None,
            "next_attempt_at": None,
        },
    )


def release_lost_claims(
    conn: Connection, worker_id: str, keep: Iterable[str], now: datetime
) -> int:
    """Put back in the queue this worker's `sending` rows that it does not know it holds.

    A claim whose COMMIT reached the server but whose answer was lost with the
    connection leaves rows `sending` under this worker that no thread sends. None
    was handed over (a provider sees only a message the worker knows it claimed),
    so each goes back to `queued`, its attempt not counted. `keep` names the rows
    the worker does hold: in flight, or with an outcome waiting to be recorded.
    """
    held = set(keep)
    mine = (
        (messages.c.state == MessageState.SENDING.value)
        & (messages.c.claimed_by == worker_id)
        & messages.c.handed_over_at.is_(None)
    )
    lost = [
        message_id
        for message_id in conn.execute(select(messages.c.id).where(mine)).scalars()
        if message_id not in held
    ]
    if not lost:
        return 0
    return _back_in_the_queue(conn, mine & messages.c.id.in_(lost), now, LOST_CLAIM_DETAIL)
