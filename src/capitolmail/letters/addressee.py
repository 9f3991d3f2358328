"""Who a printed letter is addressed to: the addressee block and the salutation.

Templates see it as `recipient`, one shape whatever the recipient is, so the same
letterhead serves a member of Congress today and any other target later (the
White House, a governor): whoever builds one fills these four fields.

    recipient.name           "The Honorable Cory A. Booker"
    recipient.title          "Senator" (Representative, Delegate, Resident Commissioner)
    recipient.address_lines  ("The Honorable Cory A. Booker", "United States Senate",
                              "717 Hart Senate Office Building", "Washington, DC 20510")
    recipient.salutation     "Dear Senator Booker:"

Formal style as congressional correspondence guides give it: "The Honorable" and
the member's official name, the chamber, the office building from the
congress-legislators data when it has one, and the chamber's Washington ZIP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from capitolmail.templates.filters import salutation

CHAMBERS = {"senate": "United States Senate", "house": "United States House of Representatives"}
ZIP_CODES = {"senate": "20510", "house": "20515"}
# "717 Hart Senate Office Building Washington DC 20510", as upstream writes it.
_OFFICE = re.compile(
    r"^(?P<street>.+?)[\s,]+washington,?\s+d\.?c\.?\s+(?P<zip>\d{5}(?:-\d{4})?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Addressee:
    """A recipient as a letter addresses them (the module docstring shows each field)."""

    name: str
    title: str
    address_lines: tuple[str, ...]
    salutation: str
    # The id the recipient is picked by (`--to`): a bioguide id for a legislator.
    id: str = ""
    # The chamber, and the lines after it: what an email's addressee block shows.
    organization: str = ""
    postal_lines: tuple[str, ...] = ()


def for_legislator(legislator: Any) -> Addressee:
    """The addressee block and salutation of a member of Congress."""
    name = f"The Honorable {legislator.full_name}"
    chamber = "senate" if legislator.chamber == "senate" else "house"
    street, zip_code = office_lines(legislator.address, ZIP_CODES[chamber])
    postal = (*street, f"Washington, DC {zip_code}")
    return Addressee(
        name=name,
        title=legislator.title,
        address_lines=(name, CHAMBERS[chamber], *postal),
        salutation=salutation(legislator),
        id=legislator.bioguide,
        organization=CHAMBERS[chamber],
        postal_lines=postal,
    )


def office_lines(address: str | None, default_zip: str) -> tuple[tuple[str, ...], str]:
    """The office building line (none when the data has no address) and the ZIP.

    An address that does not end in "Washington DC ZIP" is left out rather than
    guessed at: the chamber and its ZIP still reach the office's mail room.
    """
    match = _OFFICE.match(" ".join((address or "").split()))
    if match is None:
        return (), default_zip
    return (match.group("street"),), match.group("zip")
