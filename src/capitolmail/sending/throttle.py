"""How fast the send loop hands messages to a provider that has started to throttle.

A relay limited to 10 messages a minute answers `450 4.7.1 too much mail` to
the eleventh; SendGrid answers 429. Retrying each refused message on its own
schedule keeps the worker at full speed against a relay that has said "slower",
so nearly every message is refused again. The pace here is the worker's answer
for the whole provider, the way TCP answers congestion: additive increase,
multiplicative decrease (AIMD).

- Start uncapped (the worker's `rate`, if set, still applies on its own).
- On a throttle reply, halve the messages per second: the pace in force, or
  the rate the provider just accepted messages at (or they were handed over at)
  when there was none. A burst of refusals for
  messages handed over before the cut is one signal, not one per message, so
  the pace is halved once per cut (each message carries the cut it was sent
  under).
- A message refused again after others went through since the last cut is a
  deferral of that one recipient (a greylisting or policy reply), not a sign
  that the pace is too high: it waits its turn without cutting the pace, or one
  office's "try again later" would slow a send to 300,000 supporters to a crawl.
- After every `INCREASE_AFTER` successes in a row, add a tenth of the pace set
  at the last cut; back at the rate that first drew a throttle (or the worker's
  `rate`), the cap is lifted.
- Never below `FLOOR` (one message a minute): a relay that throttles for a long
  time slows the send down, but it never stalls it, so a message throttled many
  times still goes out.

In the send loop the pace is shared by every worker of the provider (shared_pace.py
makes the cuts and raises on the provider's row); this class keeps the bookkeeping.

The sender also holds every send for the reply's `retry_after` (or its retry
backoff) after a throttle, as it always has; the pace governs what follows.
Everything here runs in the send loop's own thread.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from capitolmail.timing.rate import Rate, TokenBucket

log = logging.getLogger("capitolmail.sender")

FLOOR = 1 / 60  # messages per second
INCREASE_AFTER = 10  # successes in a row before the pace goes up a step
# The rate observed before a throttle, when no pace was set: messages accepted
# (or, when none was yet, handed over) in this many seconds, divided by the time
# since the first of them (at least _MIN_SPAN, so that a first burst of a few
# does not read as thousands a second).
_OBSERVE_SECONDS = 5.0
_MIN_SPAN = 0.1
# Messages handed over but not yet accepted are a burst of claims, not a rate: at
# the start every thread takes one at once, and a refusal at RCPT comes back before
# any success (which waits for its hand-over mark). Read as N in flight per 0.1 s,
# such a burst set the first cut far above the relay's limit and took four more
# cuts (each after a burst of refusals) to get below it; read per second, it is
# what the threads could send if the relay answered in a second.
_MIN_HANDED_SPAN = 1.0
# When nothing was sent before the first throttle, the pace halves from this.
_START = 2.0
# Raised paces are reported (logged, noted for `status`) at most this often.
_REPORT_EVERY = 5.0
# Tokens the pace may bank: a tenth of a second's worth, at least one message.
_BURST_SECONDS = 0.1
# A throttled message should be claimed again soon after its retry time; one not
# claimed this long after it is no longer ours to wait for (paused, cancelled,
# taken by another worker).
_PENDING_GRACE = 2.0
# Cuts remembered per message in flight; beyond this many, failed messages that
# never reported back are forgotten (at worst one extra halving).
_MAX_TICKETS = 10_000


@dataclass(frozen=True, slots=True)
class PaceChange:
    """The pace moved: `per_second` is the new cap, None when there is none any more."""

    label: str
    per_second: float | None
    previous: float | None
    lowered: bool
    reason: str | None = None
    ended: bool = False  # the worker stopped; the next one starts uncapped

    def __str__(self) -> str:
        if self.per_second is None:
            if self.ended:
                return f"{self.label} throttling: pace limit dropped as the worker stops"
            return f"{self.label} throttling eased: pace no longer limited"
        verb = "lowered" if self.lowered else "raised"
        text = f"{self.label} throttling: pace {verb} to {format_pace(self.per_second)}"
        return f"{text}: {self.reason}" if self.reason else text


def format_pace(per_second: float) -> str:
    """ "0.17 msg/s (10/min)", "2.5 msg/s", "40 msg/s": a pace as staff read it."""
    if per_second >= 10:
        return f"{per_second:.0f} msg/s"
    if per_second >= 1:
        return f"{per_second:.1f} msg/s"
    return f"{per_second:.2g} msg/s ({per_second * 60:.2g}/min)"


def first_base(observed: float | None, ceiling: float | None) -> float:
    """What the first cut halves: the rate observed, else the ceiling, else _START."""
    base = observed or ceiling or _START
    return base if ceiling is None else min(base, ceiling)


def lowered_pace(base: float, floor: float = FLOOR) -> tuple[float, float]:
    """(the pace after a cut from `base`, the step each raise adds back)."""
    lowered = max(floor, base / 2)
    return lowered, max(lowered / 10, floor / 10)


def raised_pace(
    per_second: float, step: float, lift_at: float | None, ceiling: float | None
) -> float | None:
    """The pace after one raise; None when it is back at the limit (the cap is lifted)."""
    raised = per_second + step
    limit = min(x for x in (lift_at, ceiling, math.inf) if x is not None)
    return None if raised >= limit * (1 - 1e-9) else raised


class AdaptivePace:
    """The AIMD pace of one provider; `take_up_to` and `refund` as a TokenBucket's."""

    def __init__(
        self,
        ceiling: Rate | None = None,
        *,
        label: str = "relay",
        on_change: Callable[[PaceChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        floor: float = FLOOR,
    ) -> None:
        self.ceiling = ceiling.per_second if ceiling else None
        self.label = label
        self.on_change = on_change
        self.floor = floor
        self.per_second: float | None = None
        self.lowest: float | None = None  # the lowest pace this run, for reports
        self._clock = clock
        self._bucket: TokenBucket | None = None
        self._cut = 0  # how many times the pace was cut
        self._tickets: dict[str, int] = {}  # message id -> the cut it was handed over under
        self._pending: dict[str, float] = {}  # throttled message id -> when it is due again
        self._refused_before: set[str] = set()  # throttled, and not sent since
        self._sent_since_cut = 0
        self._handed: deque[float] = deque()
        self._accepted: deque[float] = deque()
        self._streak = 0
        self._step = 0.0
        self._lift_at: float | None = None
        self._last_report = -math.inf

    # -- what the loop asks -------------------------------------------------------------

    def take_up_to(self, wanted: int) -> int:
        return wanted if self._bucket is None else self._bucket.take_up_to(wanted)

    def refund(self, count: int) -> None:
        if self._bucket is not None:
            self._bucket.refund(count)

    def wait_time(self) -> float:
        return 0.0 if self._bucket is None else self._bucket.wait_time()

    def pending_wait(self) -> float | None:
        """Seconds until a message throttled in this run is due again; None if none is.

        `worker --once` waits for these as it waits for a paced job's turn: they
        are due, only spread out.
        """
        now = self._clock()
        for message_id in [m for m, due in self._pending.items() if now > due + _PENDING_GRACE]:
            del self._pending[message_id]
        if not self._pending:
            return None
        return max(0.0, min(self._pending.values()) - now)

    # -- what the loop tells ------------------------------------------------------------

    def handing_over(self, message_id: str) -> None:
        if len(self._tickets) >= _MAX_TICKETS:
            self._tickets.clear()
        self._tickets[message_id] = self._cut
        self._pending.pop(message_id, None)
        self._observe(self._handed)

    def succeeded(self, message_id: str) -> None:
        self._observe(self._accepted)
        self._tickets.pop(message_id, None)
        self._refused_before.discard(message_id)
        self._sent_since_cut += 1
        if self.per_second is None:
            return
        self._streak += 1
        if self._streak < INCREASE_AFTER:
            return
        self._streak = 0
        self._raise_pace()

    def throttled(self, message_id: str, hold: float, reason: str) -> None:
        """The provider asked us to slow down while sending `message_id`, due again in `hold` s."""
        cut = self._tickets.pop(message_id, self._cut)
        self._pending[message_id] = self._clock() + hold
        self._streak = 0
        again = message_id in self._refused_before
        if len(self._refused_before) >= _MAX_TICKETS:
            self._refused_before.clear()
        self._refused_before.add(message_id)
        if cut < self._cut:
            return  # sent before the last cut: that cut already answered this signal
        if again and self._sent_since_cut:
            return  # this recipient is deferred; the others go through at this pace
        self._cut_pace(hold, reason)

    def finish(self) -> None:
        """The run is over: note that no pace holds any more (the next run learns afresh)."""
        if self.per_second is None:
            return
        previous, self.per_second, self._bucket = self.per_second, None, None
        if self.on_change is not None:
            self.on_change(PaceChange(self.label, None, previous, lowered=False, ended=True))

    # -- the two moves (sending/shared_pace.py makes them for every worker) --------------

    def _raise_pace(self) -> None:
        """A run of successes: a step up, or the cap lifted back at the limit."""
        assert self.per_second is not None
        self._set(
            raised_pace(self.per_second, self._step, self._lift_at, self.ceiling), lowered=False
        )

    def _cut_pace(self, hold: float, reason: str) -> None:
        """A fresh throttle: halve the pace (the first time, the rate just observed)."""
        self._cut += 1
        self._sent_since_cut = 0
        if self.per_second is None:
            base = first_base(self._observed_rate(), self.ceiling)
            self._lift_at = base
        else:
            base = self.per_second
        lowered, self._step = lowered_pace(base, self.floor)
        self._forget_old_tickets()
        self._set(lowered, lowered=True, reason=reason)

    def _observed_rate(self) -> float | None:
        """What the provider just accepted per second (or, if none yet, was handed)."""
        return self._rate(self._accepted) or self._rate(self._handed, _MIN_HANDED_SPAN)

    def _forget_old_tickets(self) -> None:
        self._tickets = {m: c for m, c in self._tickets.items() if c >= self._cut - 1}

    # -- inside -------------------------------------------------------------------------

    def _observe(self, times: deque[float]) -> None:
        now = self._clock()
        times.append(now)
        while now - times[0] > _OBSERVE_SECONDS:
            times.popleft()

    def _rate(self, times: deque[float], min_span: float = _MIN_SPAN) -> float | None:
        now = self._clock()
        while times and now - times[0] > _OBSERVE_SECONDS:
            times.popleft()
        if not times:
            return None
        return len(times) / max(now - times[0], min_span)

    def _set(self, per_second: float | None, *, lowered: bool, reason: str | None = None) -> None:
        previous = self.per_second
        if per_second == previous:
            return
        self.per_second = per_second
        if per_second is None:
            self._bucket = None
        else:
            self.lowest = per_second if self.lowest is None else min(self.lowest, per_second)
            rate, burst = Rate(per_second, 1.0), max(1.0, per_second * _BURST_SECONDS)
            if lowered or self._bucket is None:
                # Empty after a cut: the next message waits a full interval at the new
                # pace, so it is not refused in the same window of the relay's limit and
                # taken for a fresh signal (which would halve the pace again at once).
                self._bucket = TokenBucket(rate, clock=self._clock, burst=burst, full=False)
            else:
                self._bucket.change_rate(rate, burst=burst)
        self._report(previous, lowered=lowered, reason=reason)

    def _report(self, previous: float | None, *, lowered: bool, reason: str | None) -> None:
        """Log the new pace and tell `on_change`; raises at most every few seconds."""
        per_second = self.per_second
        now = self._clock()
        if not lowered and per_second is not None and now - self._last_report < _REPORT_EVERY:
            return
        self._last_report = now
        change = PaceChange(self.label, per_second, previous, lowered=lowered, reason=reason)
        if lowered:
            log.warning("%s", change, extra={"pace_per_second": round(per_second or 0, 4)})
        else:
            log.info("%s", change, extra={"pace_per_second": per_second and round(per_second, 4)})
        if self.on_change is not None:
            self.on_change(change)
