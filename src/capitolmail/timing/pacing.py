"""A job's pace as one value: at most `rate`, only inside `window`, read in `zone`.

Parsed once at each edge: the command line's `--rate` and `--window`
(`PacingChange`), and the job's stored options, read by `Pacing.from_stored`,
the one reader of their JSON form ({"rate": "120/min", "window": "Mon-Fri
09:00-17:00", "timezone": "America/New_York"}) for the store, `status` and
`send` alike. Everything after works on the parsed value.

The stored form stays text, as earlier versions wrote it, so jobs queued before
keep their pace. A stored value that is not text (an option some other caller
stored) is not a pace and is ignored, as the store's claim always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from capitolmail.timing.rate import Rate, parse_rate
from capitolmail.timing.windows import SendWindow

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Pacing:
    """No rate and no window: send as fast as the worker may, at any hour."""

    rate: Rate | None = None
    window: SendWindow | None = None
    zone: ZoneInfo = UTC_ZONE

    @staticmethod
    def from_stored(options: Mapping[str, Any] | None) -> Pacing:
        """The pace a job's stored options describe."""
        options = options or {}
        rate, window, zone = options.get("rate"), options.get("window"), options.get("timezone")
        return _parsed(
            rate if isinstance(rate, str) else None,
            window if isinstance(window, str) else None,
            zone if isinstance(zone, str) and zone else "UTC",
        )

    def is_open(self, now: datetime) -> bool:
        """Whether the job may send now: always, unless its window is closed."""
        return self.window is None or self.window.contains(now, self.zone)

    def next_open(self, at: datetime) -> datetime | None:
        """When the window next opens from `at` (`at` itself inside it); None: no window."""
        return None if self.window is None else self.window.next_open(at, self.zone)

    def window_text(self) -> str | None:
        """'Mon-Fri 09:00-17:00 America/New_York', or None without a window."""
        if self.window is None:
            return None
        return f"{self.window} {self.zone.key}"


@lru_cache(maxsize=64)
def _parsed(rate: str | None, window: str | None, zone: str) -> Pacing:
    # Parsed once per stored form: the store reads it at every claim, many a second.
    return Pacing(
        parse_rate(rate) if rate else None,
        SendWindow.parse(window) if window else None,
        ZoneInfo(zone),
    )


@dataclass(frozen=True, slots=True)
class PacingChange:
    """What `send --rate/--window` changes: a part left None stays as the job has it.

    `clear_window` removes the window ("always"); a new `window` is read in `zone`,
    the workspace's time zone when it was given.
    """

    rate: Rate | None = None
    window: SendWindow | None = None
    clear_window: bool = False
    zone: ZoneInfo = UTC_ZONE

    def stored(self) -> dict[str, str | None]:
        """The job options to merge in (None removes one); empty when nothing changes."""
        options: dict[str, str | None] = {}
        if self.rate is not None:
            options["rate"] = str(self.rate)
        if self.window is not None:
            options["window"] = str(self.window)
            options["timezone"] = self.zone.key
        elif self.clear_window:
            options["window"] = options["timezone"] = None
        return options
