"""The send loop: claim due messages, hand each to the provider, record the outcome.

Every state change lives here. A message is committed as `sending` before the
provider sees it, as handed over (`handed_over_at`) just before the transport's
irreversible step (the provider asks through `before_handover`; this thread
commits many such marks in one UPDATE, handovers.py), and as `sent`, `retry_wait`
or `failed` after (verdicts.py decides which), or `unknown` when the provider sent
it on and no verdict came back. A worker that dies in between leaves `sending`
rows that every other worker looks for at each heartbeat: those handed over
become `unknown`, never resent without an operator, because a duplicate letter to
a Hill office costs more than a reported gap; the others go back to `queued`.
A lost database connection does not end the run (outage.py rides it out).

The provider sends (as many in flight as its `capacity` says, provider_calls.py);
this thread alone claims and records, in batches (recording.py): a few large
transactions rather than thousands of small ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from capitolmail.errors import StoreError
from capitolmail.outbox import ClaimedMessage, Outcome, Store
from capitolmail.providers import HandoverRefused, Provider
from capitolmail.sending.collector import settle_for_sending
from capitolmail.sending.gate import ClaimGate
from capitolmail.sending.handovers import HandoverMarks
from capitolmail.sending.options import RetryPolicy, SendOptions, SendSummary
from capitolmail.sending.outage import OutageRider
from capitolmail.sending.pauses import PendingPauses
from capitolmail.sending.provider_calls import TICK, ProviderCalls, SendResult
from capitolmail.sending.recording import OutcomeBook
from capitolmail.sending.shared_pace import provider_pace
from capitolmail.sending.throttle import PaceChange
from capitolmail.sending.verdicts import verdict
from capitolmail.sending.workers import WorkerPresence, new_worker_id

log = logging.getLogger("capitolmail.sender")

Clock = Callable[[], datetime]
# The most messages the loop waits to have free before it claims (and records) again.
# Past ~64 a batch's transaction costs a message no less (outcomes.py's figures),
# only holds the loop longer: at 256 SendGrid requests in flight, claiming 256 at a
# time stalled the requests' event loop and every hand-over mark waiting for 20-30 ms
# at a go, and batches of 64 sent ~7 % more (benchmarks/README.md).
CLAIM_BATCH = 64
__all__ = ["RetryPolicy", "SendOptions", "SendSummary", "send_due"]


def send_due(
    store: Store,
    provider: Provider,
    *,
    options: SendOptions | None = None,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    on_outcome: Callable[[ClaimedMessage, str], None] | None = None,
    once: bool = True,
    wake: threading.Event | None = None,
) -> SendSummary:
    """Send what is due. With `once`, return when nothing is due; else run until `stop`.

    Setting `wake` ends an idle wait early (the scheduler does, when it starts a job).
    """
    settle_for_sending()  # once per process (collector.py)
    loop = _SendLoop(
        store,
        provider,
        options or SendOptions(),
        clock or (lambda: datetime.now(UTC)),
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
        self.summary = SendSummary()
        self.worker_id = new_worker_id()
        self.pace = provider_pace(  # lowered by a throttle, for every worker (shared_pace.py)
            store,
            provider.name,
            self.worker_id,
            clock,
            options.overall_rate,
            label="relay" if provider.name == "smtp" else provider.name,
            on_change=self._note_pace,
        )
        self.gate = ClaimGate(provider.name, options.overall_rate, self.pace)
        self.paused: set[int] = set()
        self.pauses = PendingPauses()  # written before the outcomes, ridden out like them
        self.presumed_dead = False  # another worker took our rows: record nothing more
        self.presence = WorkerPresence(store, self.worker_id, clock, self.summary, options)
        self.calls = ProviderCalls(provider, lambda asks: self.marks.commit(asks))
        self.not_ours: set[str] = set()  # another worker took these rows back
        self.limit = self.min_claim = 1  # in flight at once, claimed at once: see run()
        self.marks = HandoverMarks(
            store,
            self.worker_id,
            clock,
            sending=self.calls.sending_ids.__contains__,
            refusal=self._refusal,
            taken=self.not_ours.add,
            deliver=self.calls.done.put,
        )
        self.book = OutcomeBook(store, clock, self.summary, on_outcome, worker_id=self.worker_id)
        # Riding out an outage: refuse handovers, claim nothing (outage.py).
        self.outage = OutageRider(
            store,
            options.database_outage_seconds,
            book=self.book,
            collect=lambda block: self._collect(block=block),
            in_flight=self.calls.__len__,
            pauses=self.pauses,
            stop=stop,
        )

    def run(self, *, once: bool) -> SendSummary:
        # Claims, marks and outcomes commit every few messages: on one kept connection.
        with self.store.keeping_a_connection():
            return self._run(once=once)

    def _run(self, *, once: bool) -> SendSummary:
        store = self.store
        self.presence.register()
        try:
            self.presence.recover()
            with self.provider:
                self.limit = max(1, self.provider.capacity(self.options.concurrency))
                # Claim when half are free, or CLAIM_BATCH: each claim (and each
                # record) is a write transaction whose fixed cost dwarfs a message's
                # share, and what is still in flight keeps the transport busy meanwhile.
                self.min_claim = max(1, min(self.limit // 2, CLAIM_BATCH))
                self.provider.before_handover = self.marks.request
                try:
                    self._loop(once=once)
                    self.outage.run(self._drain)
                    self.outage.run(self._release_lost_claims)
                    self.pace.finish()
                finally:
                    # No sending thread may wait for a mark that will never come.
                    self.marks.close()
                    self.calls.close(self.marks)
                    self.provider.before_handover = None
            self.summary.finished_jobs += self.outage.run(lambda: store.finish_jobs(self.clock()))
        finally:
            self.presence.remove()
        self.summary.stopped_early = self.stop.is_set()
        return self.summary

    def _loop(self, *, once: bool) -> None:
        while not self.stop.is_set():
            if not self.outage.run(lambda: self._turn(once=once)):
                return

    def _turn(self, *, once: bool) -> bool:
        """One pass of the loop; False when the run is over."""
        self._collect(block=bool(self.calls))
        self._release_lost_claims()
        if not self._beat():
            return False
        free = self._claimable()
        if free is None:
            return True  # waited for a thread, a token or the end of a hold
        batch: list[ClaimedMessage] = []
        # Before the claim: a paced job's turn that refused this claim is still ahead
        # of this time however slow the claim was, so `--once` waits for it.
        claimed_at = self.clock()
        if free == 0:
            self._record()
        else:
            try:
                batch = self._record_and_claim(free)
            finally:
                paced_out = self.gate.settle(len(batch))
            if paced_out:
                return True  # the provider's pace had no turn: _claimable waits for one
        for claimed in batch:
            # Claimed again, so an operator resumed the job since we paused it.
            self.paused.discard(claimed.job_id)
            self._submit(claimed)
        if batch or self.calls:
            return True
        self.summary.finished_jobs += self.store.finish_jobs(self.clock())
        paced = self.store.next_paced_turn(claimed_at)
        if paced is not None:
            # A rate-limited job is due, only spread out: wait for its turn.
            delay = (paced - self.clock()).total_seconds()
            self._idle(min(max(delay, 0.0), self.options.poll_seconds))
            return True
        throttled = self.pace.pending_wait()
        if once and throttled is not None:
            # Held back by a throttle, these are due, only spread out: wait for them.
            self._idle(min(max(throttled, TICK), self.options.poll_seconds))
            return True
        if once:
            # A dead worker's rows may be all that is left: recover them before
            # deciding there is nothing to do (its pid is gone, so at once).
            requeued = self.summary.requeued
            self._beat(force=True)
            return self.summary.requeued > requeued
        self._idle(self.options.poll_seconds)
        return True

    def _claimable(self) -> int | None:
        """How many messages to claim now (tokens taken); None after waiting a moment."""
        hold = self.gate.held_for()
        if hold is not None:
            self._record()
            self.stop.wait(min(hold, TICK))
            return None
        free = self.limit - len(self.calls)
        if free < self.min_claim and self.calls or self.stop.is_set():
            # Each claim is a write transaction with a fixed cost: wait until a
            # worthwhile batch of threads is free rather than claim one by one.
            self._record()
            return None
        allowed, wait = self.gate.take(free)
        if allowed == 0:
            self._record()
            if self.calls:
                # Waiting for the provider's next turn, serve the threads at the brink
                # (their hand-over marks) and take their results meanwhile.
                self._collect(block=True)
            else:
                self.stop.wait(min(wait, TICK))
            return None
        return allowed

    def _record_and_claim(self, limit: int) -> list[ClaimedMessage]:
        """Record the outcomes waiting and claim `limit` more in one transaction."""
        self._write_pauses()
        return self.book.record_and_claim(
            self.worker_id,
            limit,
            handed_over=False,  # every provider reports its irreversible step
            record=not self.presumed_dead,
            pace=self.gate.turn(),
        )

    def _idle(self, seconds: float) -> None:
        """Wait until `seconds` pass, the worker is stopped, or something wakes it."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and not self.wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.wake.wait(min(remaining, TICK * 2))
        self.wake.clear()

    def _submit(self, claimed: ClaimedMessage) -> None:
        if self.stop.is_set():
            self.book.give_back(claimed, "not sent: the worker stopped")
            return
        # Ours again (claimed afresh): a refusal recorded for an earlier claim is over.
        self.not_ours.discard(claimed.message.message_id)
        self.pace.handing_over(claimed.message.message_id)
        self.calls.submit(claimed)

    def _collect(self, *, block: bool) -> None:
        # Enough ended sends to claim a worthwhile batch again; before that the loop
        # could only record, which waits for the same batch (_record).
        enough = self.min_claim - (self.limit - len(self.calls))
        results, failure = self.calls.finished(block=block, enough=max(1, enough))
        # Outcomes into memory before a failed mark commit is raised (the database is
        # gone): nothing a send finished may be lost with it.
        for result in results:
            if result.claimed.message.message_id in self.not_ours:
                continue  # another worker owns the row now: record nothing over it
            if isinstance(result.error, HandoverRefused):
                self.book.give_back(result.claimed, f"not sent: {result.error}")
                continue
            self.book.add(*self._outcome_for(result))
        if failure is not None:
            raise failure

    def _refusal(self) -> str | None:
        """Why no message may be marked handed over now, if none may."""
        if self.outage.down:
            return "the outbox database is unreachable"
        return "stopping" if self.presumed_dead else None

    def _outcome_for(self, result: SendResult) -> tuple[Outcome, ClaimedMessage, str]:
        """The verdict on a finished send, with the side effects it asks of this worker."""
        claimed, err = result.claimed, result.error
        message_id = claimed.message.message_id
        now = self.clock()
        decided = verdict(claimed, err, result.provider_message_id, self.options.policy, now)
        if err is None:
            self.pace.succeeded(message_id)
        if decided.throttle_for is not None:
            self.pace.throttled(message_id, decided.throttle_for, str(err))
            self.gate.hold(decided.throttle_for)
        if decided.pause_job and claimed.job_id not in self.paused:
            self.paused.add(claimed.job_id)
            self.pauses.add(claimed.job_id, str(err), now)  # written before the outcome
        return decided.outcome, claimed, decided.label

    def _write_pauses(self) -> None:
        """Before any outcome, so a refused provider's message is not claimed again for
        a job still `sending`; raises, keeping them, if the database is gone."""
        if self.pauses:
            self.summary.paused_jobs += self.pauses.apply(self.store)

    def _note_pace(self, change: PaceChange) -> None:
        """Tell `status` the pace of the sending jobs; a note lost is only a note."""
        try:
            self.store.note_pace(change.per_second, self.clock())
        except StoreError as err:
            log.warning("could not note the pace for status: %s", err)

    def _record(self, *, force: bool = False) -> None:
        self._write_pauses()
        if not self.book.waiting or self.presumed_dead:
            return
        free = self.limit - len(self.calls)
        if free < self.min_claim and self.calls and not self.stop.is_set() and not force:
            # Like a claim, a record is a write transaction with a fixed cost, so it
            # waits for the same worthwhile batch; it still comes before every claim.
            return
        self.book.record()

    def _release_lost_claims(self) -> None:
        """After an outage: the rows this worker holds but neither sends nor records
        were claimed by a commit whose answer was lost; queue them again (outage.py)."""
        if self.outage.came_back:
            keep = set(self.calls.sending_ids)
            keep.update(claimed.message.message_id for _, claimed, _ in self.book.waiting)
            self.summary.requeued += self.outage.release_lost_claims(
                self.worker_id, keep, self.clock()
            )

    def _drain(self) -> bool:
        """Let every message in flight finish and record it: nothing is abandoned."""
        while self.calls:
            self._collect(block=True)
        self._record(force=True)
        return True

    def _beat(self, *, force: bool = False) -> bool:
        """Heartbeat and recover dead workers' rows; False (and stop) if presumed dead."""
        if self.presence.beat(force=force):
            return True
        self.presumed_dead = True
        self.stop.set()
        return False
