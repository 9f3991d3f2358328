"""Which Congress is in session, and which one a legislators snapshot describes.

The 20th Amendment starts each Congress at noon on January 3 of an odd year
(the 1st Congress first met in 1789; numbering counts two-year terms from
there). A snapshot that describes an earlier Congress than today's sends letters
to members who may have left and misses every new one, so `letters check` and
`legislators list` say so (`stale_data_warning`). Dates are compared by day:
on January 3 itself the new Congress is taken to be in session.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capitolmail.recipients.legislators import Roster

FIRST_CONGRESS_YEAR = 1789


def congress_on(day: date) -> int:
    """The number of the Congress in session on `day` (119 for 2025-01-03 to 2027-01-02)."""
    year = day.year
    # The latest odd year whose January 3 is not after `day`.
    if year % 2 == 0:
        return congress_on(date(year - 1, 12, 31))
    start = year if day >= date(year, 1, 3) else year - 2
    return (start - FIRST_CONGRESS_YEAR) // 2 + 1


def congress_start(number: int) -> date:
    """January 3 of the Congress's first year (the 120th: 2027-01-03)."""
    return date(FIRST_CONGRESS_YEAR + 2 * (number - 1), 1, 3)


def ordinal(number: int) -> str:
    """119 → "119th", 121 → "121st", 112 → "112th"."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def data_congress(roster: Roster) -> int | None:
    """The Congress the snapshot describes, read from the data itself.

    A representative's current term is one Congress long and ends when it does,
    so the commonest House term end names it (2027-01-03 → the 119th). Without
    representatives (a hand-made file) the newest term start says which Congress
    was in session when the data was taken. None when no term has a usable date.
    """
    ends: Counter[int] = Counter()
    starts: list[date] = []
    for legislator in roster:
        end, start = _day(legislator.term_end), _day(legislator.term_start)
        if legislator.chamber == "house" and end is not None:
            ends[congress_on(end) - 1] += 1
        if start is not None:
            starts.append(start)
    if ends:
        return ends.most_common(1)[0][0]
    return congress_on(max(starts)) if starts else None


def newest_term_start(roster: Roster) -> date | None:
    """The latest term start in the data: the snapshot is at least as new as this."""
    starts = [day for leg in roster if (day := _day(leg.term_start)) is not None]
    return max(starts) if starts else None


def stale_data_warning(roster: Roster, today: date) -> str | None:
    """One line when the data describes a Congress before the one in session, else None."""
    described = data_congress(roster)
    current = congress_on(today)
    if described is None or described >= current:
        return None
    newest = newest_term_start(roster)
    as_of = f"newest term start {newest.isoformat()}" if newest else "no term dates"
    if roster.imported_on is not None:
        as_of = f"imported {roster.imported_on.isoformat()}, {as_of}"
    return (
        f"Warning: the legislators data ({roster.source}; {as_of}) is of the "
        f"{ordinal(described)} Congress, but the {ordinal(current)} has been in session "
        f"since {congress_start(current).isoformat()}; members who left are still in it "
        "and new members are missing. Update it: capitolmail legislators import "
        "PATH-TO-congress-legislators"
    )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None
