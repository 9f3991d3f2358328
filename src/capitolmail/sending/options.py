"""What a run of the send loop is told (SendOptions, RetryPolicy) and what it reports
(SendSummary): built from WorkerSettings at the edge, read by the loop's parts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from capitolmail.config.sections import WorkerSettings
from capitolmail.outbox.workers import STALE_WORKER_AFTER
from capitolmail.timing.rate import Rate


@dataclass
class SendSummary:
    """What one run did; `recovered` counts a dead worker's rows made `unknown`,
    `requeued` those it had not handed over yet, put back in the queue."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0  # sent, and no verdict came back: never retried without an operator
    recovered: int = 0
    requeued: int = 0
    paused_jobs: list[int] = field(default_factory=list)
    finished_jobs: list[int] = field(default_factory=list)
    stopped_early: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; the last attempt fails the message."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How a run paces itself; built from WorkerSettings at the edge."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 8
    overall_rate: Rate | None = None
    heartbeat_seconds: float = 10.0
    poll_seconds: float = 2.0
    stale_after: timedelta = STALE_WORKER_AFTER
    database_outage_seconds: float = 300.0


def send_options(worker: WorkerSettings, *, poll: float | None = None) -> SendOptions:
    """The options a run takes from `[worker]`; `poll` overrides its poll_seconds."""
    return SendOptions(
        policy=RetryPolicy(
            max_attempts=worker.max_attempts,
            base_seconds=worker.retry_base_seconds,
            cap_seconds=worker.retry_cap_seconds,
        ),
        concurrency=worker.concurrency,
        overall_rate=worker.overall_rate,
        heartbeat_seconds=worker.heartbeat_seconds,
        poll_seconds=poll or worker.poll_seconds,
        stale_after=worker.stale_after,
        database_outage_seconds=worker.database_outage_seconds,
    )
