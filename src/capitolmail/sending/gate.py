"""How many messages this worker may claim now, and the provider's pace each claim takes.

Three limits, each its own reason: the provider's overall rate (`worker.rate`) and
the adaptive pace lowered when the provider throttles (throttle.py), both held for
every worker together in the provider's row (outbox/provider_pace.py,
shared_pace.py), and this worker's hold after a rate limit, during which it hands
nothing new over. A job's own rate is not here: the store keeps it, across
workers, on the job's row (outbox/claims.py).

The turns are taken in the claim's own transaction (`turn()` goes with the claim),
and only as many as it claims, so a claim that finds fewer messages than it asked
for has nothing to refund. When the shared pace had no turn free, the claim says
how long until one is: this worker waits that long before it asks again, rather
than spend a transaction a tick on a no.
"""

from __future__ import annotations

import time

from capitolmail.outbox.provider_pace import PaceTurn
from capitolmail.sending.shared_pace import SharedPace
from capitolmail.timing.rate import Rate


class ClaimGate:
    def __init__(self, provider: str, overall_rate: Rate | None, pace: SharedPace) -> None:
        self.provider = provider
        self.ceiling = overall_rate.per_second if overall_rate else None
        self.pace = pace
        self.hold_until = 0.0  # monotonic time before which nothing new is handed over
        self.not_before = 0.0  # monotonic time before which the shared pace has no turn
        self._turn: PaceTurn | None = None

    def hold(self, seconds: float) -> None:
        self.hold_until = max(self.hold_until, time.monotonic() + seconds)

    def held_for(self) -> float | None:
        """Seconds left of a hold, or None when there is none."""
        left = self.hold_until - time.monotonic()
        return left if left > 0 else None

    def take(self, wanted: int) -> tuple[int, float]:
        """(messages to ask the claim for, up to `wanted`; when none, seconds to wait)."""
        wait = self.not_before - time.monotonic()
        if wait > 0:
            return 0, wait
        return wanted, 0.0

    def turn(self) -> PaceTurn:
        """What the next claim takes from the provider's pace (with the raises earned)."""
        self._turn = PaceTurn(self.provider, self.ceiling, self.pace.pending_change())
        return self._turn

    def settle(self, claimed: int) -> bool:
        """After a claim of `claimed` messages: follow the shared pace it read.

        True when the pace gave the claim no turn (the worker waits, see `take`).
        """
        turn, self._turn = self._turn, None
        if turn is None or not turn.applied:
            return False
        self.pace.adopt(turn.state)
        if claimed == 0 and turn.wait > 0:
            self.not_before = time.monotonic() + turn.wait
            return True
        return False
