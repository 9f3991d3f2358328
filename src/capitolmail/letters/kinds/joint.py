"""A joint letter: one message to each matching contact of each selected office.

Everything that can be wrong is found before anything is rendered: the letter
definition, the signers, the contacts, the audience, the templates, all problems
reported at once. A half-queued coalition letter is worse than none (the missing
offices are hard to spot and easy to resend to), so the pipeline stores all of
it or nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capitolmail.attachment import Attachment
from capitolmail.config import Settings
from capitolmail.config.sections import OrganisationSettings, SenderSettings
from capitolmail.errors import CapitolmailError, InputError, Problem, display_path
from capitolmail.letters.addressee import for_legislator
from capitolmail.letters.definition import Letter
from capitolmail.letters.example_values import refuse_in_letter
from capitolmail.letters.identity import Sender, resolve_sender
from capitolmail.letters.kind import (
    Envelope,
    Labels,
    Page,
    Screen,
    letter_templates,
    shared_context,
)
from capitolmail.letters.pdf_letter import (
    Lookahead,
    PdfLetter,
    letter_day,
    prepare_pdf,
    us_date,
)
from capitolmail.letters.signers import SignerList, load_signers
from capitolmail.outbox import QueuedMessage, Store
from capitolmail.recipients.contacts import OfficeContact, load_contacts
from capitolmail.recipients.legislators import Legislator, Roster
from capitolmail.recipients.targeting import select_legislators
from capitolmail.templates.render import LetterTemplates, RenderedLetter


@dataclass(frozen=True, slots=True)
class Recipient:
    """One office contact of one selected legislator: one message."""

    legislator: Legislator
    contact: OfficeContact


@dataclass(frozen=True, slots=True)
class JointLetter:
    letter: Letter
    signers: SignerList
    templates: LetterTemplates
    sender: Sender
    organisation: OrganisationSettings
    offices: tuple[Legislator, ...]
    recipients: tuple[Recipient, ...]
    offices_without_contacts: tuple[Legislator, ...]
    contacts_display: str
    # [pdf]: the printed letter each message carries; None for an email-only letter.
    pdf: PdfLetter | None = None
    # The letter's date, "December 1, 2026" (`date` in every template).
    date_line: str = ""
    # Offices whose PDFs are laid out or on their way to every core (pdf_letter.py).
    lookahead: Lookahead = field(default_factory=Lookahead, compare=False, repr=False)

    labels = Labels(
        job_kind="joint", people="recipients", reached_people="recipient(s)", progress="Rendering"
    )

    def total(self, store: Store | None) -> int:
        return len(self.recipients)

    def pages(self, store: Store | None) -> Iterator[Page]:
        """One page: a few thousand contacts at most, already in memory, so a refusal
        counts and lists every recipient at once."""
        yield Page(self.recipients, len(self.recipients))

    def envelope(self, recipient: Recipient) -> Envelope:
        legislator, contact = recipient.legislator, recipient.contact
        return Envelope(
            to_email=contact.email,
            to_name=contact.name,
            who=f"for {contact.email}, {legislator.full_name}",
            context={
                "signers": self.signers,
                **shared_context(self.letter, self.organisation, self.sender),
                "legislator": legislator,
                "contact": contact,
                "recipient": for_legislator(legislator),
                "date": self.date_line,
            },
            bioguide=legislator.bioguide,
            contact_role=contact.role,
        )

    def check(self, rendered: RenderedLetter, envelope: Envelope) -> None:
        """Nothing beyond compose's rules: an office letter carries no list headers."""

    def attachments(self, envelope: Envelope) -> tuple[Attachment, ...]:
        """The office's PDF (or the letter's one shared PDF) when letter.toml has [pdf]."""
        if self.pdf is None:
            return ()
        if self.pdf.per_office and envelope.bioguide:
            order = list(dict.fromkeys(r.legislator.bioguide for r in self.recipients))
            self.lookahead.before(envelope.bioguide, order, self._office_html)
        return (self.pdf.attachment(envelope.context, envelope.bioguide),)

    def _office_html(self, bioguide: str) -> str | None:
        """One office's PDF HTML for the pool; None if it fails (reported in its turn)."""
        office = next((o for o in self.offices if o.bioguide == bioguide), None)
        if office is None or self.pdf is None:
            return None
        try:
            return self.pdf.html(self.pdf_names(office))
        except InputError:
            return None

    def pdf_names(self, office: Legislator | None) -> dict[str, Any]:
        """What the PDF template is given for `office` (None: the shared PDF)."""
        names: dict[str, Any] = {
            "signers": self.signers,
            **shared_context(self.letter, self.organisation, self.sender),
        }
        if office is not None:
            names.update(legislator=office, recipient=for_legislator(office))
        return names

    def office_pdf(self, office: Legislator | None) -> Attachment:
        """One office's PDF (the shared one for None), the same bytes its messages carry:
        the PDF sees no contact, so it is built from the same names here."""
        assert self.pdf is not None
        office_id = office.bioguide if office is not None else None
        return self.pdf.attachment(self.pdf_names(office), office_id)

    def tally(self) -> JointTally:
        return JointTally(self)

    def pick(self, store: Store | None, to: str | None) -> Recipient:
        """The office a preview shows: the first, or the one `to` names (bioguide or email)."""
        if not to:
            return self.recipients[0]
        wanted = to.strip().casefold()
        for recipient in self.recipients:
            if wanted in (
                recipient.legislator.bioguide.casefold(),
                recipient.contact.email.casefold(),
            ):
                return recipient
        raise CapitolmailError(
            f'"{to}" is not among the recipients of {self.letter.slug}; '
            "`capitolmail letters check` lists the offices"
        )

    def example_screen(self, settings: Settings) -> Screen | None:
        refuse_in_letter(
            settings,
            self.letter,
            contacts=(r.contact for r in self.recipients),
            signers=self.signers.signers,
            contacts_path=self.contacts_display,
        )
        return None

    def nobody(self) -> InputError:
        return InputError("this letter has no recipients", path=self.letter.display_path)


@dataclass
class JointTally:
    """Messages, offices reached and their chambers, as `queue` reports them."""

    prepared: JointLetter
    messages: int = 0
    suppressed: int = 0
    reached: set[str] = field(default_factory=set)
    chambers: Counter[str] = field(default_factory=Counter)

    def count(self, recipient: Recipient, queued: QueuedMessage) -> None:
        self.messages += 1
        self.suppressed += queued.suppressed is not None
        office = recipient.legislator
        if office.bioguide not in self.reached:
            self.reached.add(office.bioguide)
            self.chambers[office.chamber] += 1

    def notes(self) -> list[str]:
        lines = [f"Note: {duplicate}" for duplicate in self.prepared.signers.duplicates]
        lines.extend(
            f"Note: no contact for {office.full_name} ({office.bioguide}); this office gets nothing"
            for office in self.prepared.offices_without_contacts
        )
        return lines

    def queue_lines(self, job_id: int | None, *, dry_run: bool) -> list[str]:
        chambers = ", ".join(f"{n} {c}" for c, n in sorted(self.chambers.items()))
        offices = len(self.reached)
        if dry_run:
            return [
                *self.notes(),
                f"Dry run: {self.messages} messages to {offices} offices ({chambers}); "
                "nothing stored.",
            ]
        skipped = f"; {self.suppressed} suppressed, not to be sent" if self.suppressed else ""
        return [
            *self.notes(),
            f"Queued job {job_id}: {self.messages} messages to {offices} offices "
            f"({chambers}{skipped}). Send it with: capitolmail send {job_id}",
        ]

    def check_lines(self) -> list[str]:
        slug, offices = self.prepared.letter.slug, len(self.prepared.offices)
        return [*self.notes(), f"OK: {slug} renders {self.messages} messages to {offices} offices."]


def prepare_joint(
    letter: Letter,
    *,
    root: Path,
    roster: Roster,
    contacts_path: Path,
    organisation: OrganisationSettings,
    sender: SenderSettings,
    timezone: str = "America/New_York",
) -> JointLetter:
    """Load and validate everything a joint letter needs, collecting every problem at once."""
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
        ),
    )
    contacts = _collect(
        problems, lambda: load_contacts(contacts_path, roster, display_path=contacts_shown)
    )
    offices = _collect(problems, lambda: _select_offices(letter, roster))
    templates = _collect(problems, lambda: letter_templates(letter, root))
    pdf = _collect(
        problems,
        lambda: prepare_pdf(letter, templates, timezone=timezone) if templates else None,
    )
    if problems:
        raise InputError(problems)
    recipients, without = _match_contacts(offices, contacts, audience.roles)
    if not recipients:
        roles = ", ".join(audience.roles) or "any role"
        raise InputError(
            f"none of the {len(offices)} selected offices has a contact with {roles} in "
            f"{contacts_shown}; add contacts or change audience.roles",
            path=letter.display_path,
        )
    return JointLetter(
        letter=letter,
        signers=signers,
        templates=templates,
        sender=resolve_sender(letter, organisation, sender),
        organisation=organisation,
        offices=tuple(offices),
        recipients=tuple(recipients),
        offices_without_contacts=tuple(without),
        contacts_display=contacts_shown,
        pdf=pdf,
        date_line=pdf.date_line if pdf else us_date(letter_day(None, timezone)),
    )


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
