"""Which supporters an alert goes to: letter.toml's [audience], checked once, asked often.

Checked against the roster before anything renders, so a committee id typo
fails the queue with the file and the key instead of an alert to nobody; then
asked once per supporter, with that supporter's delegation already found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from capitolmail.errors import CommitteeNameError, InputError, Problem
from capitolmail.letters.definition import Letter
from capitolmail.outbox import SupporterInfo
from capitolmail.recipients.committee_names import resolve_committee
from capitolmail.recipients.constituents import Delegation
from capitolmail.recipients.legislators import Roster
from capitolmail.recipients.states import normalise_state


@dataclass(frozen=True, slots=True)
class AlertAudience:
    """The audience filters of letter.toml, checked against the roster once."""

    tags: frozenset[str]
    states: frozenset[str]
    districts: frozenset[tuple[str, int]]
    senator_committees: frozenset[str]
    representative_committees: frozenset[str]

    def wants(self, supporter: SupporterInfo, delegation: Delegation) -> bool:
        if self.tags and self.tags.isdisjoint(tag.casefold() for tag in supporter.tags):
            return False
        if self.states and delegation.state not in self.states:
            return False
        if self.districts:
            member = delegation.representative
            if member is None or (member.state, member.district) not in self.districts:
                return False
        if self.senator_committees and not any(
            _sits_on(senator, self.senator_committees) for senator in delegation.senators
        ):
            return False
        if self.representative_committees:
            member = delegation.representative
            if member is None or not _sits_on(member, self.representative_committees):
                return False
        return True


def alert_audience(letter: Letter, roster: Roster) -> AlertAudience:
    """The audience of an alert's letter.toml, every problem reported at once."""
    audience = letter.definition.audience
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(letter.display_path, message, field=f"audience.{key}"))

    states = set()
    for value in audience.states:
        code = normalise_state(value)
        if code is not None:
            states.add(code)
        else:
            problem("states", f'"{value}" is not a state or territory code such as "CA"')
    districts = set()
    for value in audience.districts:
        match = re.fullmatch(r"\s*([A-Za-z]{2})-(\d{1,2}|AL|at-large)\s*", value, re.IGNORECASE)
        if match is None or normalise_state(match.group(1)) is None:
            problem("districts", f'"{value}" is not a district such as "CA-12" or "DE-AL"')
            continue
        number = match.group(2)
        districts.add((match.group(1).upper(), 0 if not number.isdigit() else int(number)))
    committees: dict[str, set[str]] = {
        "senator_committees": set(),
        "representative_committees": set(),
    }
    for key, values in (
        ("senator_committees", audience.senator_committees),
        ("representative_committees", audience.representative_committees),
    ):
        chamber = "senate" if key == "senator_committees" else "house"
        for value in values:
            try:
                committees[key].add(resolve_committee(roster, value, chamber=chamber))
            except CommitteeNameError as err:
                problem(key, str(err))
    if problems:
        raise InputError(problems)
    return AlertAudience(
        tags=frozenset(tag.casefold() for tag in audience.tags),
        states=frozenset(states),
        districts=frozenset(districts),
        senator_committees=frozenset(committees["senator_committees"]),
        representative_committees=frozenset(committees["representative_committees"]),
    )


def _sits_on(member: Any, keys: frozenset[str]) -> bool:
    return any(seat.key in keys for seat in member.committees)
