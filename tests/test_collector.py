"""The cycle collector is set once per process for sending (sending/collector.py)."""

from __future__ import annotations

import gc

from capitolmail.sending.collector import YOUNG_THRESHOLD, settle_for_sending


def test_the_first_send_loop_freezes_what_came_before_and_later_ones_freeze_nothing() -> None:
    settle_for_sending()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
    held = [[n] for n in range(1000)]  # a worker's state between two send loops
    settle_for_sending()
    assert gc.get_freeze_count() == frozen, "a second send loop froze what the worker holds"
    assert len(held) == 1000
