"""When to send: `--at WHEN` ("2026-12-01 09:00"), and the daylight-saving rules that
turn wall-clock times into instants for it and for send windows (windows.py).

Pure functions like rate.py's: the CLI parses `--at` with them. Every datetime in and
out is aware; parse errors are `ValueError`s whose text is the one line the user reads,
as `parse_rate`'s are, so a click `ParamType` or a pydantic validator can pass them on
unchanged.

Daylight saving breaks wall-clock times in two ways, and each has one rule here:

- A time that never happens (the spring-forward gap: 02:30 on 2027-03-14 in New York).
  `parse_when` refuses it and names the time it would have meant, because a letter that
  lands an hour off on a vote day is worse than retyping a command. A window edge in the
  gap moves to the moment the clocks jump (03:00 EDT), the first instant after it that
  exists, so a window never silently loses more than the hour that does not exist.
- A time that happens twice (the fall-back hour: 01:30 on 2026-11-01 in New York). The
  first occurrence (PEP 495's fold=0), for `parse_when` and for window edges alike.

Wall times become instants through zoneinfo's offsets for that very date, never by adding
24-hour steps in UTC, and instants are compared in UTC: datetimes sharing a tzinfo compare
by wall time and ignore fold, so two instants an hour apart in the repeated hour would
otherwise compare equal.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBREVIATIONS = (
    *("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
    *("Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
)

_CLOCK = (
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?)?"
    r"\s*(?P<meridiem>am|pm)?"
)
_WHEN = re.compile(
    r"^(?:(?P<date>\d{4}-\d{2}-\d{2})(?:t|\s+)|(?P<relative>today|tomorrow)\s+)?"
    + _CLOCK
    + r"\s*(?P<offset>z|utc|[+-]\d{2}(?::?\d{2})?)?$"
)


# --- wall time to instants -------------------------------------------------------------


def _offsets(wall: datetime, zone: ZoneInfo) -> tuple[timedelta, timedelta]:
    """The UTC offsets zoneinfo gives `wall` with fold=0 and fold=1.

    Equal: the time happens once. First larger: it happens twice (the fall-back hour).
    First smaller: it never happens (the spring-forward gap), per PEP 495.
    """
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    if first is None or second is None:  # pragma: no cover - ZoneInfo always answers
        raise ValueError(f"{zone} gives no UTC offset for {wall}")
    return first, second


def _occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the clocks in `zone` read `wall`, earliest first."""
    first, second = _offsets(wall, zone)
    if first < second:
        return []
    instants = [(wall - first).replace(tzinfo=UTC)]
    if first > second:
        instants.append((wall - second).replace(tzinfo=UTC))
    return instants


def _jump(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the clocks jump over the gap that `wall` falls in.

    zoneinfo does not expose its transitions, so this bisects whole seconds between two
    instants known to lie either side of the jump (tzdata transitions are whole seconds).
    """
    before, after = _offsets(wall, zone)
    low = math.floor((wall - after).replace(tzinfo=UTC).timestamp())  # still `before` here
    high = math.ceil((wall - before).replace(tzinfo=UTC).timestamp())  # already `after`
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def wall_edge(wall: datetime, zone: ZoneInfo) -> datetime:
    """Where a window edge at `wall` falls: the first occurrence, or the jump in a gap."""
    occurrences = _occurrences(wall, zone)
    return occurrences[0] if occurrences else _jump(wall, zone)


def _clock_text(moment: datetime | time) -> str:
    return f"{moment:%H:%M:%S}" if moment.second or moment.microsecond else f"{moment:%H:%M}"


def _gap_error(text: str, wall: datetime, zone: ZoneInfo, *, dated: bool) -> ValueError:
    """Names the jump and the time the user probably meant: the same clock reading an
    offset-change later, which is what fold=0 arithmetic would have silently chosen."""
    before, _ = _offsets(wall, zone)
    jump = _jump(wall, zone)
    old_name = (jump - timedelta(seconds=1)).astimezone(zone).tzname()
    new = jump.astimezone(zone)
    meant = (wall - before).replace(tzinfo=UTC).astimezone(zone)
    shown = f'"{text}"' if dated else f'"{text}" ({wall:%Y-%m-%d} {_clock_text(wall)})'
    return ValueError(
        f"{shown} does not exist in {zone}: clocks jump from "
        f"{_clock_text(jump.replace(tzinfo=None) + before)} {old_name} to "
        f"{_clock_text(new)} {new.tzname()}; "
        f"did you mean {_clock_text(meant)} {meant.tzname()} ({meant.isoformat()})?"
    )


def aware_utc(value: datetime, name: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)


# --- --at WHEN -------------------------------------------------------------------------


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The instant `--at WHEN` names.

    With an offset ("2026-12-01T09:00:00-05:00", "2026-12-01T14:00Z") that instant, in
    the offset given. Without one ("2026-12-01 09:00", "2026-12-01 9am", "tomorrow 09:00")
    the wall time in `zone`, returned in `zone`; a repeated time is the first occurrence.
    A bare time ("09:00") is its next occurrence after `now`: today if still ahead, else
    tomorrow; in the fall-back hour that can be the second occurrence (fold=1), because
    the next time the clocks read 01:30 is what the user asked for.

    Past instants are returned, not refused: the caller decides what "too late" means.
    """
    now_utc = aware_utc(now, "now")
    examples = f'write it like "2026-12-01 09:00" (in {zone}) or "2026-12-01T14:00Z"'
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        raise ValueError(f'"{text}" has no time of day; {examples}')
    match = _WHEN.match(cleaned)
    if not match or (match["minute"] is None and match["meridiem"] is None):
        raise ValueError(f'"{text}" is not a date and time; {examples}')
    clock = _parse_clock(text, match, examples)

    if match["date"]:
        try:
            day = date.fromisoformat(match["date"])
        except ValueError as err:
            raise ValueError(f'"{text}": {match["date"]} is not a date ({err})') from None
        if match["offset"]:
            return datetime.combine(day, clock, tzinfo=_parse_offset(text, match["offset"]))
        wall = datetime.combine(day, clock)
        occurrences = _occurrences(wall, zone)
        if not occurrences:
            raise _gap_error(text, wall, zone, dated=True)
        return occurrences[0].astimezone(zone)

    if match["offset"]:
        raise ValueError(f'"{text}": give a date with an offset, like "2026-12-01T14:00Z"')
    today = now_utc.astimezone(zone).date()
    if match["relative"]:
        day = today + timedelta(days=1 if match["relative"] == "tomorrow" else 0)
        wall = datetime.combine(day, clock)
        occurrences = _occurrences(wall, zone)
        if not occurrences:
            raise _gap_error(text, wall, zone, dated=False)
        return occurrences[0].astimezone(zone)

    # A bare time: tomorrow's always lies ahead of `now`, so two days suffice.
    for day in (today, today + timedelta(days=1)):
        wall = datetime.combine(day, clock)
        occurrences = _occurrences(wall, zone)
        if not occurrences and _jump(wall, zone) > now_utc:
            raise _gap_error(text, wall, zone, dated=False)
        for instant in occurrences:
            if instant > now_utc:
                return instant.astimezone(zone)
    raise AssertionError("unreachable: tomorrow's time is always ahead")  # pragma: no cover


def _parse_clock(text: str, match: re.Match[str], examples: str) -> time:
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["meridiem"]:
        if not 1 <= hour <= 12:
            raise ValueError(f'"{text}": with am/pm the hour runs 1-12; {examples}')
        hour = hour % 12 + (12 if match["meridiem"] == "pm" else 0)
    elif hour > 23:
        raise ValueError(f'"{text}": the hour runs 00-23; {examples}')
    second = int(match["second"] or 0)
    if minute > 59 or second > 59:
        raise ValueError(f'"{text}": minutes and seconds run 00-59; {examples}')
    microsecond = int((match["fraction"] or "").ljust(6, "0"))
    return time(hour, minute, second, microsecond)


def _parse_offset(text: str, offset: str) -> timezone:
    if offset in ("z", "utc"):
        return UTC
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f'"{text}": {offset} is not a UTC offset; write it like -05:00')
    sign = -1 if offset.startswith("-") else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def is_ambiguous(local_naive: datetime, zone: ZoneInfo) -> bool:
    """True when the clocks in `zone` read `local_naive` twice (the fall-back hour).

    For input without an offset, `parse_when` returns a datetime whose tzinfo is `zone`;
    its `.replace(tzinfo=None)` is the wall time to pass here, and its `fold` says which
    occurrence was chosen (0, the first, unless a bare time's first had already passed).
    """
    if local_naive.tzinfo is not None:
        raise ValueError(f"is_ambiguous takes a naive wall time, got {local_naive!r}")
    return len(_occurrences(local_naive, zone)) == 2


def is_past(when: datetime, now: datetime) -> bool:
    """Compared in UTC, so an instant in the repeated hour is not mistaken for its twin."""
    return aware_utc(when, "when") < aware_utc(now, "now")


def describe_instant(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 1 Dec 2026 09:00 EST (14:00 UTC)': the local reading with its abbreviation,
    which tells the two 01:30s apart, and UTC for whoever reads the server's logs.

    Names are English whatever the locale, as the rest of the CLI's text is.
    """
    local, utc = moment.astimezone(zone), moment.astimezone(UTC)
    shown = f"{_date_text(local)} {_clock_text(local)} {local.tzname()}"
    if local.utcoffset() == timedelta(0) and local.tzname() == "UTC":
        return shown
    same_day = utc.date() == local.date()
    return f"{shown} ({_clock_text(utc)} UTC{'' if same_day else ' ' + _date_text(utc)})"


def _date_text(moment: datetime) -> str:
    weekday = DAY_ABBREVIATIONS[moment.weekday()]
    return f"{weekday} {moment.day} {_MONTH_ABBREVIATIONS[moment.month - 1]} {moment.year}"
