"""Offices as a report names them: the member, title, state, district and committee role.

Read from the workspace's congress-legislators data, so a report says "Sen. Brian
Schatz (HI), Ranking Member, Foreign Relations" where the outbox only kept
"S001194". A member no longer in the data (retired since the letter went out)
keeps the bioguide id alone rather than a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from capitolmail.errors import CapitolmailError
from capitolmail.recipients.committee_names import resolve_committee
from capitolmail.recipients.legislators import Roster


@dataclass(frozen=True, slots=True)
class Office:
    bioguide: str
    name: str  # "Brian Schatz", or the bioguide id when the data no longer has the member
    title: str  # "Senator"
    state: str
    district: str  # "HI", "TX-23", "DE at-large"
    committee_role: str  # "Foreign Relations: Ranking Member", for the letter's committees


def committee_keys(roster: Roster, committees: Iterable[str]) -> list[str]:
    """The letter's audience committees as keys; names that no longer resolve are skipped."""
    keys = []
    for value in committees:
        try:
            keys.append(resolve_committee(roster, value))
        except (CapitolmailError, ValueError):
            continue
    return keys


def office(roster: Roster, bioguide: str, committees: Iterable[str] = ()) -> Office:
    member = roster.get(bioguide)
    if member is None:
        return Office(bioguide, bioguide, "", "", "", "")
    roles = []
    for key in committees:
        seat = member.seat(key)
        if seat is not None:
            committee = seat.name if seat.is_subcommittee else seat.committee_name or seat.name
            roles.append(f"{committee}: {seat.title or 'Member'}")
    return Office(
        bioguide=bioguide,
        name=member.full_name,
        title=member.title,
        state=member.state,
        district=member.district_label,
        committee_role="; ".join(roles),
    )
