"""One shape for whoever a letter is addressed to: a congressional office or a target.

Templates use `recipient.name`, `recipient.title`, `recipient.salutation`,
`recipient.organization`, `recipient.address_lines` (postal lines),
`recipient.addressee_lines` (the whole addressee block of a printed letter) and
`recipient.email` whatever the kind, so one letter layout (and its addressee
block) serves a senator's office and the White House alike. An office's block is
the formal one of congressional correspondence (addressee.py). The older names (`legislator`,
`contact`) stay in an office's context; a target's context has `target` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from capitolmail.letters.addressee import for_legislator
from capitolmail.recipients.contacts import OfficeContact
from capitolmail.recipients.members import Legislator
from capitolmail.recipients.target_rows import Target


@dataclass(frozen=True, slots=True)
class RecipientShape:
    """Who one message is addressed to, as every template sees it.

    `name` and `title` are the addressee's (the member, not the staffer whose
    inbox gets the copy); `email` is where this copy goes. `kind` is "office" or
    "target" and `id` the bioguide id or the target's id.
    """

    kind: Literal["office", "target"]
    id: str
    name: str
    title: str
    salutation: str
    organization: str
    address_lines: tuple[str, ...]
    email: str
    contact_url: str | None = None
    phone: str | None = None
    # The addressee block of a printed letter, name first (the PDF letterhead's).
    addressee_lines: tuple[str, ...] = ()


def office_shape(legislator: Legislator, contact: OfficeContact | None = None) -> RecipientShape:
    """A member's office: "Senator", "Dear Senator Murkowski:", the Capitol office address.

    Without `contact` (a printed letter, which is the same for every staffer of the
    office), `email` is empty.
    """
    formal = for_legislator(legislator)
    return RecipientShape(
        kind="office",
        id=legislator.bioguide,
        name=legislator.official_full,
        title=legislator.title,
        salutation=formal.salutation,
        organization=formal.organization,
        address_lines=formal.postal_lines,
        email=contact.email if contact is not None else "",
        contact_url=legislator.contact_form,
        phone=legislator.phone,
        addressee_lines=formal.address_lines,
    )


def target_shape(target: Target) -> RecipientShape:
    """A target as targets.csv gives it (its email: the letter checks it has one)."""
    return RecipientShape(
        kind="target",
        id=target.id,
        name=target.name,
        title=target.title,
        salutation=target.salutation,
        organization=target.organization,
        address_lines=target.address_lines,
        email=target.email or "",
        contact_url=target.contact_url,
        phone=target.phone,
        addressee_lines=tuple(
            line
            for line in (target.name, target.title, target.organization, *target.address_lines)
            if line
        ),
    )
