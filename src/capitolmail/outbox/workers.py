"""Workers: who is sending, whether they are still alive, and what the dead left behind.

A worker that dies between claiming and recording leaves rows in `sending`. The
provider may or may not have accepted them, so they become `unknown` and wait for
an operator (`capitolmail requeue JOB --unknown`): resending on a guess could put
a second copy of a letter in a Hill office's inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from capitolmail.outbox.events import move_messages
from capitolmail.outbox.schema import messages, workers
from capitolmail.outbox.states import MessageState

ABANDONED_ERROR = "worker died while sending; may or may not have been delivered"


def register_worker(conn: Connection, worker_id: str, host: str, pid: int, now: datetime) -> None:
    conn.execute(delete(workers).where(workers.c.id == worker_id))
    conn.execute(
        insert(workers).values(id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now)
    )


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
) -> int:
    cutoff = now - stale_after
    live: set[str] = set()
    dead: set[str] = set()
    for worker in conn.execute(select(workers)):
        if worker.heartbeat_at >= cutoff and is_alive(worker.host, worker.pid):
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
        return 0
    owners = [claimer for claimer in abandoned if claimer is not None]
    where = (messages.c.state == MessageState.SENDING.value) & or_(
        messages.c.claimed_by.in_(owners), messages.c.claimed_by.is_(None)
    )
    return move_messages(
        conn,
        where,
        to=MessageState.UNKNOWN,
        now=now,
        detail=ABANDONED_ERROR,
        values={"last_error": ABANDONED_ERROR},
    )
