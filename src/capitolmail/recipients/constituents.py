"""A supporter's own members of Congress: two senators and a representative.

An action alert that names the wrong senator sends a supporter to call an office
that will ignore them, so nothing is guessed. The district comes from the
supporter's row when it is known, else from the ZIP crosswalk; a ZIP that spans
several districts yields every candidate with `district_known` False, and the
alert then names the senators and asks the reader to look up their
representative. DC and the territories have no senators and a non-voting
delegate (a resident commissioner for Puerto Rico); at-large states have one
representative, district 0 in the data.

Three cases name nobody, and each is told apart so that `letters check` can count
it and the built-in layouts can say so instead of printing an empty list: no state
(a ZIP missing from the crosswalk, or one across a state line), a state with a
vacant Senate seat (fewer than two senators in the data), and a known district
with nobody in it (a vacant House seat).
"""

from __future__ import annotations

from dataclasses import dataclass

from capitolmail.errors import InvalidZip
from capitolmail.recipients.legislators import Legislator, Roster
from capitolmail.recipients.states import STATE_NAMES
from capitolmail.recipients.zipcodes import district_numbers, districts_for_zip

_RANK = {"senior": 0, "junior": 1}
# DC and the territories elect no senators: none is not a vacancy there.
NO_SENATORS = frozenset({"DC", "PR", "VI", "GU", "AS", "MP"})
SENATE_STATES = frozenset(STATE_NAMES) - NO_SENATORS


@dataclass(frozen=True, slots=True)
class Delegation:
    """The legislators one supporter's alert names."""

    state: str | None
    senators: tuple[Legislator, ...]
    representatives: tuple[Legislator, ...]
    district_known: bool
    # The district whose seat is empty ("TX-18"), when the district is known.
    vacant_district: str | None = None

    @property
    def state_known(self) -> bool:
        """False when nothing says which state the supporter is in: nobody can be named."""
        return self.state is not None

    @property
    def elects_senators(self) -> bool:
        return self.state in SENATE_STATES

    @property
    def senate_vacancies(self) -> int:
        """Empty Senate seats: two minus the senators the data has, in a state."""
        return max(0, 2 - len(self.senators)) if self.elects_senators else 0

    @property
    def house_vacant(self) -> bool:
        return self.vacant_district is not None

    @property
    def vacant(self) -> bool:
        return bool(self.senate_vacancies) or self.house_vacant

    @property
    def representative(self) -> Legislator | None:
        """The supporter's one House member, or None when the district is not known."""
        return self.representatives[0] if self.district_known and self.representatives else None

    @property
    def everyone(self) -> tuple[Legislator, ...]:
        return self.senators + ((self.representative,) if self.representative else ())


class DelegationFinder:
    """Looks up delegations, memoised: 300,000 supporters share a few thousand answers."""

    def __init__(self, roster: Roster) -> None:
        senators: dict[str, list[Legislator]] = {}
        house: dict[tuple[str, int], Legislator] = {}
        for member in roster:
            if member.chamber == "senate":
                senators.setdefault(member.state, []).append(member)
            elif member.district is not None:
                house[(member.state, member.district)] = member
        self._senators = {
            state: tuple(sorted(found, key=lambda m: (_RANK.get(m.state_rank or "", 2), m.last)))
            for state, found in senators.items()
        }
        self._house = house
        self._memo: dict[tuple[str | None, int | None, str | None], Delegation] = {}

    def find(self, state: str | None, district: int | None, postal_code: str | None) -> Delegation:
        key = (state, district, postal_code[:5] if postal_code else None)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._find(*key)
        return found

    def _find(self, state: str | None, district: int | None, zip5: str | None) -> Delegation:
        candidates = _zip_districts(zip5)
        if state is None:
            states = {candidate_state for candidate_state, _ in candidates}
            # A ZIP across a state line names no senators rather than the wrong two.
            state = states.pop() if len(states) == 1 else None
        if state is None:
            return Delegation(None, (), (), district_known=False)
        senators = self._senators.get(state, ())
        if district is None:
            in_state = sorted({d for s, d in candidates if s == state})
            if len(in_state) == 1:
                district = in_state[0]
            elif not in_state and len(district_numbers(state)) == 1:
                district = 0  # an at-large state, DC or a territory: the ZIP is not needed
        if district is not None:
            member = self._house.get((state, district))
            if member is None:
                return Delegation(state, senators, (), False, _label(state, district))
            return Delegation(state, senators, (member,), district_known=True)
        members = tuple(m for d in in_state if (m := self._house.get((state, d))) is not None)
        return Delegation(state, senators, members, district_known=False)


def _label(state: str, district: int) -> str:
    return f"{state} at-large" if district == 0 else f"{state}-{district}"


def _zip_districts(zip5: str | None) -> list[tuple[str, int]]:
    if not zip5:
        return []
    try:
        return districts_for_zip(zip5)
    except InvalidZip:
        return []
