"""Which legislators a letter goes to, from the `[audience]` of letter.toml.

Filters that are given intersect (chamber AND state AND committee AND party);
`include` adds offices whatever the filters say and `exclude` removes offices last.
Every value is checked before anything is selected, and all the mistakes are
reported together: a typo in a committee id must never quietly shrink a letter's
audience to the offices the other filters happen to match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from capitolmail.errors import CommitteeNameError, InputError, Problem, did_you_mean
from capitolmail.recipients.committee_names import resolve_committee
from capitolmail.recipients.legislators import Legislator, Roster
from capitolmail.recipients.states import STATE_NAMES, normalise_state

CHAMBERS = ("senate", "house")
# A bioguide id is a letter and six digits (S000033); anything else is not a member at all.
_BIOGUIDE_SHAPE = re.compile(r"[A-Z]\d{6}")
PARTIES = ("Democrat", "Republican", "Independent")
PARTY_ALIASES = {
    "d": "Democrat",
    "dem": "Democrat",
    "democrat": "Democrat",
    "democratic": "Democrat",
    "r": "Republican",
    "rep": "Republican",
    "gop": "Republican",
    "republican": "Republican",
    "i": "Independent",
    "ind": "Independent",
    "independent": "Independent",
}


def select_legislators(
    roster: Roster,
    *,
    chambers: Iterable[str] = (),
    states: Iterable[str] = (),
    committees: Iterable[str] = (),
    parties: Iterable[str] = (),
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    everyone: bool = False,
    source: str = "letter.toml",
) -> list[Legislator]:
    """The selected legislators, senators first, then by state, district and last name.

    `party` is the party of record, not the caucus: `parties = ["Democrat"]` leaves
    out Sanders and King, who caucus with the Democrats; add them with `include`.
    """
    problems: list[Problem] = []

    def problem(field: str, message: str) -> None:
        problems.append(Problem(path=source, message=message, field=f"audience.{field}"))

    chamber_set = _checked(chambers, "chambers", _chamber, problem)
    state_set = _checked(states, "states", _state, problem)
    committee_set = _checked(committees, "committees", lambda v: _committee(roster, v), problem)
    party_set = _checked(parties, "parties", _party, problem)
    include_set = _checked(include, "include", lambda v: _bioguide(roster, v), problem)
    exclude_set = _checked(exclude, "exclude", lambda v: _bioguide(roster, v), problem)
    filters = (chamber_set, state_set, committee_set, party_set)
    if not problems and not everyone and not include_set and not any(filters):
        problems.append(
            Problem(
                path=source,
                field="audience",
                message="audience selects nobody; set chambers, states, committees, parties "
                "or include, or everyone = true (or name targets, from recipients/targets.csv)",
            )
        )
    if problems:
        raise InputError(problems)

    chosen: dict[str, Legislator] = {}
    if everyone or any(filters):
        for legislator in roster:
            if (
                (not chamber_set or legislator.chamber in chamber_set)
                and (not state_set or legislator.state in state_set)
                and (not party_set or legislator.party in party_set)
                and (not committee_set or _sits_on(legislator, committee_set))
            ):
                chosen[legislator.bioguide] = legislator
    for bioguide in include_set:
        legislator = roster.get(bioguide)
        assert legislator is not None  # checked above
        chosen[legislator.bioguide] = legislator
    for bioguide in exclude_set:
        chosen.pop(bioguide, None)
    return sorted(chosen.values(), key=audience_order)


def audience_order(legislator: Legislator) -> tuple[int, str, int, str, str, str]:
    """Senators, then the House; within each by state, district, last and first name."""
    return (
        CHAMBERS.index(legislator.chamber) if legislator.chamber in CHAMBERS else len(CHAMBERS),
        legislator.state,
        legislator.district or 0,
        legislator.last.casefold(),
        legislator.first.casefold(),
        legislator.bioguide,
    )


def _sits_on(legislator: Legislator, keys: frozenset[str]) -> bool:
    """Membership of the committee itself: a full-committee key does not pull in
    people who sit only on one of its subcommittees (upstream has none today)."""
    return any(seat.key in keys for seat in legislator.committees)


class _Unknown(Exception):
    """A value that matches nothing; its text is the whole message."""


def _checked(
    values: Iterable[str],
    field: str,
    check: Callable[[str], str],
    problem: Callable[[str, str], None],
) -> frozenset[str]:
    """The normalised values; each unknown one becomes a problem for `field`."""
    if isinstance(values, str):  # a bare string would otherwise be read letter by letter
        values = [values]
    found: set[str] = set()
    for value in values:
        try:
            found.add(check(str(value)))
        except _Unknown as err:
            problem(field, str(err))
    return frozenset(found)


def _chamber(value: str) -> str:
    folded = value.strip().casefold()
    if folded in CHAMBERS:
        return folded
    hint = did_you_mean(folded, CHAMBERS)
    raise _Unknown(f'unknown chamber "{value}"{hint}; use "senate" or "house"')


def _state(value: str) -> str:
    code = normalise_state(value)
    if code is not None:
        return code
    hint = did_you_mean(value, STATE_NAMES.values())
    raise _Unknown(f'unknown state "{value}"{hint}; use a USPS code such as "VT" or a name')


def _committee(roster: Roster, value: str) -> str:
    try:
        return resolve_committee(roster, value)
    except CommitteeNameError as err:
        raise _Unknown(str(err)) from None


def _party(value: str) -> str:
    party = PARTY_ALIASES.get(value.strip().casefold())
    if party is not None:
        return party
    hint = did_you_mean(value.strip().capitalize(), PARTIES)
    raise _Unknown(f'unknown party "{value}"{hint}; use Democrat, Republican or Independent')


def _bioguide(roster: Roster, value: str) -> str:
    legislator = roster.get(value)
    if legislator is not None:
        return legislator.bioguide
    departure = roster.departure(value)
    if departure is not None:
        raise _Unknown(
            f"{departure.describe()} is no longer serving (gone from the legislators data "
            f"imported {departure.noticed}); remove the id"
        )
    beyond = (
        ""
        if _BIOGUIDE_SHAPE.fullmatch(value.strip().upper())
        else "; a recipient beyond Congress (the White House, a department, a governor) goes "
        "in recipients/targets.csv and the audience's targets"
    )
    raise _Unknown(
        f'unknown bioguide id "{value}": not a current legislator ({roster.source}); '
        f"look it up with `capitolmail legislators list`{beyond}"
    )
