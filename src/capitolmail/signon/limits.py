"""How many signatures one client address may submit in an hour, per process.

Kept in memory: an address is personal data the store has no reason to keep, and the
limit only needs to slow a script down. The per-letter limit, which must hold across
several `serve` processes, counts rows in the store instead (signatures_since).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)
# Bounds the memory a flood of distinct addresses can take.
MAX_TRACKED = 10_000


class AddressLimiter:
    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._seen: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str, now: datetime) -> bool:
        """Count one submission from `address` and say whether it is within the limit."""
        with self._lock:
            times = self._seen.setdefault(address, deque())
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(times) >= self.per_hour:
                return False
            times.append(now)
            if len(self._seen) > MAX_TRACKED:
                self._forget(now)
            return True

    def _forget(self, now: datetime) -> None:
        stale = [key for key, times in self._seen.items() if not times or times[-1] <= now - WINDOW]
        for key in stale:
            del self._seen[key]
        while len(self._seen) > MAX_TRACKED:
            del self._seen[next(iter(self._seen))]
