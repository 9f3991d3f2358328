"""How many messages this worker may hand over now, by its own pace.

Three limits, each its own reason: the worker's overall rate (`worker.rate`), the
adaptive pace that is lowered when the provider throttles (throttle.py), and the
hold after a rate limit, during which nothing new is handed over. A job's own
rate is not here: the store keeps it, across workers (outbox/claims.py).
Tokens taken for messages that were then not claimed are refunded.
"""

from __future__ import annotations

import time

from capitolmail.sending.throttle import AdaptivePace
from capitolmail.timing.rate import Rate, TokenBucket


class ClaimGate:
    def __init__(self, overall_rate: Rate | None, pace: AdaptivePace) -> None:
        self.overall = TokenBucket(overall_rate) if overall_rate else None
        self.pace = pace
        self.hold_until = 0.0  # monotonic time before which nothing new is handed over

    def hold(self, seconds: float) -> None:
        self.hold_until = max(self.hold_until, time.monotonic() + seconds)

    def held_for(self) -> float | None:
        """Seconds left of a hold, or None when there is none."""
        left = self.hold_until - time.monotonic()
        return left if left > 0 else None

    def take(self, wanted: int) -> tuple[int, float]:
        """(tokens taken, up to `wanted`; when none, the seconds until one may come)."""
        free = wanted
        if self.overall is not None:
            free = self.overall.take_up_to(free)
            if free == 0:
                return 0, self.overall.wait_time()
        allowed = self.pace.take_up_to(free)
        if allowed == 0:
            if self.overall is not None:
                self.overall.refund(free)
            return 0, self.pace.wait_time()
        if self.overall is not None:
            self.overall.refund(free - allowed)
        return allowed, 0.0

    def refund(self, count: int) -> None:
        if self.overall is not None:
            self.overall.refund(count)
        self.pace.refund(count)
