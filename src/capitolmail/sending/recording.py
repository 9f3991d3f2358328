"""Recording outcomes: held in memory, written in batches, one refused outcome at a time.

Outcomes go into memory first, then to the store in one transaction per batch,
usually the same one that claims the next messages (`record_and_claim`), so the
database sees a few large transactions rather than thousands of small ones. A
lost connection keeps every outcome for when it is back (outage.py); an outcome
the store refuses rolls its batch back, so the others are then written one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from capitolmail.errors import StoreError
from capitolmail.outbox import ClaimedMessage, Outcome, Store, connection_lost
from capitolmail.outbox.provider_pace import PaceTurn
from capitolmail.sending.options import SendSummary

log = logging.getLogger("capitolmail.sender")

Held = tuple[Outcome, ClaimedMessage, str]
# The labels SendSummary counts; "paused" and "given back" only go to on_outcome.
_COUNTED = ("sent", "failed", "retried", "unknown")


class OutcomeBook:
    """The outcomes waiting (`waiting`), and what was recorded, told to `summary`
    and to `on_outcome` (the progress display) once it is in the store."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        summary: SendSummary,
        on_outcome: Callable[[ClaimedMessage, str], None] | None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        # Whose claims these outcomes are: the store refuses one for a row another
        # worker took, and takes one it already has (a lost commit answer) as done.
        self.worker_id = worker_id
        self.clock = clock
        self.summary = summary
        self.on_outcome = on_outcome
        self.waiting: list[Held] = []

    def add(self, outcome: Outcome, claimed: ClaimedMessage, label: str) -> None:
        self.waiting.append((outcome, claimed, label))

    def give_back(self, claimed: ClaimedMessage, reason: str) -> None:
        """Queue the message again, untouched: it was never handed over."""
        outcome = Outcome(
            claimed.message.message_id,
            "retry",
            error=reason,
            next_attempt_at=self.clock(),
            count_attempt=False,
        )
        self.add(outcome, claimed, "given back")

    def record(self) -> None:
        batch, self.waiting = self.waiting, []
        try:
            self.store.record_outcomes(
                [outcome for outcome, _, _ in batch], self.clock(), worker_id=self.worker_id
            )
        except StoreError as err:
            if connection_lost(err):
                # Nothing was written: keep every outcome for when the database is back.
                self.waiting = batch + self.waiting
                raise
            # One refused outcome rolls back the batch; keep the others' records.
            batch = [item for item in batch if self._record_one(item[0])]
        self._recorded(batch)

    def record_and_claim(
        self,
        worker_id: str,
        limit: int,
        *,
        handed_over: bool,
        record: bool,
        pace: PaceTurn | None = None,
    ) -> list[ClaimedMessage]:
        """Record the outcomes waiting (if `record`) and claim `limit` more in one
        transaction, within the provider's shared `pace`."""
        if not self.waiting or not record:
            return self.store.claim_due(
                worker_id, limit, self.clock(), handed_over=handed_over, pace=pace
            )
        batch, self.waiting = self.waiting, []
        try:
            claimed = self.store.record_and_claim(
                worker_id,
                [outcome for outcome, _, _ in batch],
                limit,
                self.clock(),
                handed_over=handed_over,
                pace=pace,
            )
        except StoreError as err:
            self.waiting = batch + self.waiting
            if connection_lost(err):
                raise
            # One refused outcome rolled the whole transaction back: sort them out
            # one by one, then claim alone.
            self.record()
            return self.store.claim_due(
                worker_id, limit, self.clock(), handed_over=handed_over, pace=pace
            )
        self._recorded(batch)
        return claimed

    def _recorded(self, batch: list[Held]) -> None:
        for _, claimed, label in batch:
            if label in _COUNTED:
                setattr(self.summary, label, getattr(self.summary, label) + 1)
            if self.on_outcome is not None:
                self.on_outcome(claimed, label)

    def _record_one(self, outcome: Outcome) -> bool:
        try:
            self.store.record_outcomes([outcome], self.clock(), worker_id=self.worker_id)
        except StoreError as err:
            log.error("could not record the outcome of %s: %s", outcome.message_id, err)
            return False
        return True
