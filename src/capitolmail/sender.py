"""The send loop: claim due messages, hand each to the provider, record the outcome.

Every state change lives here. A message is committed as `sending` before the
provider sees it and as `sent`, `retry_wait` or `failed` after, or `unknown`
when the provider sent it on and no verdict came back; a worker that dies in
between leaves `sending` rows that the next worker marks `unknown`. `unknown` is
never resent without an operator, because a duplicate letter to a Hill office
costs more than a reported gap.

Threads do the provider calls (N in flight); this thread alone claims and
records, in batches, so the database sees a few large transactions rather than
thousands of small ones. Messages are claimed only when a thread is free to
send them, so a SIGKILL leaves at most `concurrency` messages `unknown`.

A provider with `submit(message) -> Future[Receipt]` and `run_until(until,
timeout)` (SendGrid's, which keeps every request on one asyncio loop) gets the
messages through `submit` instead of a thread each, and this thread runs the
provider's loop whenever it waits for sends to finish: at hundreds of requests in
flight a thread per request cost more of the process's one core (the GIL) than
claiming, building and recording together, and a loop in a thread of its own kept
taking the GIL from the store's transactions (providers/event_loop.py).
Either way a finished send lands in one queue, which this thread reads.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from capitolmail.errors import (
    DeliveryUnknownError,
    PermanentSendError,
    ProviderAuthError,
    StoreError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import ClaimedMessage, JobState, Outcome, Store
from capitolmail.pacing import AdaptivePace, PaceChange
from capitolmail.providers import Provider, Receipt
from capitolmail.rate import Rate, TokenBucket

log = logging.getLogger("capitolmail.sender")

Clock = Callable[[], datetime]
# A worker that has not written a heartbeat for this long is presumed dead even
# on another host, where we cannot ask the operating system.
STALE_WORKER_AFTER = timedelta(minutes=5)
# How long the loop waits for a thread to finish before looking again.
_TICK = 0.05


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SendSummary:
    """What one run did; `recovered` counts rows found abandoned by a dead worker."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0  # sent, and no verdict came back: never retried without an operator
    recovered: int = 0
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


@dataclass(frozen=True, slots=True)
class _Result:
    """What a sending thread hands back: the receipt id or the error it raised."""

    claimed: ClaimedMessage
    provider_message_id: str | None = None
    error: BaseException | None = None


def _result(claimed: ClaimedMessage, future: Future[Receipt]) -> _Result:
    try:
        receipt = future.result()
    except BaseException as err:  # a cancelled send too: _outcome_for classifies it
        return _Result(claimed, error=err)
    return _Result(claimed, provider_message_id=receipt.provider_message_id)


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
    options: SendOptions | None = None,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    on_outcome: Callable[[ClaimedMessage, str], None] | None = None,
    once: bool = True,
    wake: threading.Event | None = None,
) -> SendSummary:
    """Send what is due. With `once`, return when nothing is due; else run until `stop`.

    Setting `wake` ends an idle wait early (the scheduler does, when it starts a job).
    """
    loop = _SendLoop(
        store,
        provider,
        options or SendOptions(),
        clock,
        stop or threading.Event(),
        on_outcome,
        wake or threading.Event(),
    )
    return loop.run(once=once)


class _SendLoop:
    def __init__(
        self,
        store: Store,
        provider: Provider,
        options: SendOptions,
        clock: Clock,
        stop: threading.Event,
        on_outcome: Callable[[ClaimedMessage, str], None] | None,
        wake: threading.Event,
    ) -> None:
        self.wake = wake
        self.store = store
        self.provider = provider
        self.options = options
        self.clock = clock
        self.stop = stop
        self.on_outcome = on_outcome
        self.summary = SendSummary()
        self.worker_id = new_worker_id()
        # The overall rate is this worker's; a job's own rate is kept by the store
        # (claim_due hands out a paced job's messages only as its rate allows).
        self.overall = TokenBucket(options.overall_rate) if options.overall_rate else None
        # Lowered when the provider throttles, for every job this worker sends (pacing.py).
        self.pace = AdaptivePace(
            options.overall_rate,
            label="relay" if provider.name == "smtp" else provider.name,
            on_change=self._note_pace,
        )
        self.paused: set[int] = set()
        self.hold_until = 0.0  # monotonic time before which nothing new is handed over
        self.presumed_dead = False  # another worker took our rows: record nothing more
        self.next_heartbeat = 0.0
        self.in_flight: dict[Future[Receipt], ClaimedMessage] = {}
        # Finished sends, put there by whichever thread finished them.
        self.done: queue.SimpleQueue[Future[Receipt]] = queue.SimpleQueue()
        self.provider_submit: Callable[[OutgoingMessage], Future[Receipt]] | None = getattr(
            provider, "submit", None
        )
        self.provider_run: Callable[[Callable[[], bool], float], None] | None = getattr(
            provider, "run_until", None
        )
        if self.provider_submit is None or self.provider_run is None:
            self.provider_submit = self.provider_run = None
        self.min_claim = max(1, options.concurrency // 8)
        self.outcomes: list[tuple[Outcome, ClaimedMessage, str]] = []

    def run(self, *, once: bool) -> SendSummary:
        store = self.store
        store.register_worker(self.worker_id, socket.gethostname(), os.getpid(), self.clock())
        self.next_heartbeat = time.monotonic() + self.options.heartbeat_seconds
        try:
            self.summary.recovered = store.recover_abandoned(
                self.clock(), is_alive=process_alive, stale_after=STALE_WORKER_AFTER
            )
            if self.summary.recovered:
                log.warning(
                    "%d messages were left sending by a worker that died; they are now "
                    "unknown and will not be resent without `capitolmail requeue`",
                    self.summary.recovered,
                )
            with (
                self.provider,
                ThreadPoolExecutor(
                    max_workers=self.options.concurrency, thread_name_prefix="capitolmail-send"
                ) as pool,
            ):
                self._loop(pool, once=once)
                self._drain()
                self.pace.finish()
            self.summary.finished_jobs += store.finish_jobs(self.clock())
        finally:
            store.remove_worker(self.worker_id)
        self.summary.stopped_early = self.stop.is_set()
        return self.summary

    def _loop(self, pool: ThreadPoolExecutor, *, once: bool) -> None:
        while not self.stop.is_set():
            self._collect(block=bool(self.in_flight))
            self._record()
            if not self._beat():
                return
            if time.monotonic() < self.hold_until:
                self.stop.wait(min(self.hold_until - time.monotonic(), _TICK))
                continue
            free = self.options.concurrency - len(self.in_flight)
            if free < self.min_claim and self.in_flight or self.stop.is_set():
                # Each claim is a write transaction with a fixed cost: wait until a
                # worthwhile batch of threads is free rather than claim one by one.
                continue
            if self.overall is not None:
                free = self.overall.take_up_to(free)
                if free == 0:
                    self.stop.wait(min(self.overall.wait_time(), _TICK))
                    continue
            allowed = self.pace.take_up_to(free)
            if allowed == 0:
                if self.overall is not None:
                    self.overall.refund(free)
                self.stop.wait(min(self.pace.wait_time(), _TICK))
                continue
            if self.overall is not None:
                self.overall.refund(free - allowed)
            free = allowed
            batch = self.store.claim_due(self.worker_id, free, self.clock())
            if self.overall is not None:
                self.overall.refund(free - len(batch))
            self.pace.refund(free - len(batch))
            for claimed in batch:
                # Claimed again, so an operator resumed the job since we paused it.
                self.paused.discard(claimed.job_id)
                self._submit(pool, claimed)
            if batch or self.in_flight:
                continue
            self.summary.finished_jobs += self.store.finish_jobs(self.clock())
            paced = self.store.next_paced_turn(self.clock())
            if paced is not None:
                # A rate-limited job is due, only spread out: wait for its turn.
                delay = (paced - self.clock()).total_seconds()
                self._idle(min(max(delay, 0.0), self.options.poll_seconds))
                continue
            throttled = self.pace.pending_wait()
            if once and throttled is not None:
                # Held back by a throttle, these are due, only spread out: wait for them.
                self._idle(min(max(throttled, _TICK), self.options.poll_seconds))
                continue
            if once:
                return
            self._idle(self.options.poll_seconds)

    def _idle(self, seconds: float) -> None:
        """Wait until `seconds` pass, the worker is stopped, or something wakes it."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and not self.wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.wake.wait(min(remaining, _TICK * 2))
        self.wake.clear()

    def _submit(self, pool: ThreadPoolExecutor, claimed: ClaimedMessage) -> None:
        if self.stop.is_set():
            self._give_back(claimed, "not sent: the worker stopped")
            return
        future: Future[Receipt]
        self.pace.handing_over(claimed.message.message_id)
        if self.provider_submit is None:
            # The thread runs the provider call and nothing else; what it raises is
            # kept in the Future and classified in _outcome_for.
            future = pool.submit(self.provider.send, claimed.message)
        else:
            try:
                future = self.provider_submit(claimed.message)
            except Exception as err:
                future = Future()
                future.set_exception(err)
        self.in_flight[future] = claimed
        future.add_done_callback(self.done.put)

    def _collect(self, *, block: bool) -> None:
        if not self.in_flight:
            return
        if self.provider_run is not None:
            # The provider's requests make progress only while this thread runs them.
            self.provider_run(lambda: not self.done.empty(), _TICK if block else 0.0)
            block = False
        try:
            future = self.done.get(timeout=_TICK) if block else self.done.get_nowait()
        except queue.Empty:
            return
        while True:
            claimed = self.in_flight.pop(future)
            self.outcomes.append(self._outcome_for(_result(claimed, future)))
            try:
                future = self.done.get_nowait()
            except queue.Empty:
                return

    def _outcome_for(self, result: _Result) -> tuple[Outcome, ClaimedMessage, str]:
        claimed, err = result.claimed, result.error
        message_id = claimed.message.message_id
        now = self.clock()
        if err is None:
            self.pace.succeeded(message_id)
            sent = Outcome(message_id, "sent", provider_message_id=result.provider_message_id)
            return sent, claimed, "sent"
        if isinstance(err, DeliveryUnknownError | CancelledError):
            # The message went out (or may have: a cancelled request cannot say how
            # far it got) and no verdict came: a retry could deliver it twice.
            error = str(err) if isinstance(err, DeliveryUnknownError) else ""
            error = error or "the send was cancelled in flight; it may have been delivered"
            return Outcome(message_id, "unknown", error=error), claimed, "unknown"
        if isinstance(err, TransientSendError):
            if err.rate_limited:
                # Everyone slows down, and the attempt does not count against the message.
                policy = self.options.policy
                delay = min(policy.delay(1, err.retry_after), policy.cap_seconds)
                self.pace.throttled(message_id, delay, str(err))
                self.hold_until = max(self.hold_until, time.monotonic() + delay)
                retry_at = now + timedelta(seconds=delay)
                outcome = Outcome(
                    message_id,
                    "retry",
                    error=str(err),
                    next_attempt_at=retry_at,
                    count_attempt=False,
                )
                return outcome, claimed, "retried"
            if claimed.attempts >= self.options.policy.max_attempts:
                error = f"gave up after {claimed.attempts} attempts: {err}"
                return Outcome(message_id, "failed", error=error), claimed, "failed"
            delay = self.options.policy.delay(claimed.attempts, err.retry_after)
            retry_at = now + timedelta(seconds=delay)
            outcome = Outcome(message_id, "retry", error=str(err), next_attempt_at=retry_at)
            return outcome, claimed, "retried"
        if isinstance(err, ProviderAuthError):
            # Not the message's fault: put it back untouched and stop the job. If the
            # job was cancelled meanwhile, record_outcomes turns the retry into
            # `cancelled`, and the job stays as the operator left it.
            if claimed.job_id not in self.paused:
                self.paused.add(claimed.job_id)
                self._pause(claimed.job_id, err, now)
            outcome = Outcome(
                message_id, "retry", error=str(err), next_attempt_at=now, count_attempt=False
            )
            return outcome, claimed, "paused"
        if not isinstance(err, PermanentSendError):
            # A bug in a provider, not a verdict on the message; whether it reached
            # the server is unknowable, so it is not retried either.
            log.exception("provider raised an unexpected error", exc_info=err)
            err = PermanentSendError(f"unexpected error in the provider: {err!r}")
        return Outcome(message_id, "failed", error=str(err)), claimed, "failed"

    def _pause(self, job_id: int, err: ProviderAuthError, now: datetime) -> None:
        """Pause the job for a refused key; a job cancelled or done meanwhile stays so."""
        info = self.store.pause_job(job_id, reason=str(err), now=now)
        if info.state == JobState.PAUSED:
            self.summary.paused_jobs.append(job_id)
            log.error("job %s paused: %s", job_id, err)
        else:
            log.warning("job %s is %s, so it was not paused: %s", job_id, info.state, err)

    def _note_pace(self, change: PaceChange) -> None:
        """Tell `status` the pace of the sending jobs; a note lost is only a note."""
        try:
            self.store.note_pace(change.per_second, self.clock())
        except StoreError as err:
            log.warning("could not note the pace for status: %s", err)

    def _give_back(self, claimed: ClaimedMessage, reason: str) -> None:
        outcome = Outcome(
            claimed.message.message_id,
            "retry",
            error=reason,
            next_attempt_at=self.clock(),
            count_attempt=False,
        )
        self.outcomes.append((outcome, claimed, "given back"))

    def _record(self) -> None:
        if not self.outcomes or self.presumed_dead:
            return
        free = self.options.concurrency - len(self.in_flight)
        if free < self.min_claim and self.in_flight and not self.stop.is_set():
            # Like a claim, a record is a write transaction with a fixed cost, so it
            # waits for the same worthwhile batch. It still comes before every claim
            # (_loop claims only past this same mark), so the rows in `sending` never
            # outnumber the threads: at most `concurrency` are left `unknown` by a crash.
            return
        batch, self.outcomes = self.outcomes, []
        try:
            self.store.record_outcomes([outcome for outcome, _, _ in batch], self.clock())
        except StoreError:
            # One refused outcome rolls back the batch; keep the others' records.
            batch = [item for item in batch if self._record_one(item[0])]
        for _, claimed, label in batch:
            if label in ("sent", "failed", "retried", "unknown"):
                setattr(self.summary, label, getattr(self.summary, label) + 1)
            if self.on_outcome is not None:
                self.on_outcome(claimed, label)

    def _record_one(self, outcome: Outcome) -> bool:
        try:
            self.store.record_outcomes([outcome], self.clock())
        except StoreError as err:
            log.error("could not record the outcome of %s: %s", outcome.message_id, err)
            return False
        return True

    def _drain(self) -> None:
        """Let every message in flight finish and record it: nothing is abandoned."""
        while self.in_flight:
            self._collect(block=True)
        self._record()

    def _beat(self) -> bool:
        if time.monotonic() < self.next_heartbeat:
            return True
        self.next_heartbeat = time.monotonic() + self.options.heartbeat_seconds
        if self.store.heartbeat(self.worker_id, self.clock()):
            return True
        log.error("this worker was presumed dead by another; stopping without sending more")
        self.presumed_dead = True
        self.stop.set()
        return False
