"""The sign-on form's fields: what a signer typed, checked as strictly as signers.csv is.

Every field is hostile until checked: it is shown to staff, printed in the letter to
every office and, for the address, mailed to. Line breaks and control characters are
refused (they would break the signer block and the CSV export), lengths are bounded,
the state is a USPS code or "national", and the address is validated as every other
address is. Every problem is collected, so the form shows them all at once.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from capitolmail.letters.signers import organisation_key
from capitolmail.message import control_character
from capitolmail.outbox.signatures import SignatureDraft
from capitolmail.recipients.addresses import normalised_address
from capitolmail.recipients.states import normalise_state
from capitolmail.signon.logos import Logo

FIELDS = ("organization", "signatory", "title", "state", "email")
MAX_LENGTH = {"organization": 200, "signatory": 120, "title": 120, "state": 40, "email": 254}
REQUIRED = ("organization", "signatory", "email")
LABELS = {
    "organization": "Organization",
    "signatory": "Name of the person signing",
    "title": "Title",
    "state": "State",
    "email": "Contact email",
    "consent": "Consent",
    "passphrase": "Coalition passphrase",
    "logo": "Logo",
}
NATIONAL = "national"


@dataclass
class Checked:
    """The cleaned values (to show the form again) and the problems by field."""

    values: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_fields(form: Mapping[str, str], *, passphrase: str | None) -> Checked:
    values = {name: _clean(form.get(name, "")) for name in FIELDS}
    checked = Checked(values)
    for name in FIELDS:
        value = values[name]
        found = control_character(form.get(name, ""))
        if found is not None:
            checked.problems[name] = f"contains a control character ({found}); retype it"
        elif len(value) > MAX_LENGTH[name]:
            checked.problems[name] = f"is too long; {MAX_LENGTH[name]} characters at most"
        elif name in REQUIRED and not value:
            checked.problems[name] = "is required"
    if "organization" not in checked.problems and not organisation_key(values["organization"]):
        checked.problems["organization"] = "needs at least one letter or digit"
    state = values["state"]
    if state and state.casefold() != NATIONAL and normalise_state(state) is None:
        checked.problems["state"] = 'is not a US state; use a code such as "OR", or "national"'
    if "email" not in checked.problems:
        try:
            values["email"] = normalised_address(values["email"])
        except ValueError as err:
            checked.problems["email"] = f"is not a valid address ({err})"
    if form.get("consent") != "yes":
        checked.problems["consent"] = "must be ticked to sign"
    if passphrase is not None:
        given = form.get("passphrase", "").strip().encode("utf-8")
        if not hmac.compare_digest(given, passphrase.encode("utf-8")):
            checked.problems["passphrase"] = "is not the coalition's passphrase"
    return checked


def draft(slug: str, checked: Checked, logo: Logo | None) -> SignatureDraft:
    values = checked.values
    state = values["state"]
    return SignatureDraft(
        letter_slug=slug,
        organisation=values["organization"],
        organisation_key=organisation_key(values["organization"]),
        signatory=values["signatory"],
        title=values["title"] or None,
        state=None if not state or state.casefold() == NATIONAL else normalise_state(state),
        email=values["email"],
        logo=logo.data if logo else None,
        logo_type=logo.content_type if logo else None,
    )


def _clean(value: str) -> str:
    """NFC and single spaces, as signers.csv's cells are cleaned."""
    return " ".join(unicodedata.normalize("NFC", value).split())
