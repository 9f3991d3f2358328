"""The adaptive pace of a provider, shared by every worker (outbox/provider_pace.py).

A relay's limit and SendGrid's account limit are the provider's, so when one
worker is throttled the others must slow down too, and the pace must climb back
for all of them together. This is AdaptivePace (throttle.py) with its two moves
made on the provider's row instead of in memory:

- A cut is written at once, in a transaction of its own, with the hold the reply
  asked for: every worker's next claim gets no turn before the hold ends, then
  turns at the new pace. The row counts cuts, so a throttle that another worker's
  cut already answered (the same burst, met by two workers) cuts nothing.
  The first cut halves what this worker saw accepted times the workers
  registered: a guess at what they all sent together, capped by `worker.rate`.
- Raises ride on the next claim (`pending_change`): each run of successes, at any
  worker, adds one step, so the recovery is shared and as quick as with one worker.

The turns themselves are the claim's (the shared bucket in provider_pace.py); the
local token bucket of AdaptivePace is not used. Whatever the claims read is taken
up here (`adopt`), so this worker's tickets and reports follow the shared pace.
A lost database connection leaves the cut in memory for this worker alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.outbox.provider_pace import PaceChanger, PaceState
from capitolmail.sending.throttle import (
    FLOOR,
    AdaptivePace,
    PaceChange,
    first_base,
    format_pace,
    lowered_pace,
    raised_pace,
)
from capitolmail.timing.rate import Rate

log = logging.getLogger("capitolmail.sender")

# Apply `change` to the provider's row and hold its turns `hold` seconds; None when
# the store cannot be reached.
Publish = Callable[[PaceChanger, float], PaceState | None]


class SharedPace(AdaptivePace):
    """An AdaptivePace whose cuts and raises every worker of the provider shares."""

    def __init__(
        self,
        ceiling: Rate | None,
        *,
        publish: Publish,
        lift: Callable[[], bool],
        label: str = "relay",
        on_change: Callable[[PaceChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        floor: float = FLOOR,
    ) -> None:
        super().__init__(ceiling, label=label, on_change=on_change, clock=clock, floor=floor)
        self._publish = publish
        self._lift = lift
        self._raises = 0  # raises earned since the last claim took them
        self._raises_cut = 0  # the cut they were earned under
        self._raised = False  # a claim of this worker's just applied its raises

    # -- the turns are the claim's ------------------------------------------------------

    def take_up_to(self, wanted: int) -> int:
        return wanted

    def refund(self, count: int) -> None:
        """Nothing to give back: a claim takes from the shared bucket only what it claims."""

    def wait_time(self) -> float:
        return 0.0

    # -- what the claims carry and bring back -------------------------------------------

    def pending_change(self) -> PaceChanger | None:
        """The raises earned since the last claim, for the next claim to apply under lock.

        A raise earned before a cut (by any worker) is dropped: the cut is the news.
        """
        if not self._raises:
            return None
        count, seen, ceiling = self._raises, self._raises_cut, self.ceiling
        self._raises = 0

        def raise_pace(state: PaceState) -> PaceState:
            if state.per_second is None or state.cut != seen:
                return state
            self._raised = True
            per_second: float | None = state.per_second
            for _ in range(count):
                assert per_second is not None
                per_second = raised_pace(per_second, state.step, state.lift_at, ceiling)
                if per_second is None:
                    return replace(state, per_second=None, lift_at=None)
            return replace(state, per_second=per_second)

        return raise_pace

    def adopt(self, state: PaceState, *, reason: str | None = None) -> None:
        """Go on at the shared pace; `reason` when it was this worker's own cut.

        Only the worker that moved the pace reports it (logs it, notes it for the
        jobs' history): the others log that they follow.
        """
        ours, self._raised = reason is not None or self._raised, False
        if state.cut > self._cut:
            self._sent_since_cut = 0
        self._cut, self._step, self._lift_at = state.cut, state.step, state.lift_at
        if state.per_second == self.per_second:
            return
        previous, self.per_second = self.per_second, state.per_second
        if self.per_second is not None:
            self.lowest = min(self.lowest or self.per_second, self.per_second)
        lowered = self.per_second is not None and (previous is None or self.per_second < previous)
        if ours:
            self._report(previous, lowered=lowered, reason=reason)
        else:
            shown = "not limited" if self.per_second is None else format_pace(self.per_second)
            log.info("%s throttling: pace %s, as another worker set it", self.label, shown)

    def finish(self) -> None:
        """The last worker to stop lifts the pace; with others running it stays theirs."""
        if self.per_second is None:
            return
        if self._lift():
            super().finish()
        else:
            self.per_second = None

    # -- the two moves, on the provider's row -------------------------------------------

    def _raise_pace(self) -> None:
        if self._raises and self._raises_cut != self._cut:
            self._raises = 0
        self._raises += 1
        self._raises_cut = self._cut

    def _cut_pace(self, hold: float, reason: str) -> None:
        seen, ceiling, floor = self._cut, self.ceiling, self.floor
        observed = self._observed_rate()
        ours: list[bool] = []

        def cut(state: PaceState) -> PaceState:
            ours.clear()
            if state.cut != seen:
                return state  # another worker's cut answered this throttle already
            if state.per_second is None:
                base = first_base(observed and observed * state.workers, ceiling)
                lift_at: float | None = base
            else:
                base, lift_at = state.per_second, state.lift_at
            lowered, step = lowered_pace(base, floor)
            ours.append(True)
            return PaceState(lowered, state.cut + 1, step, lift_at, state.workers)

        shared = self._publish(cut, hold)
        if shared is None:  # the store is unreachable: slow this worker down at least
            local = PaceState(self.per_second, self._cut, self._step, self._lift_at)
            shared = cut(replace(local, workers=1))
        self._raises = 0
        self.adopt(shared, reason=reason if ours else None)
        self._forget_old_tickets()


def provider_pace(
    store: Store,
    provider: str,
    worker_id: str,
    clock: Callable[[], datetime],
    ceiling: Rate | None,
    *,
    label: str,
    on_change: Callable[[PaceChange], None],
) -> SharedPace:
    """The shared pace of `provider` for one worker's send loop, written through `store`."""

    def publish(change: PaceChanger, hold: float) -> PaceState | None:
        now = clock()
        try:
            return store.change_pace(provider, change, now, now + timedelta(seconds=hold))
        except StoreError as err:
            log.warning("could not share the pace with the other workers: %s", err)
            return None

    def lift() -> bool:
        try:
            return store.lift_pace(provider, worker_id, clock())
        except StoreError as err:
            log.warning("could not lift the shared pace: %s", err)
            return True  # this worker is done with it either way

    return SharedPace(ceiling, publish=publish, lift=lift, label=label, on_change=on_change)
