"""Committees as GR staff name them: thomas ids, acronyms, and names in words.

`[audience] committees = ["SASC"]` must select the Senate Committee on Armed
Services, and a typo must be answered with a committee a person recognises: the
closest thomas id to "SASC" is "SSCM", which is Commerce, and a staffer who took
that hint would write to the wrong committee. So a value is looked up, in this
order, as a thomas id ("SSAS", "SSFR09"), an informal acronym
(`committees.INFORMAL_ACRONYMS`), or a name derived from committees-current.yaml
("Senate Committee on Armed Services", "Senate Armed Services", "Armed Services
Committee", "Armed Services"). A bare name that two chambers share is refused with
both choices rather than guessed; given a chamber (senator_committees), it is not
ambiguous. Every hint names the committee in words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from capitolmail.errors import CommitteeNameError
from capitolmail.recipients.committees import INFORMAL_ACRONYMS, Committee

_CHAMBER_WORDS = {"senate": "Senate", "house": "House", "joint": "Joint"}
# "Senate Committee on the Budget" → "Budget"; "House Permanent Select Committee on
# Intelligence" → "Intelligence"; "Senate Special Committee on Aging" → "Aging".
_PREFIX = re.compile(
    r"^(?:united states )?(?:senate|house|joint)?\s*(?:permanent |special |select )*"
    r"(?:committee|caucus)(?: of congress)? on (?:the )?"
)


class _HasCommittees(Protocol):
    @property
    def committees(self) -> Mapping[str, Committee]: ...


def normalise_name(value: str) -> str:
    """Case, spacing, "&" and punctuation do not matter: "Veterans' Affairs", "veterans affairs"."""
    text = value.casefold().replace("&", " and ")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def describe_committee(committee: Committee) -> str:
    """The committee in words, as a hint shows it."""
    if committee.parent_name:
        return f"{committee.parent_name}, {committee.name}"
    return committee.name


@dataclass
class CommitteeNames:
    """Every spelling accepted for the roster's committees, built once per lookup set."""

    committees: Mapping[str, Committee]
    # normalised spelling → the keys it may mean (one, or several for "Armed Services")
    spellings: dict[str, set[str]] = field(default_factory=dict)
    # what a hint offers: acronym or id as people write it → key
    offered: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, committee in self.committees.items():
            self._add(key, key)
            self.offered[key] = key
            if committee.is_subcommittee:
                continue  # subcommittee names ("Personnel") repeat; select them by id
            full = normalise_name(committee.name)
            self._add(full, key)
            short = _PREFIX.sub("", full)
            if short and short != full:
                chamber = _CHAMBER_WORDS.get(committee.chamber, "").casefold()
                for spelling in (
                    short,
                    f"{short} committee",
                    f"{chamber} {short}",
                    f"{chamber} {short} committee",
                ):
                    self._add(spelling.strip(), key)
        for acronym, key in INFORMAL_ACRONYMS.items():
            if key in self.committees:
                self._add(normalise_name(acronym), key)
                self.offered[acronym] = key

    def _add(self, spelling: str, key: str) -> None:
        self.spellings.setdefault(normalise_name(spelling), set()).add(key)

    def preferred(self, key: str) -> str:
        """What to call a committee in a message: the staff acronym if there is one."""
        return next((a for a, k in INFORMAL_ACRONYMS.items() if k == key), key)

    def resolve(self, value: str, *, chamber: str | None = None) -> str:
        """The thomas id `value` means, or CommitteeNameError saying what to write.

        With `chamber` ("senate" for senator_committees), only that chamber's
        committees and joint ones count, and one of the other chamber is refused.
        """
        wanted = normalise_name(value)
        upper = value.strip().upper()
        keys = {upper} if upper in self.committees else set(self.spellings.get(wanted, ()))
        if chamber is not None and keys:
            fitting = {k for k in keys if self.committees[k].chamber in (chamber, "joint")}
            if not fitting:
                raise CommitteeNameError(self._wrong_chamber(value, keys, chamber))
            keys = fitting
        if len(keys) == 1:
            return next(iter(keys))
        if keys:
            choices = " or ".join(
                f'"{self.preferred(k)}" ({describe_committee(self.committees[k])})'
                for k in sorted(keys)
            )
            raise CommitteeNameError(
                f'committee "{value}" is ambiguous: {choices}; write the one you mean'
            )
        raise CommitteeNameError(self._unknown(value, chamber))

    def _unknown(self, value: str, chamber: str | None) -> str:
        def fits(key: str) -> bool:
            return chamber is None or self.committees[key].chamber in (chamber, "joint")

        offered = {spelling: key for spelling, key in self.offered.items() if fits(key)}
        keys: list[str] = []
        if " " not in value.strip():
            matches = _closest(value.strip().upper(), offered)
            if matches:
                return _hint(value, [(m, self.committees[offered[m]]) for m in matches])
        # A name, or part of one: "Armed Servces", "Foreign Relations".
        names = {s: ks for s, ks in self.spellings.items() if " " in s or len(s) > 5}
        close = difflib.get_close_matches(normalise_name(value), list(names), n=1, cutoff=0.8)
        if close:
            keys = sorted(k for k in names[close[0]] if fits(k))
        if not keys:
            keys = [
                key
                for key, c in self.committees.items()
                if not c.is_subcommittee and wanted_in(value, c.name) and fits(key)
            ]
        if 0 < len(keys) <= 3:
            return _hint(value, [(self.preferred(k), self.committees[k]) for k in keys])
        return (
            f'unknown committee "{value}"; use a thomas id such as "SSFR" (or "SSFR09" for a '
            'subcommittee), an acronym such as "SFRC", or a name such as "Senate Foreign '
            'Relations"'
        )

    def _wrong_chamber(self, value: str, keys: set[str], chamber: str) -> str:
        key = sorted(keys)[0]
        committee = self.committees[key]
        members = "senators" if chamber == "senate" else "representatives"
        message = f'"{value}" is the {describe_committee(committee)}; {members} do not sit on it'
        short = _PREFIX.sub("", normalise_name(committee.name))
        other = [
            k
            for k in self.spellings.get(short, ())
            if self.committees[k].chamber == chamber and not self.committees[k].is_subcommittee
        ]
        if len(other) == 1:
            counterpart = self.committees[other[0]]
            message += (
                f' (did you mean "{self.preferred(other[0])}", {describe_committee(counterpart)}?)'
            )
        return message


def wanted_in(value: str, name: str) -> bool:
    """True when the words of `value` appear in the committee's name, in order."""
    wanted = normalise_name(value)
    return bool(wanted) and f" {wanted} " in f" {normalise_name(name)} "


def _closest(word: str, choices: Iterable[str]) -> list[str]:
    """The likeliest intended choices: fewest edits (a swap of two letters is one), then
    the same letters, then the same length, then difflib's ratio. difflib alone prefers
    "SAC" (Appropriations) for "SACS", where the swapped "SASC" (Armed Services) is the
    usual slip. Choices that tie ("SSFX": Finance or Foreign Relations?) are all
    offered, up to three, since a wrong single guess is what this module prevents."""
    ranked: dict[tuple[int, bool, int, float], list[str]] = {}
    for choice in choices:
        distance = _edits(word, choice.upper())
        ratio = difflib.SequenceMatcher(None, word, choice.upper()).ratio()
        if distance > max(1, len(word) // 3) and ratio < 0.75:
            continue
        swapped = sorted(word) != sorted(choice.upper())
        rank = (distance, swapped, abs(len(choice) - len(word)), -round(ratio, 6))
        ranked.setdefault(rank, []).append(choice)
    if not ranked:
        return []
    return sorted(ranked[min(ranked)])[:3]


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, changes, adjacent swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _hint(value: str, choices: list[tuple[str, Committee]]) -> str:
    """'unknown committee "SACS" (did you mean "SASC", Senate Committee on Armed Services?)'."""
    named = ", or ".join(f'"{written}", {describe_committee(c)}' for written, c in choices)
    return f'unknown committee "{value}" (did you mean {named}?)'


def resolve_committee(roster: _HasCommittees, value: str, *, chamber: str | None = None) -> str:
    """The thomas id for `value` in this roster (see CommitteeNames.resolve)."""
    return CommitteeNames(roster.committees).resolve(value, chamber=chamber)
