"""The rows that say which worker processes are alive, and what happens when one is not."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from capitolmail.outbox import workers
from capitolmail.outbox.store.part import StorePart, aware


class WorkerRows(StorePart):
    """A worker registers, beats, and leaves; one that stops beating is recovered."""

    def register_worker(
        self,
        worker_id: str,
        host: str,
        pid: int,
        now: datetime,
        *,
        rate_per_second: float | None = None,
    ) -> list[float | None]:
        """Register the worker with its `worker.rate` (per second, None: none); the
        rates of the workers registered before it, for a warning when they differ."""
        aware("now", now)
        with self._write("register the worker") as conn:
            others = workers.registered_rates(conn)
            workers.register_worker(conn, worker_id, host, pid, now, rate_per_second)
            return others

    def heartbeat(self, worker_id: str, now: datetime) -> bool:
        """False when the worker's row is gone: recover_abandoned declared it dead,
        its `sending` rows are `unknown` now, and it must stop sending."""
        aware("now", now)
        with self._write("record the heartbeat") as conn:
            return workers.heartbeat(conn, worker_id, now)

    def list_workers(self) -> list[workers.WorkerView]:
        """The registered workers and what each holds `sending` (`capitolmail workers`)."""
        with self._read("list the workers") as conn:
            return workers.list_workers(conn)

    def release_lost_claims(self, worker_id: str, keep: Iterable[str], now: datetime) -> int:
        """Queue again this worker's `sending` rows it does not hold (`keep`): claims
        committed as the connection broke, whose answer never came back."""
        aware("now", now)
        with self._write("put back lost claims") as conn:
            return workers.release_lost_claims(conn, worker_id, keep, now)

    def remove_worker(self, worker_id: str) -> None:
        with self._write("remove the worker") as conn:
            workers.remove_worker(conn, worker_id)

    def recover_abandoned(
        self,
        now: datetime,
        *,
        is_alive: Callable[[str, int], bool],
        stale_after: timedelta,
    ) -> workers.Recovered:
        """Recover the `sending` rows of workers that are gone: `unknown` where they had
        been handed over (`handed_over_at`), else back to `queued`; returns how many each.

        A worker is gone when it has no row, `is_alive(host, pid)` is False, or its
        heartbeat is older than `stale_after`; its row is deleted. `is_alive` runs
        inside the write transaction, so it must be quick (`os.kill(pid, 0)`), and
        for another host it can only answer True and leave it to the heartbeat.
        """
        aware("now", now)
        with self._write("recover abandoned messages") as conn:
            return workers.recover_abandoned(conn, now, is_alive=is_alive, stale_after=stale_after)
