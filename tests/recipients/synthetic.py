"""Tiny congress-legislators checkouts made in the test: a few members, a few committees.

Written with PyYAML in upstream's shapes (terms[-1], thomas ids, membership keyed by
committee), so `legislators import` reads them as it reads the real repository.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Member:
    bioguide: str
    first: str
    last: str
    state: str
    party: str
    district: int | None = None  # None: a senator

    @property
    def senator(self) -> bool:
        return self.district is None


ALICE = Member("A000901", "Alice", "Able", "TX", "Democrat")
BOB = Member("B000902", "Bob", "Baker", "TX", "Republican")
CARA = Member("C000903", "Cara", "Cole", "VT", "Independent")
DAN = Member("D000904", "Dan", "Doe", "TX", "Republican", district=23)
EVE = Member("E000905", "Eve", "Eng", "VT", "Democrat", district=0)
FAY = Member("F000906", "Fay", "Fox", "TX", "Democrat")

COMMITTEES = {
    "SSFR": ("senate", "Committee on Foreign Relations"),
    "SSAS": ("senate", "Committee on Armed Services"),
    "HSFA": ("house", "Committee on Foreign Affairs"),
    "SLET": ("senate", "Select Committee on Ethics"),
}


def start_of(congress: int) -> date:
    """Written out here, not taken from capitolmail: the test's own oracle."""
    return date(1789 + 2 * (congress - 1), 1, 3)


def congress_in_session(today: date) -> int:
    """The Congress whose two years contain `today`, by search (an independent oracle)."""
    return next(n for n in range(1, 1000) if start_of(n) <= today < start_of(n + 1))


def write_checkout(
    folder: Path,
    members: Sequence[Member],
    seats: Mapping[str, Sequence[Member]],
    *,
    congress: int,
) -> Path:
    """A folder with the three files `legislators import` takes; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    start, end = start_of(congress), start_of(congress + 1)
    records = []
    for member in members:
        term: dict[str, object] = {
            "type": "sen" if member.senator else "rep",
            "start": start.isoformat(),
            "end": (start_of(congress + 3) if member.senator else end).isoformat(),
            "state": member.state,
            "party": member.party,
            "phone": "202-224-0000",
        }
        if not member.senator:
            term["district"] = member.district
        records.append(
            {
                "id": {"bioguide": member.bioguide},
                "name": {
                    "first": member.first,
                    "last": member.last,
                    "official_full": f"{member.first} {member.last}",
                },
                "bio": {"gender": "F"},
                "terms": [term],
            }
        )
    committees = [
        {"type": chamber, "name": name, "thomas_id": key, "url": "https://example.gov"}
        for key, (chamber, name) in COMMITTEES.items()
        if key in seats
    ]
    membership = {
        key: [
            {
                "name": f"{m.first} {m.last}",
                "party": "majority" if rank == 1 else "minority",
                "rank": rank,
                "bioguide": m.bioguide,
            }
            for rank, m in enumerate(people, start=1)
        ]
        for key, people in seats.items()
    }
    for name, data in (
        ("legislators-current.yaml", records),
        ("committees-current.yaml", committees),
        ("committee-membership-current.yaml", membership),
    ):
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder
