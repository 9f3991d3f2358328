"""One pace per provider, shared by every worker of the outbox (`provider_paces`, 0015).

`worker.rate` and the pace a throttling relay or SendGrid forces are limits of the
provider, not of one worker: two workers at "600/min" must not send 1,200 a minute
to a relay that takes 600. So the provider's row holds them for everyone:

- `next_turn`: a token bucket held as one time (the generic cell rate algorithm):
  a claim may take the turns up to `now` plus a short burst, and pushes the time on
  by what it claimed. It is read and written in the claim's own transaction, under
  the row's lock, so it costs no extra round trip, and the claim takes only the
  turns it uses: nothing needs refunding. A job's `--rate` works the same way, on
  the job's row (`jobs.paced_until`).
- `per_second`, `cut`, `step`, `lift_at`: the adaptive pace (sending/throttle.py).
  A worker that meets a throttle rewrites them in a transaction of its own, at
  once, so the others slow down at their next claim; raises ride on claims.

Each worker registers its `worker.rate` (0017), and every claim keeps to the
lowest registered: a provider has one limit, and two workers configured with two
rates would otherwise drain the one bucket at two paces. Without a rate at any
worker and with no pace forced, a claim only reads the row, unlocked: the
workers' claims do not queue behind one another when nothing limits them.
The row is one table on SQLite as on PostgreSQL (several workers on one machine
share the file). Times are the workers' clocks: keep them in sync (NTP).

Why the outbox's database and not Redis: the turns are taken inside the claim's
own transaction, so a claim pays no extra round trip, never takes turns for
messages it then does not claim, and cannot claim without its turns. A pace in a
second store would need a reservation before each claim and a refund after it,
and a second service whose outages (Redis restarted, unreachable) the send loop
would have to ride out as it rides out the database's. When nothing limits the
pace, the row costs a claim one primary-key read (benchmarks/workers.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capitolmail.outbox import driver_sql
from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.schema import provider_paces, workers

# The turns a claim may take ahead: this many seconds' worth, at least one message.
# Enough that a worker a little late to its turn (a busy machine) loses none; small
# enough that a paused-then-resumed send does not fire a volley at a Hill office.
BURST_SECONDS = 1.0
# Under a pace a throttling provider forced, a tenth of that (as throttle.py banks):
# a burst is what such a provider refuses.
PACE_BURST_SECONDS = 0.1
# Stored times have microseconds: a turn a microsecond short is a turn.
_ROUNDING = 1e-4


@dataclass(frozen=True, slots=True)
class PaceState:
    """The adaptive pace of a provider as every worker sees it.

    `per_second` None: no pace is forced. `cut` counts the cuts, so a worker knows
    whether a throttle it met was already answered by another's cut. `workers`
    is how many workers are registered (read for a cut only: the first cut halves
    what all of them sent).
    """

    per_second: float | None = None
    cut: int = 0
    step: float = 0.0
    lift_at: float | None = None
    workers: int = 1


PaceChanger = Callable[[PaceState], PaceState]


@dataclass
class PaceTurn:
    """What one claim asks of the provider's pace, and what it learned there.

    `ceiling` is the worker's `worker.rate` per second (the lowest registered
    worker's holds if lower); `change` (a raise the worker earned) is applied
    under the row's lock before the turns are taken.
    """

    provider: str
    ceiling: float | None = None
    change: PaceChanger | None = None
    state: PaceState = field(default_factory=PaceState)
    wait: float = 0.0  # seconds until a turn is free, when the claim was given none
    applied: bool = False  # the claim's transaction read the row (and ran `change`)
    _rate: float | None = None
    _turn: datetime | None = None


def take_turns(conn: Connection, turn: PaceTurn, wanted: int, now: datetime) -> int:
    """How many of `wanted` messages the provider's pace lets this claim take now."""
    turn.wait, turn._rate, turn._turn = 0.0, None, None  # a claim tried again starts afresh
    if turn.ceiling is None and turn.change is None:
        # Most likely nothing limits this claim: find out without taking the lock.
        ((per_second, cut, step, lift_at, lowest),) = driver_sql.rows(
            conn, _FORCED, {"provider": turn.provider}
        )
        if lowest is None and per_second is None:
            turn.state = PaceState(None, cut or 0, step or 0.0, lift_at)
            turn.applied = True
            return wanted
    # This worker's rate, a raise to apply, or a pace forced or set elsewhere: the row,
    # locked, read once, with the lowest `worker.rate` registered, which holds for
    # all (0017).
    row = _locked(conn, turn.provider, now, with_lowest=True)
    ceiling = min((r for r in (turn.ceiling, row.lowest) if r is not None), default=None)
    state = _state(row)
    if state.per_second is not None and _left_by_the_gone(conn, row):
        state = replace(state, per_second=None, lift_at=None)
        _write(conn, turn.provider, state, now)
    if turn.change is not None:
        changed = turn.change(state)
        if changed != state:
            _write(conn, turn.provider, changed, now)
            state = changed
    turn.state, turn.applied = state, True
    rates = [r for r in (ceiling, state.per_second) if r is not None]
    if not rates:
        return wanted
    rate = min(rates)
    forced = state.per_second is not None and rate == state.per_second
    burst = max(1.0, rate * (PACE_BURST_SECONDS if forced else BURST_SECONDS))
    at = max(row.next_turn or now, now)
    free = math.floor(burst - (at - now).total_seconds() * rate + _ROUNDING)
    # A claim holds the row's lock to its commit: many claims of one message each
    # would queue the workers behind it. So a claim waits for half a burst.
    need = max(1, min(wanted, math.floor(burst / 2)))
    if free < need:
        turn.wait = max((at - now).total_seconds() - (burst - need) / rate, 0.001)
        return 0
    turn._rate, turn._turn = rate, at
    return min(wanted, free)


# The read a claim makes first when this worker has no rate of its own, written out
# (driver_sql.py): the provider's forced pace, if any, and the lowest `worker.rate`
# registered; one row even before the provider's row exists.
_FORCED = DriverSQL(
    sqlite="SELECT p.per_second, p.cut, p.step, p.lift_at,"
    " (SELECT min(rate_per_second) FROM workers)"
    " FROM (SELECT 1) AS one LEFT JOIN provider_paces AS p ON p.provider = :provider",
    postgresql="SELECT p.per_second, p.cut, p.step, p.lift_at,"
    " (SELECT min(rate_per_second) FROM workers)"
    " FROM (SELECT 1) AS one LEFT JOIN provider_paces AS p ON p.provider = %(provider)s",
)


def spend_turns(conn: Connection, turn: PaceTurn, count: int) -> None:
    """Push the provider's next turn on by the `count` messages the claim took."""
    if turn._rate is None or turn._turn is None or count <= 0:
        return
    conn.execute(
        update(provider_paces)
        .where(provider_paces.c.provider == turn.provider)
        .values(next_turn=turn._turn + timedelta(seconds=count / turn._rate))
    )


def change_pace(
    conn: Connection, provider: str, change: PaceChanger, now: datetime, hold_until: datetime
) -> PaceState:
    """Apply `change` to the provider's pace and hold every turn until `hold_until`.

    A cut empties the bucket: the next message waits a full interval at the new
    pace, so it is not refused in the same window of the provider's limit.
    """
    row = _locked(conn, provider, now)
    registered = conn.execute(select(func.count()).select_from(workers)).scalar_one()
    before = _state(row, workers=registered)
    after = change(before)
    # A turn is free while next_turn is less than a burst ahead; so a burst beyond.
    burst = timedelta(seconds=PACE_BURST_SECONDS)
    turn = max(row.next_turn or now, hold_until + burst)
    if after.cut > before.cut and after.per_second:
        turn = max(turn, now + burst + timedelta(seconds=1 / after.per_second))
    _write(conn, provider, after, now, next_turn=turn)
    return after


def lift_pace(conn: Connection, provider: str, worker_id: str, now: datetime) -> bool:
    """Drop the forced pace when `worker_id` is the last worker: the next run learns afresh.

    True when a pace was dropped. With other workers running it stays theirs.
    """
    others = conn.execute(select(func.count()).where(workers.c.id != worker_id)).scalar_one()
    if others:
        return False
    row = _locked(conn, provider, now)
    if row.per_second is None:
        return False
    _write(conn, provider, replace(_state(row), per_second=None, lift_at=None), now)
    return True


def forced_paces(conn: Connection) -> list[tuple[float, datetime]]:
    """The paces forced now, with when each last changed (for `status`).

    A pace last changed before the oldest registered worker started was left by
    workers that are gone; the next to claim learns afresh, so it is not shown.
    """
    oldest = conn.execute(select(func.min(workers.c.started_at))).scalar()
    if oldest is None:
        return []
    rows = conn.execute(
        select(provider_paces.c.per_second, provider_paces.c.updated_at).where(
            provider_paces.c.per_second.is_not(None),
            provider_paces.c.updated_at >= oldest,
        )
    )
    return [(row.per_second, row.updated_at) for row in rows]


def _left_by_the_gone(conn: Connection, row: Row) -> bool:
    """Whether the row last changed before every worker registered now started: the
    workers that forced its pace are gone (killed, say), and a new run learns afresh."""
    oldest = conn.execute(select(func.min(workers.c.started_at))).scalar()
    return oldest is not None and row.updated_at < oldest


def _locked(conn: Connection, provider: str, now: datetime, *, with_lowest: bool = False) -> Row:
    """The provider's row, locked for this transaction (created if missing); with
    `with_lowest`, its `lowest` is the lowest `worker.rate` registered. The unlocked
    read an unlimited claim makes instead is _FORCED."""
    columns: list[Any] = [provider_paces]
    if with_lowest:
        columns.append(_LOWEST_RATE)
    query = (
        select(*columns)
        .where(provider_paces.c.provider == provider)
        .with_for_update(of=provider_paces)
    )
    row = conn.execute(query).first()
    if row is None:
        _create(conn, provider, now)
        row = conn.execute(query).one()
    return row


_LOWEST_RATE = select(func.min(workers.c.rate_per_second)).scalar_subquery().label("lowest")


def _create(conn: Connection, provider: str, now: datetime) -> None:
    """Insert the provider's row; a worker that inserted it meanwhile wins, quietly."""
    values = {"provider": provider, "cut": 0, "step": 0.0, "updated_at": now}
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(provider_paces).values(values).on_conflict_do_nothing())
    elif conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(provider_paces).values(values).on_conflict_do_nothing())
    else:
        conn.execute(insert(provider_paces).values(values))


def _state(row: Row, *, workers: int = 1) -> PaceState:
    return PaceState(row.per_second, row.cut, row.step, row.lift_at, max(1, workers))


def _write(
    conn: Connection,
    provider: str,
    state: PaceState,
    now: datetime,
    *,
    next_turn: datetime | None = None,
) -> None:
    values = {
        "per_second": state.per_second,
        "cut": state.cut,
        "step": state.step,
        "lift_at": state.lift_at,
        "updated_at": now,
    }
    if next_turn is not None:
        values["next_turn"] = next_turn
    conn.execute(update(provider_paces).where(provider_paces.c.provider == provider).values(values))
