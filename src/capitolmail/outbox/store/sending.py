"""What the send loop asks of the outbox: claim due messages, mark them handed over,
record their outcomes, finish jobs, and note a pace a provider forced."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from capitolmail.outbox import claims, handover, jobs, pace_notes, provider_pace
from capitolmail.outbox.outcomes import record_outcomes
from capitolmail.outbox.pace_notes import PaceNote
from capitolmail.outbox.provider_pace import PaceChanger, PaceState, PaceTurn
from capitolmail.outbox.records import ClaimedMessage, Outcome
from capitolmail.outbox.states import MessageState
from capitolmail.outbox.store.part import StorePart, aware


class Sending(StorePart):
    """Claims and outcomes; a claim commits before any message in it is handed over."""

    def next_paced_turn(self, now: datetime) -> datetime | None:
        """When a rate-limited job may next hand out a queued message (None: none waits)."""
        with self._read() as conn:
            return claims.next_paced_turn(conn, aware("now", now))

    def claim_due(
        self,
        worker_id: str,
        limit: int,
        now: datetime,
        *,
        handed_over: bool = True,
        pace: PaceTurn | None = None,
    ) -> list[ClaimedMessage]:
        """Move up to `limit` due messages to `sending` and commit before any is handed over.

        Committing first is what makes a crash safe: a row still `sending` at start-up
        may have been delivered, so it becomes `unknown` and is never resent without
        an operator. Due: `queued`, or `retry_wait` whose time has come, in a job that
        is sending (`start_due_jobs` started it) and inside its send window; in job
        then seq order. The worker must be registered.

        With `handed_over=False` the claimed rows are not yet marked handed over: the
        caller marks each with `mark_handed_over` just before the transport's
        irreversible step, so one that never got there can go back to `queued`.

        With `pace`, no more than the provider's shared pace has free now are claimed
        (outbox/provider_pace.py); what it learned is left in `pace`.
        """
        aware("now", now)
        with self._write("claim messages") as conn:
            return claims.claim_due(conn, worker_id, limit, now, handed_over=handed_over, pace=pace)

    def mark_handed_over(
        self, worker_id: str, message_ids: Sequence[str], now: datetime
    ) -> set[str]:
        """Commit `handed_over_at` for the ids this worker still holds in `sending`; those ids.

        The commit must come before the provider's irreversible step (SMTP DATA, the
        SendGrid request): an id not returned must not be handed over at all. The
        mark is one statement committing alone: a thread is waiting for it at the brink.
        """
        aware("now", now)
        with self._committing_alone("mark messages handed over") as conn:
            return handover.mark_handed_over(conn, worker_id, message_ids, now)

    def record_and_claim(
        self,
        worker_id: str,
        outcomes: Sequence[Outcome],
        claim: int,
        now: datetime,
        *,
        handed_over: bool = False,
        pace: PaceTurn | None = None,
    ) -> list[ClaimedMessage]:
        """`record_outcomes`, then `claim_due(worker_id, claim, ...)`, in one transaction.

        A busy sender records a batch of outcomes just as the threads that sent them
        are free for more; on SQLite a transaction costs more CPU than the statements
        in it, so one commit for both keeps the throughput. One refused outcome
        rolls back the claim too.
        """
        aware("now", now)
        with self._write("record outcomes and claim messages") as conn:
            if outcomes:
                record_outcomes(conn, outcomes, now, worker_id)
            return claims.claim_due(conn, worker_id, claim, now, handed_over=handed_over, pace=pace)

    def record_outcomes(
        self, outcomes: Sequence[Outcome], now: datetime, *, worker_id: str | None = None
    ) -> list[MessageState]:
        """Record a batch of outcomes in one transaction; each one's new state, in order.

        Only a message in `sending` takes an outcome. Any other state (or an unknown
        id, or one id twice) raises and rolls back the whole batch, since it means
        the caller's view of its claims is wrong and nothing in it can be trusted.
        A retry whose job was cancelled meanwhile becomes `cancelled`: it would
        never be claimed again. A retry with `count_attempt=False` takes back the
        attempt its claim counted.

        With `worker_id` (the send loop's), an outcome for a row another worker has
        claimed since is refused, and one already recorded under this worker's claim
        (its commit went through as the connection broke) is a no-op.
        """
        aware("now", now)
        with self._write("record the outcomes") as conn:
            return record_outcomes(conn, outcomes, now, worker_id)

    def finish_jobs(self, now: datetime) -> list[int]:
        """Mark `done` the sending jobs with no queued, sending or retry_wait message."""
        aware("now", now)
        with self._write("finish jobs") as conn:
            return jobs.finish_jobs(conn, now)

    def note_pace(self, per_second: float | None, now: datetime) -> int:
        """Note on every sending job the pace a throttling provider forced (None: lifted)."""
        aware("now", now)
        with self._write("note the pace") as conn:
            return pace_notes.note_pace(conn, per_second, now)

    def current_paces(self, job_ids: Iterable[int]) -> dict[int, PaceNote]:
        """The pace a throttling provider forces, for each of `job_ids` (sending jobs)."""
        with self._read() as conn:
            return pace_notes.current_paces(conn, job_ids)

    def change_pace(
        self, provider: str, change: PaceChanger, now: datetime, hold_until: datetime
    ) -> PaceState:
        """Change the provider's shared pace (a cut) and hold its turns; the pace after."""
        aware("now", now)
        with self._write("change the provider's pace") as conn:
            return provider_pace.change_pace(conn, provider, change, now, hold_until)

    def lift_pace(self, provider: str, worker_id: str, now: datetime) -> bool:
        """Drop the provider's forced pace if `worker_id` is the last worker running."""
        aware("now", now)
        with self._write("lift the provider's pace") as conn:
            return provider_pace.lift_pace(conn, provider, worker_id, now)
