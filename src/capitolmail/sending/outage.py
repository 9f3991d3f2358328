"""Riding out a lost outbox database: a long-running worker does not die of a restart.

While the database is gone nothing is claimed and nothing new is handed over (a
mark cannot be committed), but messages already handed over finish and their
outcomes wait in memory. Reconnecting backs off from `RECONNECT_FIRST` up to
`RECONNECT_MAX` seconds between tries for `database_outage_seconds`; then the
worker gives up, logging every outcome it could not record, because the rows stay
`sending` and the next worker makes those handed over `unknown`: the log is then
the only record of which of them did arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import NoReturn, TypeVar

from capitolmail.errors import StoreError
from capitolmail.outbox import ClaimedMessage, Outcome, Store, connection_lost
from capitolmail.sending.pauses import PendingPauses
from capitolmail.sending.provider_calls import TICK
from capitolmail.sending.recording import OutcomeBook

log = logging.getLogger("capitolmail.sender")

T = TypeVar("T")
# Reconnecting after a lost database: first wait, and the longest between tries.
RECONNECT_FIRST = 0.25
RECONNECT_MAX = 5.0


class OutageRider:
    """Runs a step of the send loop until it goes through, across lost connections.

    Between tries it keeps calling `collect(block)` (the loop's reading of finished
    sends, which puts their outcomes in `book`) while `in_flight()` sends remain.
    `down` is true while the database is unreachable.
    """

    def __init__(
        self,
        store: Store,
        seconds: float,
        *,
        book: OutcomeBook,
        collect: Callable[[bool], None],
        in_flight: Callable[[], int],
        stop: threading.Event,
        pauses: PendingPauses | None = None,
    ) -> None:
        self.store = store
        self.seconds = seconds
        self.book = book
        self.collect = collect
        self.in_flight = in_flight
        self.stop = stop
        self.pauses = pauses or PendingPauses()
        self.down = False
        # Set when a step went through after an outage: a claim committed just as
        # the connection broke may have left rows the worker does not know it holds.
        self.came_back = False

    def held(self) -> tuple[int, int]:
        """How many outcomes wait to be recorded, and how many sends are in flight."""
        return len(self.book.waiting), self.in_flight()

    def run(self, step: Callable[[], T]) -> T:
        deadline: float | None = None
        delay = RECONNECT_FIRST
        while True:
            try:
                result = step()
            except StoreError as err:
                if not connection_lost(err):
                    raise
                if deadline is None:
                    deadline = time.monotonic() + self.seconds
                    outcomes, in_flight = self.held()
                    log.warning(
                        "lost the outbox database (%s); not claiming, holding %d outcomes "
                        "and %d messages in flight, reconnecting for up to %g s",
                        err,
                        outcomes,
                        in_flight,
                        self.seconds,
                    )
                self.down = True
                self._wait_out(min(delay, max(deadline - time.monotonic(), 0.0)))
                delay = min(delay * 2, RECONNECT_MAX)
                if time.monotonic() >= deadline and not self.reachable():
                    self.give_up(err)
                if self.reachable():
                    self.down = False  # so the retried step's marks are not refused
                continue
            # Whatever the last ping said: the database may come back between a failed
            # ping and the step. Left `down`, every later mark would be refused and the
            # worker would claim, refuse and give back the same messages for ever.
            self.down = False
            if deadline is not None:
                self.came_back = True
                log.warning("the outbox database is back; %d outcomes to record", self.held()[0])
            return result

    def release_lost_claims(self, worker_id: str, keep: set[str], now: datetime) -> int:
        """Queue again the rows `worker_id` claimed by a commit whose answer was lost
        with the connection: no thread sends them, and no other worker would take
        them while this one beats. `keep`: the ids it still sends or records."""
        released = self.store.release_lost_claims(worker_id, keep, now)
        self.came_back = False
        if released:
            log.warning(
                "%d messages were claimed just as the database connection broke; "
                "they are queued again",
                released,
            )
        return released

    def _wait_out(self, seconds: float) -> None:
        """Collect what the sends finish while waiting to reconnect."""
        until = time.monotonic() + seconds
        while True:
            self.collect(self.in_flight() > 0)
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            if not self.in_flight():
                self.stop.wait(min(remaining, TICK * 2))

    def give_up(self, err: StoreError) -> NoReturn:
        """Stop for good, leaving every outcome that could not be recorded in the log.

        The rows stay `sending`: the next worker makes those handed over `unknown`
        and queues the rest again; the log says which of the `unknown` did arrive.
        """
        while self.in_flight():
            self.collect(True)
        with suppress(StoreError):  # back while the last sends finished: record them
            self.pauses.apply(self.store)
            if self.book.waiting:
                self.book.record()
        held, self.book.waiting = self.book.waiting, []
        unwritten = self.pauses.log_unwritten()
        raise unrecorded(held, self.seconds, err, pauses=unwritten) from err

    def reachable(self) -> bool:
        try:
            self.store.ping()
        except StoreError as err:
            if not connection_lost(err):
                raise
            return False
        return True


def unrecorded(
    outcomes: Sequence[tuple[Outcome, ClaimedMessage, str]],
    seconds: float,
    err: StoreError,
    *,
    pauses: int = 0,
) -> StoreError:
    """Log every outcome that could not be recorded; the error that ends the run."""
    for outcome, claimed, label in outcomes:
        log.error(
            "not recorded: message %s of job %s: %s%s",
            outcome.message_id,
            claimed.job_id,
            label,
            f" (provider id {outcome.provider_message_id})"
            if outcome.provider_message_id
            else (f" ({outcome.error})" if outcome.error else ""),
            extra={"message_id": outcome.message_id, "job_id": claimed.job_id},
        )
    return StoreError(
        f"gave up after the outbox database was unreachable for "
        f"{seconds:g} s (worker.database_outage_seconds): "
        f"{err}; {len(outcomes) + pauses} outcomes could not be recorded and are logged above"
    )
