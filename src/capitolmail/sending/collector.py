"""Python's cycle collector, set once per process for a send loop's steady allocation.

A send allocates some thirty tracked containers (aiohttp's request and response,
futures, rows, dicts) that live as long as the request, ~60 ms. With the default
threshold of 700 a young collection ran every ~25 SendGrid messages and moved
what was in flight into the older generations, whose collections then scanned
everything the process had made before sending too (SQLAlchemy, pydantic,
Jinja, aiohttp: a few hundred thousand objects): 30-40 ms a full collection,
4-12 % of a run at 128-256 requests in flight, each a pause in which no reply
was read and no mark committed (benchmarks/send.py). So the first send loop of
a process:

* collects once and freezes what survives (`gc.freeze`): imports and settings
  live as long as the process, and the collector stops scanning them. Frozen
  objects are still freed by their reference counts; only a cycle among them
  that is dropped later is never reclaimed, and such objects are few.
* raises the young generation's threshold to 10,000, so most of a send's
  containers are freed by their reference counts before any collection looks
  at them; a young collection then costs ~2 ms every few hundred messages.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 10_000
_settled = False
_lock = threading.Lock()


def settle_for_sending() -> None:
    """Freeze what the process made before its first send loop and raise the young
    threshold. Later calls do nothing: what a worker holds between two send loops
    does not live as long as the process, and frozen, a cycle among it would never
    be reclaimed."""
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
        gc.collect()
        gc.freeze()
        young, middle, old = gc.get_threshold()
        gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, old)
