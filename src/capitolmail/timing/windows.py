"""Weekly send windows ("Mon-Fri 09:00-17:00"): when a job may send, in its own zone.

A value like `Rate`: config validates a window with `SendWindow.parse`, the store asks
it whether a job may send now and when it next opens. Window edges become instants
through when.py's daylight-saving rules (`wall_edge`): an edge in the spring-forward gap
moves to the jump, an edge in the repeated hour is its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from capitolmail.errors import did_you_mean
from capitolmail.timing.when import DAY_ABBREVIATIONS, aware_utc, describe_instant, wall_edge

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_GROUPS = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset((5, 6)),
}

_WINDOW_CLOCK = r"\d{1,2}(?::\d{2})?\s*(?:am|pm)?"
_WINDOW = re.compile(
    rf"^(?P<days>.+?)\s+(?P<start>{_WINDOW_CLOCK})\s*[-–]\s*(?P<end>{_WINDOW_CLOCK})$",
    re.IGNORECASE,
)
_WINDOW_TIME = re.compile(
    r"^(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<meridiem>am|pm)?$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Days of the week (0 = Monday, as `date.weekday()`) and a start and end time.

    The times are wall-clock times in whatever zone the caller passes, start inclusive and
    end exclusive, on the same day: a window crossing midnight is refused rather than
    read as two half-windows on different days, which would make "Fri 22:00-02:00"
    silently send on Saturday morning.
    """

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"a send window needs days from 0 (Monday) to 6, got {self.days}")
        if self.end <= self.start:
            raise ValueError(f"a send window must end after it starts, got {self.start}-{self.end}")

    @classmethod
    def parse(cls, spec: str) -> SendWindow:
        """'Mon-Fri 09:00-17:00' -> SendWindow. Raises ValueError with the accepted forms."""
        examples = 'write it like "Mon-Fri 09:00-17:00" or "daily 08:00-20:00"'
        match = _WINDOW.match(spec.strip())
        if not match:
            raise ValueError(f'"{spec}" is not a send window; {examples}')
        days = _parse_days(spec, match["days"])
        start = _parse_window_clock(spec, match["start"], examples)
        end = _parse_window_clock(spec, match["end"], examples)
        if end == start:
            raise ValueError(f'"{spec}" opens and closes at {start:%H:%M}; end it later')
        if end < start:
            until = ' (to send until midnight, end at "23:59")' if end == time(0) else ""
            raise ValueError(
                f'"{spec}" ends at {end:%H:%M}, before it starts at {start:%H:%M}; '
                f"send windows cannot cross midnight{until}"
            )
        return cls(days, start, end)

    def __str__(self) -> str:
        return f"{_days_text(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, at: datetime, zone: ZoneInfo) -> bool:
        return self._period_around(at, zone) is not None

    def next_open(self, at: datetime, zone: ZoneInfo) -> datetime:
        """`at` itself when inside the window, else the instant it next opens, in `zone`.

        An open day always comes within a week, so the answer is at most 8 days ahead,
        unless that day's window lies wholly in the hour the clocks skip ("Sun 02:10-02:50"
        on a spring-forward Sunday); then it is the same day a week later.
        """
        at_utc = aware_utc(at, "at")
        for opens, closes in self._periods(at_utc, zone):
            if opens <= at_utc < closes:
                return at
            if opens > at_utc:
                return opens.astimezone(zone)
        raise AssertionError(f"{self} never opens")  # pragma: no cover - some day is open

    def closes_at(self, at: datetime, zone: ZoneInfo) -> datetime:
        """When the open period containing `at` ends, in `zone`; ValueError when outside."""
        period = self._period_around(at, zone)
        if period is None:
            raise ValueError(f"{describe_instant(at, zone)} is outside the send window {self}")
        return period[1].astimezone(zone)

    def _period_around(self, at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        at_utc = aware_utc(at, "at")
        for opens, closes in self._periods(at_utc, zone):
            if opens <= at_utc < closes:
                return opens, closes
            if opens > at_utc:
                return None
        return None  # pragma: no cover - _periods runs two weeks past `at`

    def _periods(self, at_utc: datetime, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
        """Open periods as UTC instants, day by day, from the day before `at`'s local date.

        Each day's edges are converted on their own date, so a period is 8 hours of wall
        clock even on the Monday after a change. The day before is included because a
        gap or repeated hour near midnight can move an edge across a date in some zones.
        A period whose start and end both fall in one gap is empty and skipped; two weeks
        ahead is always enough, since no zone skips the same hour two weeks running.
        """
        first = at_utc.astimezone(zone).date() - timedelta(days=1)
        for offset in range(16):
            day = first + timedelta(days=offset)
            if day.weekday() in self.days:
                opens = wall_edge(datetime.combine(day, self.start), zone)
                closes = wall_edge(datetime.combine(day, self.end), zone)
                if opens < closes:
                    yield opens, closes


def _parse_days(spec: str, words: str) -> frozenset[int]:
    """'mon-fri', 'mon,wed,fri', 'fri-mon' (wrapping through the weekend), 'daily'."""
    days: set[int] = set()
    for item in (part.strip() for part in words.split(",")):
        if item.lower() in _DAY_GROUPS:
            days |= _DAY_GROUPS[item.lower()]
            continue
        first, dash, last = (piece.strip() for piece in item.partition("-"))
        start = _parse_day(spec, first)
        end = _parse_day(spec, last) if dash else start
        days.update((start + step) % 7 for step in range((end - start) % 7 + 1))
    return frozenset(days)


def _parse_day(spec: str, word: str) -> int:
    """A day's full name or any prefix of it from three letters on ('thu', 'thurs')."""
    for number, name in enumerate(_DAY_NAMES):
        if len(word) >= 3 and name.startswith(word.lower()):
            return number
    hint = did_you_mean(word, (*(name.title() for name in _DAY_NAMES), *_DAY_GROUPS))
    raise ValueError(
        f'"{spec}": "{word}" is not a day{hint}; use Mon to Sun, ranges like "Mon-Fri", '
        'lists like "Mon,Wed,Fri", "daily", "weekdays" or "weekends"'
    )


def _parse_window_clock(spec: str, text: str, examples: str) -> time:
    match = _WINDOW_TIME.match(text)
    if not match or (match["minute"] is None and match["meridiem"] is None):
        raise ValueError(f'"{spec}": "{text}" is not a time of day; {examples}')
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["meridiem"]:
        if not 1 <= hour <= 12:
            raise ValueError(f'"{spec}": with am/pm the hour runs 1-12; {examples}')
        hour = hour % 12 + (12 if match["meridiem"].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(f'"{spec}": "{text}" is not a time of day; {examples}')
    return time(hour, minute)


def _days_text(days: frozenset[int]) -> str:
    """Runs of days on the circular week, each from a day whose eve is not in the set, so
    'Fri-Mon' stays 'Fri-Mon' rather than becoming 'Mon,Fri-Sun'."""
    if len(days) == 7:
        return "daily"
    parts = []
    for start in sorted(day for day in days if (day - 1) % 7 not in days):
        end = start
        while (end + 1) % 7 in days:
            end = (end + 1) % 7
        name = DAY_ABBREVIATIONS[start]
        parts.append(name if end == start else f"{name}-{DAY_ABBREVIATIONS[end]}")
    return ",".join(parts)
