"""The adaptive pace on its own, with a clock the test moves: AIMD, once per cut, floored."""

from __future__ import annotations

import pytest

from capitolmail.sending.throttle import (
    FLOOR,
    INCREASE_AFTER,
    AdaptivePace,
    PaceChange,
    format_pace,
)
from capitolmail.timing.rate import Rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pace(ceiling: Rate | None = None) -> tuple[AdaptivePace, Clock, list[PaceChange]]:
    clock, changes = Clock(), []
    pace = AdaptivePace(ceiling, clock=clock, on_change=changes.append)
    return pace, clock, changes


def _send(pace: AdaptivePace, clock: Clock, ids: range, *, every: float = 0.01) -> None:
    for n in ids:
        pace.handing_over(f"m{n}")
        clock.now += every
        pace.succeeded(f"m{n}")


def test_uncapped_until_throttled_then_half_the_rate_the_relay_accepted() -> None:
    pace, clock, changes = _pace()
    assert pace.take_up_to(50) == 50 and pace.per_second is None
    _send(pace, clock, range(20), every=0.1)  # 10 a second accepted
    pace.handing_over("m20")
    pace.throttled("m20", hold=1.0, reason="450 4.7.1 too much mail")
    assert pace.per_second == pytest.approx(5.0, rel=0.15)
    assert str(changes[-1]) == (
        f"relay throttling: pace lowered to {format_pace(pace.per_second)}: 450 4.7.1 too much mail"
    )
    # Empty after the cut: the next message waits a whole interval at the new pace.
    assert pace.take_up_to(5) == 0
    assert pace.wait_time() == pytest.approx(1 / pace.per_second)


def test_a_burst_of_refusals_from_before_the_cut_halves_the_pace_once() -> None:
    pace, clock, _ = _pace()
    _send(pace, clock, range(10), every=0.1)
    for n in range(10, 26):  # 16 in flight when the relay's limit hit
        pace.handing_over(f"m{n}")
    for n in range(10, 26):
        pace.throttled(f"m{n}", hold=0.5, reason="450 4.7.1")
    first = pace.per_second
    assert first == pytest.approx(5.0, rel=0.15)
    # A message handed over after the cut and refused too: the pace is still too high.
    clock.now += 1
    pace.handing_over("m10")
    pace.throttled("m10", hold=0.5, reason="450 4.7.1")
    assert pace.per_second == pytest.approx(first / 2)


def test_a_first_burst_refused_before_any_success_reads_as_threads_per_second() -> None:
    # Every thread takes a message at once; the relay refuses at RCPT, which comes back
    # before any success does (a success waits for its hand-over mark before DATA).
    pace, clock, _ = _pace()
    for n in range(16):
        pace.handing_over(f"m{n}")
    clock.now += 0.005
    for n in range(3, 16):
        pace.throttled(f"m{n}", hold=0.5, reason="450 4.7.1")
    # 16 in flight, read per second (not per 0.1 s, 160 a second): halved to 8.
    assert pace.per_second == pytest.approx(8.0)


def test_one_recipient_deferred_again_and_again_does_not_drag_the_pace_down() -> None:
    pace, clock, _ = _pace()
    _send(pace, clock, range(10), every=0.1)
    pace.handing_over("stubborn")
    pace.throttled("stubborn", hold=0.5, reason="450 4.7.1 try again later")
    lowered = pace.per_second
    for round_ in range(5):
        _send(pace, clock, range(100 + 3 * round_, 103 + 3 * round_), every=0.5)
        pace.handing_over("stubborn")
        pace.throttled("stubborn", hold=0.5, reason="450 4.7.1 try again later")
    assert pace.per_second is not None and pace.per_second >= lowered


def test_additive_increase_after_a_run_of_successes_then_the_cap_is_lifted() -> None:
    pace, clock, changes = _pace()
    _send(pace, clock, range(20), every=0.1)
    pace.handing_over("x")
    pace.throttled("x", hold=0.1, reason="421")
    cut = pace.per_second
    assert cut is not None
    _send(pace, clock, range(100, 100 + INCREASE_AFTER), every=1.0)
    assert pace.per_second == pytest.approx(cut * 1.1)
    # Back at the rate that drew the throttle, the cap goes.
    _send(pace, clock, range(200, 200 + 9 * INCREASE_AFTER), every=1.0)
    assert pace.per_second is None
    assert pace.take_up_to(40) == 40
    assert str(changes[-1]) == "relay throttling eased: pace no longer limited"


def test_never_below_one_message_a_minute() -> None:
    pace, clock, _ = _pace()
    for n in range(40):
        clock.now += 120
        pace.handing_over(f"m{n}")
        pace.throttled(f"m{n}", hold=1.0, reason="450 4.7.1")
    assert pace.per_second == FLOOR
    assert format_pace(FLOOR) == "0.017 msg/s (1/min)"


def test_the_workers_rate_is_the_ceiling() -> None:
    pace, clock, _ = _pace(Rate(2, 1))
    _send(pace, clock, range(50), every=0.01)  # handed over faster than the worker's rate
    pace.handing_over("x")
    pace.throttled("x", hold=0.1, reason="429")
    assert pace.per_second == pytest.approx(1.0)


def test_worker_once_waits_for_throttled_messages_until_they_are_claimed_or_stale() -> None:
    pace, clock, _ = _pace()
    assert pace.pending_wait() is None
    pace.handing_over("a")
    pace.throttled("a", hold=3.0, reason="450 4.7.1")
    assert pace.pending_wait() == pytest.approx(3.0)
    pace.handing_over("a")  # claimed again: nothing to wait for
    assert pace.pending_wait() is None
    pace.throttled("a", hold=1.0, reason="450 4.7.1")
    clock.now += 10  # never claimed again (paused, cancelled, another worker's now)
    assert pace.pending_wait() is None


def test_finish_drops_the_cap_and_says_the_worker_stopped() -> None:
    pace, clock, changes = _pace()
    _send(pace, clock, range(5))
    pace.handing_over("x")
    pace.throttled("x", hold=0.1, reason="450 4.7.1")
    pace.finish()
    assert pace.per_second is None
    assert changes[-1].ended and changes[-1].per_second is None


def test_paces_read_as_staff_read_them() -> None:
    assert format_pace(1 / 6) == "0.17 msg/s (10/min)"
    assert format_pace(2.5) == "2.5 msg/s"
    assert format_pace(40) == "40 msg/s"
