"""One member of Congress: the `Legislator` value and how an upstream record becomes one.

Everything a record says is taken as given: names are never re-cased ("DeLauro",
"Van Hollen", "Hernández Rivera"), and missing fields stay None rather than being
invented, except `official_full`, which falls back to first + last because every
letter needs a name (G000607 James Gallagher and M001246 Analilia Mejia lack one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from capitolmail.recipients.committees import CommitteeSeat, seat_order
from capitolmail.recipients.states import NO_SENATORS, STATE_NAMES, state_name
from capitolmail.recipients.yaml_files import Issue, text_value

LEGISLATORS_FILE = "legislators-current.yaml"

# Non-voting House members: a Delegate each for DC and four territories, and
# Puerto Rico's Resident Commissioner. None of them has senators.
DELEGATE_STATES = frozenset({"DC", "VI", "AS", "GU", "MP"})
SHORT_TITLES = {
    "Senator": "Sen.",
    "Representative": "Rep.",
    "Delegate": "Del.",
    "Resident Commissioner": "Res. Comm.",
}


@dataclass(frozen=True, slots=True)
class Legislator:
    """One member of Congress in their current term (`terms[-1]` upstream).

    `district` is None for senators and 0 for at-large and non-voting members, as
    upstream. `caucus` is the party they caucus with: upstream records it only
    when it differs (Sanders and King: Independent, caucus Democrat), so it falls
    back to `party`. `contact_form` and `url` are None unless they are http(s)
    URLs, because upstream has typos such as Randy Fine's "hhttps://…".
    """

    bioguide: str
    chamber: str
    title: str
    first: str
    last: str
    state: str
    party: str
    official_full: str = ""
    middle: str | None = None
    nickname: str | None = None
    suffix: str | None = None
    caucus: str | None = None
    state_name: str = ""
    district: int | None = None
    senate_class: int | None = None
    state_rank: str | None = None
    gender: str | None = None
    phone: str | None = None
    address: str | None = None
    office: str | None = None
    url: str | None = None
    contact_form: str | None = None
    term_start: str | None = None
    term_end: str | None = None
    committees: tuple[CommitteeSeat, ...] = ()
    leadership_roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.official_full:
            object.__setattr__(self, "official_full", f"{self.first} {self.last}")
        if not self.state_name:
            object.__setattr__(self, "state_name", state_name(self.state))
        if self.caucus is None:
            object.__setattr__(self, "caucus", self.party)

    @property
    def full_name(self) -> str:
        return self.official_full

    @property
    def name(self) -> str:
        """The same as `full_name`: alert templates say `senator.name`."""
        return self.official_full

    @property
    def short_title(self) -> str:
        return SHORT_TITLES.get(self.title, self.title)

    @property
    def district_label(self) -> str:
        """ "TX-23", "DE at-large"; just the code for senators and non-voting members."""
        if self.district is None or not self.is_voting:
            return self.state
        return f"{self.state} at-large" if self.district == 0 else f"{self.state}-{self.district}"

    @property
    def subcommittees(self) -> tuple[CommitteeSeat, ...]:
        return tuple(seat for seat in self.committees if seat.is_subcommittee)

    @property
    def contact_url(self) -> str | None:
        """Where a constituent writes: the contact form, else the website (most House
        members have no contact_form upstream)."""
        return self.contact_form or self.url

    @property
    def is_voting(self) -> bool:
        return self.title in ("Senator", "Representative")

    def seat(self, committee_key: str) -> CommitteeSeat | None:
        """This member's seat on a committee or subcommittee, by key in any case."""
        wanted = committee_key.strip().upper()
        return next((seat for seat in self.committees if seat.key == wanted), None)


def parse_legislators(
    data: Any, seats: Mapping[str, list[CommitteeSeat]]
) -> tuple[list[Legislator], list[Issue]]:
    """Legislators in file order, with their seats, and whatever is wrong with the file."""
    if not isinstance(data, list):
        return [], [((), None, f"expected a list of legislators; is this {LEGISLATORS_FILE}?")]
    legislators: list[Legislator] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    for index, record in enumerate(data):
        legislator = _legislator(index, record, seats, issues)
        if legislator is None:
            continue
        if legislator.bioguide in seen:
            issues.append(((index, "id"), "id.bioguide", f"{legislator.bioguide} appears twice"))
            continue
        seen.add(legislator.bioguide)
        legislators.append(legislator)
    return legislators, issues


def _legislator(
    index: int, record: Any, seats: Mapping[str, list[CommitteeSeat]], issues: list[Issue]
) -> Legislator | None:
    """One record, or None after adding what is wrong with it to `issues`."""
    before = len(issues)
    record = record if isinstance(record, dict) else {}
    ident, name = _mapping(record.get("id")), _mapping(record.get("name"))
    bioguide = text_value(ident.get("bioguide"))
    if bioguide is None:
        issues.append(((index,), "id.bioguide", "record has no id.bioguide; every one needs it"))
    who = bioguide or f"record {index + 1}"
    terms = record.get("terms")
    term = _mapping(terms[-1] if isinstance(terms, list) and terms else None)
    if not term:
        issues.append(((index,), "terms", f"{who} has no terms; the last term is the current one"))
        return None
    for field in ("first", "last"):
        if text_value(name.get(field)) is None:
            issues.append(((index, "name"), f"name.{field}", f"{who} has no name.{field}"))
    _check_term(index, who, term, issues)
    if len(issues) > before:
        return None
    assert bioguide is not None
    own_seats = {seat.key: seat for seat in seats.get(bioguide.upper(), [])}
    return _build(bioguide.upper(), record, name, term, tuple(own_seats.values()))


def _check_term(index: int, who: str, term: Mapping[str, Any], issues: list[Issue]) -> None:
    """What makes the current term unusable: its chamber, state or district."""
    kind, state = text_value(term.get("type")), (text_value(term.get("state")) or "").upper()
    if kind not in ("sen", "rep"):
        issues.append(((index, "terms"), "terms.type", f"{who}: type must be sen or rep"))
    if state not in STATE_NAMES:
        issues.append(((index, "terms"), "terms.state", f'{who}: no such state "{state}"'))
    elif kind == "sen" and state in NO_SENATORS:
        issues.append(((index, "terms"), "terms.state", f"{who}: {state} has no senators"))
    district = term.get("district")
    if kind == "rep" and (not isinstance(district, int) or isinstance(district, bool)):
        issues.append(((index, "terms"), "terms.district", f"{who}: district must be a number"))


def _build(
    bioguide: str,
    record: Mapping[str, Any],
    name: Mapping[str, Any],
    term: Mapping[str, Any],
    seats: tuple[CommitteeSeat, ...],
) -> Legislator:
    """The Legislator of a record `_legislator` found usable."""
    kind, state = text_value(term.get("type")), (text_value(term.get("state")) or "").upper()
    party = text_value(term.get("party")) or ""
    senate_class = term.get("class")
    roles = record.get("leadership_roles") or []
    return Legislator(
        bioguide=bioguide,
        chamber="senate" if kind == "sen" else "house",
        title=_title(kind, state),
        first=text_value(name.get("first")) or "",
        last=text_value(name.get("last")) or "",
        state=state,
        party=party,
        official_full=text_value(name.get("official_full")) or "",
        middle=text_value(name.get("middle")),
        nickname=text_value(name.get("nickname")),
        suffix=text_value(name.get("suffix")),
        caucus=text_value(term.get("caucus")) or party,
        district=term.get("district") if kind == "rep" else None,
        senate_class=senate_class if isinstance(senate_class, int) else None,
        state_rank=text_value(term.get("state_rank")),
        gender=text_value(_mapping(record.get("bio")).get("gender")),
        phone=text_value(term.get("phone")),
        address=text_value(term.get("address")),
        office=text_value(term.get("office")),
        url=_web_url(term.get("url")),
        contact_form=_web_url(term.get("contact_form")),
        term_start=text_value(term.get("start")),
        term_end=text_value(term.get("end")),
        committees=tuple(sorted(seats, key=seat_order)),
        leadership_roles=tuple(
            title
            for role in roles
            if isinstance(role, dict) and role.get("end") is None
            if (title := text_value(role.get("title")))
        ),
    )


def _title(kind: str | None, state: str) -> str:
    if kind == "sen":
        return "Senator"
    if state == "PR":
        return "Resident Commissioner"
    return "Delegate" if state in DELEGATE_STATES else "Representative"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _web_url(value: Any) -> str | None:
    """The URL if it is a plausible http(s) address, else None (never a broken link)."""
    text = text_value(value)
    if text is None or any(ch.isspace() for ch in text):
        return None
    parts = urlsplit(text)
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None
