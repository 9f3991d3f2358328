"""The send loop: claim due messages, hand each to the provider, record the outcome.

Every state change lives here. A message is committed as `sending` before the
provider sees it and as `sent`, `retry_wait` or `failed` after; a worker that
dies in between leaves `sending` rows that the next worker marks `unknown`,
never resent without an operator, because a duplicate letter to a Hill office
costs more than a reported gap.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from capitolmail.errors import PermanentSendError, ProviderAuthError, TransientSendError
from capitolmail.outbox import ClaimedMessage, Store
from capitolmail.providers import Provider

Clock = Callable[[], datetime]
# A worker that has not written a heartbeat for this long is presumed dead even
# on another host, where we cannot ask the operating system.
STALE_WORKER_AFTER = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SendSummary:
    """What one pass did; `recovered` counts rows found abandoned by a dead worker."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0
    paused_jobs: list[int] = field(default_factory=list)
    finished_jobs: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; the last attempt fails the message."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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


def send_due(
    store: Store,
    provider: Provider,
    *,
    policy: RetryPolicy,
    batch_size: int = 100,
    clock: Clock = utcnow,
    on_message: Callable[[ClaimedMessage, str], None] | None = None,
) -> SendSummary:
    """Send everything due now, then return. The basis of `worker --once`."""
    summary = SendSummary()
    worker_id = new_worker_id()
    store.register_worker(worker_id, socket.gethostname(), os.getpid(), clock())
    try:
        summary.recovered = store.recover_abandoned(
            clock(), is_alive=process_alive, stale_after=STALE_WORKER_AFTER
        )
        with provider:
            while True:
                batch = store.claim_due(worker_id, batch_size, clock())
                if not batch:
                    break
                paused: set[int] = set()
                for claimed in batch:
                    if claimed.job_id in paused:
                        _give_back(store, claimed, clock())
                        continue
                    outcome, error = _send_one(store, provider, claimed, policy, clock)
                    if outcome == "paused":
                        store.pause_job(claimed.job_id, reason=error, now=clock())
                        paused.add(claimed.job_id)
                        summary.paused_jobs.append(claimed.job_id)
                    else:
                        setattr(summary, outcome, getattr(summary, outcome) + 1)
                    if on_message is not None:
                        on_message(claimed, outcome)
                store.heartbeat(worker_id, clock())
        summary.finished_jobs = store.finish_jobs(clock())
    finally:
        store.remove_worker(worker_id)
    return summary


def _send_one(
    store: Store,
    provider: Provider,
    claimed: ClaimedMessage,
    policy: RetryPolicy,
    clock: Clock,
) -> tuple[str, str]:
    """Returns the outcome (a SendSummary counter, or "paused") and the error, if any."""
    message_id = claimed.message.message_id
    try:
        receipt = provider.send(claimed.message)
    except TransientSendError as err:
        if claimed.attempts >= policy.max_attempts:
            store.mark_failed(
                message_id, error=f"gave up after {claimed.attempts} attempts: {err}", now=clock()
            )
            return "failed", str(err)
        delay = policy.delay(claimed.attempts, err.retry_after)
        store.mark_retry(
            message_id,
            error=str(err),
            next_attempt_at=clock() + timedelta(seconds=delay),
            now=clock(),
        )
        return "retried", str(err)
    except PermanentSendError as err:
        store.mark_failed(message_id, error=str(err), now=clock())
        return "failed", str(err)
    except ProviderAuthError as err:
        # Not the message's fault: put it back untouched and stop the job.
        store.mark_retry(message_id, error=str(err), next_attempt_at=clock(), now=clock())
        return "paused", str(err)
    store.mark_sent(message_id, provider_message_id=receipt.provider_message_id, now=clock())
    return "sent", ""


def _give_back(store: Store, claimed: ClaimedMessage, now: datetime) -> None:
    store.mark_retry(
        claimed.message.message_id,
        error="job paused before this message was sent",
        next_attempt_at=now,
        now=now,
    )
