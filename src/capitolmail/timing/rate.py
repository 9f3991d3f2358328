"""Send rates ("120/min", "10/s") and the token bucket that enforces them.

A leaf module: config validates rates with it, the CLI parses `--rate` with it,
and the sender paces itself with it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
}
_PATTERN = re.compile(r"^\s*(\d{1,15}(?:\.\d{1,15})?)\s*/\s*([a-z]+)\s*$")
# A stored rate is read back from str(Rate), whose "%g" turns counts outside these
# bounds into "1e+26/s", which is not a rate: a job sent with one never started.
MIN_COUNT, MAX_COUNT = 0.001, 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` messages per `seconds`."""

    count: float
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "hour"}.get(self.seconds, f"{self.seconds:g}s")
        return f"{self.count:g}/{unit}"


def parse_rate(text: str) -> Rate:
    """'120/min' -> Rate(120, 60). Raises ValueError with the accepted forms."""
    match = _PATTERN.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f'"{text}" is not a rate; write it like "120/min" or "10/s"')
    count = float(match.group(1))
    if count <= 0:
        raise ValueError(f'"{text}" is not a rate; the count must be above zero')
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise ValueError(
            f'"{text}" is out of range; the count must be from {MIN_COUNT:g} to {MAX_COUNT:g}'
        )
    seconds = _UNITS[match.group(2)]
    return Rate(count, seconds)


# Float rounding (0.2 s * 5 = 1.0000000000000002) must not leave a token a hair
# short forever.
_ROUNDING = 1e-9


class TokenBucket:
    """Allows `rate` on average with bursts of at most `burst`; thread-safe.

    The burst is small (one second's worth, at least 1) so a paused-then-resumed
    job does not fire a large volley at a Hill office's mail server; `burst`
    makes it smaller still (the adaptive pace in sending/throttle.py keeps it near one).
    """

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst: float | None = None,
        full: bool = True,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, rate.per_second if burst is None else burst)
        self._tokens = self.burst if full else 0.0
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate.per_second)
        self._last = now

    def change_rate(self, rate: Rate, *, burst: float | None = None) -> None:
        """Go on at `rate`, keeping the tokens saved so far (up to the new burst)."""
        with self._lock:
            self._refill()
            self.rate = rate
            self.burst = max(1.0, rate.per_second if burst is None else burst)
            self._tokens = min(self._tokens, self.burst)

    def wait_time(self) -> float:
        """Seconds until a token is free (0 if one is free now); takes nothing."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _ROUNDING:
                return 0.0
            return (1 - self._tokens) / self.rate.per_second

    def take_up_to(self, wanted: int) -> int:
        """Take as many tokens as are free now, up to `wanted`, without waiting."""
        with self._lock:
            self._refill()
            taken = min(wanted, int(self._tokens + _ROUNDING))
            self._tokens = max(self._tokens - taken, 0.0)
            return taken

    def refund(self, count: int) -> None:
        """Return tokens taken for messages that turned out not to be there."""
        if count > 0:
            with self._lock:
                self._tokens = min(self.burst, self._tokens + count)

    def acquire(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until a token is taken; False if `should_stop` turned true meanwhile."""
        while not self.take_up_to(1):
            if should_stop():
                return False
            self._sleep(min(self.wait_time(), 0.2))
        return True
