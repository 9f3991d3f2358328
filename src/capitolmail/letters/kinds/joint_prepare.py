"""Preparing a joint letter: everything it needs loaded and checked, all problems at once.

The letter definition, the signers, the contacts, the audience (offices and
targets) and the templates are each loaded here and every problem is collected
before any is reported, so a team fixes its letter in one pass; kinds/joint.py
then renders what this prepared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capitolmail.config.sections import OrganisationSettings, SenderSettings
from capitolmail.errors import InputError, Problem, display_path
from capitolmail.letters.definition import Letter
from capitolmail.letters.identity import resolve_sender
from capitolmail.letters.kind import letter_templates
from capitolmail.letters.kinds.joint import JointLetter, Recipient, TargetRecipient
from capitolmail.letters.letter_tables import OFFICE_KEYS
from capitolmail.letters.pdf_letter import PdfLetter, letter_day, prepare_pdf, us_date
from capitolmail.letters.signers import Signer, SignerList, load_signers
from capitolmail.recipients.contacts import DepartedContact, OfficeContact, load_contact_sheet
from capitolmail.recipients.legislators import Legislator, Roster
from capitolmail.recipients.target_rows import Target
from capitolmail.recipients.targeting import select_legislators
from capitolmail.recipients.targets import TARGETS_DISPLAY, workspace_targets
from capitolmail.templates.render import LetterTemplates


def prepare_joint(
    letter: Letter,
    *,
    root: Path,
    roster: Roster,
    contacts_path: Path,
    organisation: OrganisationSettings,
    sender: SenderSettings,
    signed: Sequence[Signer] = (),
    timezone: str = "America/New_York",
) -> JointLetter:
    """Load and validate everything a joint letter needs, collecting every problem at once.

    `signed` are the letter's approved sign-on signatures (signon/review.py).
    """
    loaded = _load_all(letter, root, roster, contacts_path, signed, timezone)
    audience = letter.definition.audience
    recipients, without = _match_contacts(loaded.offices, loaded.contacts, audience.roles)
    if loaded.offices and not recipients:
        roles = ", ".join(audience.roles) or "any role"
        raise InputError(
            f"none of the {len(loaded.offices)} selected offices has a contact with {roles} in "
            f"{loaded.contacts_shown}; add contacts or change audience.roles",
            path=letter.display_path,
        )
    targets, pdf = loaded.targets, loaded.pdf
    _refuse_shared_addresses(letter, targets, recipients)
    return JointLetter(
        letter=letter,
        signers=loaded.signers,
        templates=loaded.templates,
        sender=resolve_sender(letter, organisation, sender),
        organisation=organisation,
        offices=tuple(loaded.offices),
        recipients=(*(TargetRecipient(t) for t in targets), *recipients),
        offices_without_contacts=tuple(without),
        contacts_display=loaded.contacts_shown,
        departed_contacts=loaded.departed,
        targets=tuple(targets),
        pdf=pdf,
        date_line=pdf.date_line if pdf else us_date(letter_day(None, timezone)),
    )


@dataclass(frozen=True)
class _Loaded:
    """What a joint letter is made of, each part loaded and checked."""

    signers: SignerList
    offices: list[Legislator]
    contacts: list[OfficeContact]
    departed: tuple[DepartedContact, ...]
    contacts_shown: str
    targets: list[Target]
    templates: LetterTemplates
    pdf: PdfLetter | None


def _load_all(
    letter: Letter,
    root: Path,
    roster: Roster,
    contacts_path: Path,
    signed: Sequence[Signer],
    timezone: str,
) -> _Loaded:
    """Load every part, collecting every problem; InputError listing them all.

    The contact sheet is read only when the audience names offices (or names
    nothing, when all of Congress is meant), the targets only when it names them.
    """
    definition, audience = letter.definition, letter.definition.audience
    problems: list[Problem] = []
    contacts_shown = display_path(contacts_path, root)
    signers = _collect(
        problems,
        lambda: load_signers(
            letter.signers_file,
            display_path=letter.signers_display,
            lead=definition.lead_signers,
            lead_source=letter.display_path,
            signed=signed,
            sign_on=definition.sign_on is not None,
        ),
    )
    offices_named = any(getattr(audience, key) for key in OFFICE_KEYS)
    targets_named = bool(audience.targets or audience.target_tags)
    sheet = None
    offices: list[Legislator] = []
    if offices_named or not targets_named:
        sheet = _collect(
            problems, lambda: load_contact_sheet(contacts_path, roster, display_path=contacts_shown)
        )
        offices = _collect(problems, lambda: _select_offices(letter, roster))
    targets = _collect(problems, lambda: _select_targets(letter, root)) if targets_named else []
    templates = _collect(problems, lambda: letter_templates(letter, root))
    pdf = _collect(
        problems,
        lambda: prepare_pdf(letter, templates, timezone=timezone) if templates else None,
    )
    if problems:
        raise InputError(problems)
    return _Loaded(
        signers=signers,
        offices=offices,
        contacts=list(sheet.contacts) if sheet is not None else [],
        departed=tuple(sheet.departed) if sheet is not None else (),
        contacts_shown=contacts_shown,
        targets=targets,
        templates=templates,
        pdf=pdf,
    )


def _refuse_shared_addresses(
    letter: Letter, targets: list[Target], recipients: list[Recipient]
) -> None:
    """A target whose email is also an office contact's would get the letter twice."""
    contacts = {r.contact.email.casefold(): r for r in recipients}
    for target in targets:
        office = contacts.get((target.email or "").casefold())
        if office is not None:
            raise InputError(
                f"target {target.id} ({TARGETS_DISPLAY} line {target.line}) and the contact "
                f"of {office.legislator.full_name} (recipients/offices.csv line "
                f"{office.contact.line}) share the address {target.email}, which would get "
                "this letter twice; keep one",
                path=letter.display_path,
            )


def _select_targets(letter: Letter, root: Path) -> list[Target]:
    """The targets the audience names; each needs an email, since it gets a message."""
    audience = letter.definition.audience
    chosen = workspace_targets(root).select(
        audience.targets, audience.target_tags, source=letter.display_path, section="audience"
    )
    without = [t for t in chosen if t.email is None]
    if without:
        names = ", ".join(f"{t.id} (line {t.line})" for t in without)
        raise InputError(
            f"target{'s' * (len(without) > 1)} {names} in {TARGETS_DISPLAY} "
            "has no email, and a joint letter is sent by email; fill in the email column "
            "or take the target out of audience.targets / target_tags",
            path=letter.display_path,
        )
    return chosen


def _select_offices(letter: Letter, roster: Roster) -> list[Legislator]:
    audience = letter.definition.audience
    return select_legislators(
        roster,
        chambers=audience.chambers,
        states=audience.states,
        committees=audience.committees,
        parties=audience.parties,
        include=audience.include,
        exclude=audience.exclude,
        everyone=audience.everyone,
        source=letter.display_path,
    )


def _match_contacts(
    offices: list[Legislator], contacts: list[OfficeContact], roles: list[str]
) -> tuple[list[Recipient], list[Legislator]]:
    wanted = {role.casefold() for role in roles}
    by_office: dict[str, list[OfficeContact]] = {}
    for contact in contacts:
        if not wanted or contact.role.casefold() in wanted:
            by_office.setdefault(contact.bioguide, []).append(contact)
    recipients: list[Recipient] = []
    without: list[Legislator] = []
    for office in offices:
        matched = by_office.get(office.bioguide, [])
        if not matched:
            without.append(office)
        recipients.extend(Recipient(office, contact) for contact in matched)
    return recipients, without


def _collect(problems: list[Problem], load: Callable[[], Any]) -> Any:
    try:
        return load()
    except InputError as err:
        problems.extend(err.problems)
        return None
