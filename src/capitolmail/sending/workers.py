"""Who this worker is, its heartbeat, and the rows of workers that died.

The id names host and pid so that a worker on the same host can ask the operating
system whether the owner of abandoned `sending` rows is gone (recover_abandoned).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from capitolmail.errors import StoreError
from capitolmail.outbox import Store, connection_lost
from capitolmail.outbox.workers import process_alive
from capitolmail.sending.options import SendOptions, SendSummary
from capitolmail.sending.throttle import format_pace

log = logging.getLogger("capitolmail.sender")


def _shown(per_second: float | None) -> str:
    return "none" if per_second is None else format_pace(per_second)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkerPresence:
    """This worker's row in the workers table, and the recovery of dead workers' rows.

    Every running worker heartbeats and then looks for dead ones: each recovers
    their rows, so a job shared by several finishes when one of them is killed.
    `beat` returns False when another worker presumed this one dead and took its
    rows back: it must then stop without sending more.
    """

    def __init__(
        self,
        store: Store,
        worker_id: str,
        clock: Callable[[], datetime],
        summary: SendSummary,
        options: SendOptions,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.clock = clock
        self.summary = summary
        self.heartbeat_seconds = options.heartbeat_seconds
        self.stale_after = options.stale_after
        self.rate = options.overall_rate
        self.next_heartbeat = 0.0

    def register(self) -> None:
        """Register with this worker's `worker.rate`; say so when other workers have
        another (the lowest holds for all of them, outbox/provider_pace.py)."""
        own = self.rate.per_second if self.rate else None
        others = self.store.register_worker(
            self.worker_id, socket.gethostname(), os.getpid(), self.clock(), rate_per_second=own
        )
        self.next_heartbeat = time.monotonic() + self.heartbeat_seconds
        differing = {_shown(rate) for rate in others} - {_shown(own)}
        if differing:
            log.warning(
                "worker.rate differs between the workers of this outbox (%s here, %s on "
                "others); the lowest holds for every worker until they agree",
                _shown(own),
                ", ".join(sorted(differing)),
            )

    def remove(self) -> None:
        try:
            self.store.remove_worker(self.worker_id)
        except StoreError as err:
            if not connection_lost(err):
                raise
            # Other workers find the row's pid or heartbeat dead and recover its rows.
            log.warning("could not remove this worker's row (%s); others will recover it", err)

    def recover(self) -> None:
        """Recover dead workers' `sending` rows: at start, and at every heartbeat."""
        recovered = self.store.recover_abandoned(
            self.clock(), is_alive=process_alive, stale_after=self.stale_after
        )
        if recovered.unknown:
            log.warning(
                "%d messages were left sending by a worker that died after handing them "
                "over; they are now unknown and will not be resent without "
                "`capitolmail requeue`",
                recovered.unknown,
            )
        if recovered.requeued:
            log.warning(
                "%d messages claimed by a worker that died before handing them over "
                "are queued again",
                recovered.requeued,
            )
        self.summary.recovered += recovered.unknown
        self.summary.requeued += recovered.requeued

    def beat(self, *, force: bool = False) -> bool:
        """Heartbeat when one is due (or `force`), then recover; False if presumed dead."""
        if not force and time.monotonic() < self.next_heartbeat:
            return True
        self.next_heartbeat = time.monotonic() + self.heartbeat_seconds
        if not self.store.heartbeat(self.worker_id, self.clock()):
            log.error("this worker was presumed dead by another; stopping without sending more")
            return False
        self.recover()
        return True
