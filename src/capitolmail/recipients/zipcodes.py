"""ZIP code → congressional district, from the crosswalk shipped in recipients/data/zip-districts/.

A supporter gives a ZIP, not a district, so this is how an alert finds "your
representative". The crosswalk is built from Census ZIP Code Tabulation Areas and
is over-inclusive: a ZIP that touches several districts lists all of them, and
this module returns every candidate rather than guess one (the caller asks the
supporter, or names only the senators).

Conventions follow the congress-legislators data, so a result joins with
`terms[-1]`: at-large seats, DC and Puerto Rico are district 0. The Island Areas
(VI, GU, AS, MP) are missing from the crosswalk; each elects one at-large
Delegate, so their USPS ZIP ranges are mapped here to (territory, 0).

The table is loaded on first use and kept as three parallel arrays sorted by ZIP
(about 250 kB for 42,000 rows, against several MB as a dict of lists), searched
by bisection.
"""

from __future__ import annotations

import csv
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from importlib import resources

from capitolmail.errors import InvalidZip
from capitolmail.recipients.states import STATE_NAMES

CROSSWALK_FILE = "zccd.csv"
CROSSWALK_SOURCE = "packaged ZIP-to-district crosswalk (119th Congress)"

# Five digits, then optionally the +4 with or without a hyphen.
_ZIP = re.compile(r"(\d{5})(?:-?(\d{4}))?")
# Index in the arrays ↔ USPS code; stable because STATE_NAMES is a literal.
_CODES = tuple(STATE_NAMES)
_INDEX = {code: index for index, code in enumerate(_CODES)}

# USPS ZIP ranges of the Island Areas, which the Census crosswalk leaves out. Each
# territory is one at-large seat, so the ZIP alone settles the district. Nearby
# ranges belong to other countries (Palau 96939-96940, Micronesia 96941-96944,
# the Marshall Islands 96960 and 96970) or to the military (962xx-966xx).
TERRITORY_ZIPS: tuple[tuple[int, int, str], ...] = (
    (801, 851, "VI"),
    (96799, 96799, "AS"),
    (96910, 96932, "GU"),
    (96950, 96952, "MP"),
)


def parse_zip(text: str) -> str:
    """The five-digit ZIP of a ZIP or ZIP+4 ("20500-0003", "205000003"), as a string.

    Kept as text so leading zeros survive (02134). A four-digit value is refused
    with a hint rather than padded: it is usually a ZIP a spreadsheet read as a
    number, but it may as well be a typo, and a wrong district is worse than none.
    """
    value = text.strip()
    match = _ZIP.fullmatch(value)
    if match is None:
        if value.isdigit() and len(value) in (3, 4):
            raise InvalidZip(
                f'"{value}" is not a ZIP code: ZIPs have five digits (did a spreadsheet drop '
                f'leading zeros? write it as "{value.zfill(5)}" if that is the ZIP)'
            )
        raise InvalidZip(
            f'"{value}" is not a ZIP code; expected five digits or ZIP+4, such as 20500 or '
            "20500-0003"
        )
    return match.group(1)


@dataclass(frozen=True, slots=True)
class _Crosswalk:
    zips: array[int]  # sorted
    states: array[int]  # index into _CODES, parallel to zips
    districts: array[int]  # parallel to zips
    seats: dict[str, int]  # state → number of the highest district (0 for at-large)


_lock = threading.Lock()
_loaded: _Crosswalk | None = None


def _crosswalk() -> _Crosswalk:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load()
    return _loaded


def _load() -> _Crosswalk:
    data = resources.files("capitolmail.recipients") / "data" / "zip-districts" / CROSSWALK_FILE
    # One int per row while sorting (the file is ordered by state, not by ZIP).
    rows: list[int] = []
    seats: dict[str, int] = {}
    with data.open("r", encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            state, district = record["state_abbr"], int(record["cd"])
            rows.append(int(record["zcta"]) << 16 | _INDEX[state] << 8 | district)
            seats[state] = max(seats.get(state, 0), district)
    rows.sort()
    for _, _, territory in TERRITORY_ZIPS:
        seats.setdefault(territory, 0)
    return _Crosswalk(
        zips=array("I", (row >> 16 for row in rows)),
        states=array("B", (row >> 8 & 0xFF for row in rows)),
        districts=array("B", (row & 0xFF for row in rows)),
        seats=seats,
    )


def districts_for_zip(code: str) -> list[tuple[str, int]]:
    """Every (state, district) the ZIP may lie in, sorted; [] for a ZIP not in the data.

    One pair means the ZIP settles the district; several mean it does not, and the
    caller must not pick one. An unknown ZIP (a PO-box-only or single-organisation
    ZIP such as the White House's 20500) needs the supporter's state or address.
    Raises InvalidZip when `code` is not a ZIP or ZIP+4 at all.
    """
    number = int(parse_zip(code))
    for low, high, territory in TERRITORY_ZIPS:
        if low <= number <= high:
            return [(territory, 0)]
    table = _crosswalk()
    start = bisect_left(table.zips, number)
    end = bisect_right(table.zips, number, lo=start)
    found = {(_CODES[table.states[i]], table.districts[i]) for i in range(start, end)}
    return sorted(found)


def district_numbers(state: str) -> range:
    """The districts a state's House seats are numbered with: range(0, 1) for an
    at-large state, DC, Puerto Rico or a territory, else 1..N.

    From the crosswalk, not the legislators data, so a vacant seat still counts.
    An unknown state gives an empty range.
    """
    seats = _crosswalk().seats.get(state.upper())
    if seats is None:
        return range(0)
    return range(1) if seats == 0 else range(1, seats + 1)
