"""Committees and who sits on them, from committees-current.yaml and the membership file.

Keys are upstream thomas ids: "SSFR" for a committee, and the parent id followed by
the subcommittee's two-character id for a subcommittee ("SSFR" + "09" → "SSFR09").
The subcommittee id is a string with its leading zero; an unquoted number in a
hand-made file is padded back to two digits, since "HSAG3" matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capitolmail.recipients.yaml_files import Issue, text_value

CHAMBERS = ("senate", "house", "joint")
SIDES = ("majority", "minority")


@dataclass(frozen=True, slots=True)
class Committee:
    """A committee or subcommittee. A subcommittee's `url` is its parent's site."""

    key: str
    name: str
    chamber: str
    parent_key: str | None = None
    parent_name: str | None = None
    url: str | None = None
    minority_url: str | None = None
    address: str | None = None
    phone: str | None = None
    jurisdiction: str | None = None
    subcommittee_keys: tuple[str, ...] = ()

    @property
    def is_subcommittee(self) -> bool:
        return self.parent_key is not None

    @property
    def committee_name(self) -> str:
        """The full committee's name, which letters use to say where a member sits."""
        return self.parent_name or self.name


@dataclass(frozen=True, slots=True)
class CommitteeSeat:
    """One legislator's place on one committee or subcommittee.

    `side` is "majority" or "minority" (upstream calls it `party`, but it is not the
    party's name). `rank` restarts within each chamber on joint committees.
    """

    key: str
    name: str
    committee_name: str
    chamber: str
    is_subcommittee: bool
    rank: int | None
    title: str | None
    side: str


def _sub_id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:02d}"
    return text_value(value)


def parse_committees(data: Any) -> tuple[dict[str, Committee], list[Issue]]:
    """Committees by key, subcommittees included, and whatever is wrong with the file."""
    if not isinstance(data, list):
        return {}, [((), None, "expected a list of committees; is this committees-current.yaml?")]
    committees: dict[str, Committee] = {}
    issues: list[Issue] = []
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            issues.append(((index,), None, "a committee entry must be a mapping"))
            continue
        key, name = text_value(record.get("thomas_id")), text_value(record.get("name"))
        chamber = text_value(record.get("type"))
        # Which entry, in the words of the file: its id, else its name, else its place.
        who = f'committee "{key or name}"' if key or name else f"committee entry {index + 1}"
        if key is None:
            issues.append(((index,), "thomas_id", f"{who} has no thomas_id"))
        if name is None:
            issues.append(((index,), "name", f"{who} has no name"))
        if chamber not in CHAMBERS:
            message = f"{who}: type must be one of {', '.join(CHAMBERS)}"
            issues.append(((index, "type"), "type", message))
        if key is None or name is None or chamber not in CHAMBERS:
            continue
        key = key.upper()
        url = text_value(record.get("url"))
        subs: list[str] = []
        for sub_index, sub in enumerate(record.get("subcommittees") or []):
            where = (index, "subcommittees", sub_index)
            sub_id = _sub_id(sub.get("thomas_id")) if isinstance(sub, dict) else None
            sub_name = text_value(sub.get("name")) if isinstance(sub, dict) else None
            if sub_id is None or sub_name is None:
                message = f"{who}: subcommittee {sub_index + 1} needs a thomas_id and a name"
                issues.append((where, "thomas_id", message))
                continue
            sub_key = key + sub_id.upper()
            subs.append(sub_key)
            committees[sub_key] = Committee(
                key=sub_key,
                name=sub_name,
                chamber=chamber,
                parent_key=key,
                parent_name=name,
                url=url,
                address=text_value(sub.get("address")),
                phone=text_value(sub.get("phone")),
            )
        if key in committees:
            issues.append(((index, "thomas_id"), "thomas_id", f'"{key}" appears twice'))
        committees[key] = Committee(
            key=key,
            name=name,
            chamber=chamber,
            url=url,
            minority_url=text_value(record.get("minority_url")),
            address=text_value(record.get("address")),
            phone=text_value(record.get("phone")),
            jurisdiction=text_value(record.get("jurisdiction")),
            subcommittee_keys=tuple(subs),
        )
    return committees, issues


def parse_memberships(
    data: Any, committees: dict[str, Committee]
) -> tuple[dict[str, list[CommitteeSeat]], list[Issue]]:
    """Seats by bioguide id, and whatever is wrong with the membership file.

    A key missing from the committees file (only possible when files from different
    upstream commits are mixed) gets a stand-in committee named by its key, so its
    members can still be selected rather than silently dropped.
    """
    if not isinstance(data, dict):
        return {}, [((), None, "expected a mapping of committee ids to members")]
    seats: dict[str, list[CommitteeSeat]] = {}
    issues: list[Issue] = []
    for raw_key, rows in data.items():
        key = str(raw_key).strip().upper()
        committee = committees.get(key) or _stand_in(key, committees)
        committees.setdefault(key, committee)
        if rows is None:  # SSCM39 and SSJU27 upstream have no members
            continue
        if not isinstance(rows, list):
            issues.append(((raw_key,), None, f"{key}: expected a list of members"))
            continue
        for index, row in enumerate(rows):
            where = (raw_key, index)
            bioguide = text_value(row.get("bioguide")) if isinstance(row, dict) else None
            if bioguide is None:
                issues.append((where, "bioguide", f"{key}: member row has no bioguide id"))
                continue
            side = text_value(row.get("party"))
            if side not in SIDES:
                issues.append((where, "party", f"{key}: party must be majority or minority"))
                continue
            rank = row.get("rank")
            seats.setdefault(bioguide.upper(), []).append(
                CommitteeSeat(
                    key=key,
                    name=committee.name,
                    committee_name=committee.committee_name,
                    chamber=committee.chamber,
                    is_subcommittee=committee.is_subcommittee,
                    rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
                    title=text_value(row.get("title")),
                    side=side,
                )
            )
    return seats, issues


def _stand_in(key: str, committees: Mapping[str, Committee]) -> Committee:
    parent = committees.get(key[:4]) if len(key) > 4 else None
    chamber = {"S": "senate", "H": "house", "J": "joint"}.get(key[:1], "joint")
    if parent is not None:
        return Committee(key, key, parent.chamber, parent.key, parent.name, parent.url)
    return Committee(key, key, chamber)


def seat_order(seat: CommitteeSeat) -> tuple[str, bool, str]:
    """Each committee followed by its subcommittees, committees by key."""
    parent = seat.key[:4] if seat.is_subcommittee else seat.key
    return parent, seat.is_subcommittee, seat.key


# The acronyms GR staff write, which upstream does not carry: thomas ids ("SSAS") are
# the Library of Congress's, while staff say "SASC". Names ("Senate Armed Services")
# are derived from committees-current.yaml instead (committee_names.py); only the
# informal acronyms need listing here. Full committees only: subcommittee acronyms
# ("SAC-D") vary by office, and a wrong guess would send a letter to the wrong panel.
INFORMAL_ACRONYMS: Mapping[str, str] = {
    # Senate
    "SASC": "SSAS",  # Armed Services
    "SFRC": "SSFR",  # Foreign Relations
    "SSCI": "SLIN",  # Select Committee on Intelligence
    "SJC": "SSJU",  # Judiciary
    "HSGAC": "SSGA",  # Homeland Security and Governmental Affairs
    "HELP": "SSHR",  # Health, Education, Labor, and Pensions
    "EPW": "SSEV",  # Environment and Public Works
    "ENR": "SSEG",  # Energy and Natural Resources
    "SAC": "SSAP",  # Appropriations
    "SVAC": "SSVA",  # Veterans' Affairs
    "SCIA": "SLIA",  # Indian Affairs
    # House
    "HASC": "HSAS",  # Armed Services
    "HFAC": "HSFA",  # Foreign Affairs
    "HPSCI": "HLIG",  # Permanent Select Committee on Intelligence
    "HJC": "HSJU",  # Judiciary
    "HAC": "HSAP",  # Appropriations
    "HFSC": "HSBA",  # Financial Services
    "HVAC": "HSVR",  # Veterans' Affairs
    "E&C": "HSIF",  # Energy and Commerce
    "W&M": "HSWM",  # Ways and Means
    "T&I": "HSPW",  # Transportation and Infrastructure
}
