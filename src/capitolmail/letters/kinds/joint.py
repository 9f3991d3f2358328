"""A joint letter: one message to each matching contact of each selected office,
and to each target (recipients/targets.csv) the audience names.

Everything that can be wrong is found before anything is rendered: the letter
definition, the signers, the contacts, the audience, the templates, all problems
reported at once. A half-queued coalition letter is worse than none (the missing
offices are hard to spot and easy to resend to), so the pipeline stores all of
it or nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from capitolmail.attachment import Attachment
from capitolmail.config import Settings
from capitolmail.config.sections import OrganisationSettings
from capitolmail.errors import CapitolmailError, InputError
from capitolmail.letters.definition import Letter
from capitolmail.letters.example_values import refuse_in_letter
from capitolmail.letters.identity import Sender
from capitolmail.letters.kind import (
    Envelope,
    Labels,
    Page,
    Screen,
    shared_context,
)
from capitolmail.letters.pdf_letter import (
    Lookahead,
    PdfLetter,
)
from capitolmail.letters.recipient_shape import office_shape, target_shape
from capitolmail.letters.signers import SignerList
from capitolmail.outbox import QueuedMessage, Store, email_key
from capitolmail.recipients.contacts import DepartedContact, OfficeContact
from capitolmail.recipients.legislators import Legislator
from capitolmail.recipients.target_rows import Target
from capitolmail.recipients.targets import TARGETS_DISPLAY
from capitolmail.templates.render import LetterTemplates, RenderedLetter


@dataclass(frozen=True, slots=True)
class Recipient:
    """One office contact of one selected legislator: one message."""

    legislator: Legislator
    contact: OfficeContact


@dataclass(frozen=True, slots=True)
class TargetRecipient:
    """One target of recipients/targets.csv: one message to its email."""

    target: Target


@dataclass(frozen=True, slots=True)
class JointLetter:
    letter: Letter
    signers: SignerList
    templates: LetterTemplates
    sender: Sender
    organisation: OrganisationSettings
    offices: tuple[Legislator, ...]
    recipients: tuple[Recipient | TargetRecipient, ...]
    offices_without_contacts: tuple[Legislator, ...]
    contacts_display: str
    # Rows of offices.csv whose member is no longer serving: never sent to, noted.
    departed_contacts: tuple[DepartedContact, ...] = ()
    targets: tuple[Target, ...] = ()
    # For a sign-on letter: its signature counts, and the warning when some await a decision.
    sign_on_count: str | None = None
    sign_on_warning: str | None = None
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

    def envelope(self, recipient: Recipient | TargetRecipient) -> Envelope:
        shared = {
            "signers": self.signers,
            **shared_context(self.letter, self.organisation, self.sender),
        }
        if isinstance(recipient, TargetRecipient):
            target = recipient.target
            assert target.email is not None  # prepare_joint refuses a target without one
            return Envelope(
                to_email=target.email,
                to_name=target.name,
                # Said in a render error: a mixed letter's template may still use `legislator`.
                who=(
                    f"for {target.email}, {target.name} (target {target.id}: templates see it "
                    "as recipient and target, not legislator or contact)"
                ),
                context={**shared, "recipient": target_shape(target), "target": target},
                target_id=target.id,
            )
        legislator, contact = recipient.legislator, recipient.contact
        return Envelope(
            to_email=contact.email,
            to_name=contact.name,
            who=f"for {contact.email}, {legislator.full_name}",
            context={
                **shared,
                "recipient": office_shape(legislator, contact),
                "legislator": legislator,
                "contact": contact,
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
            offices = (r for r in self.recipients if not isinstance(r, TargetRecipient))
            order = list(dict.fromkeys(r.legislator.bioguide for r in offices))
            self.lookahead.before(envelope.bioguide, order, self._office_html)
        return (self.pdf.attachment(envelope.context, envelope.bioguide or envelope.target_id),)

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
            names.update(legislator=office, recipient=office_shape(office))
        return names

    def office_pdf(self, office: Legislator | None) -> Attachment:
        """One office's PDF (the shared one for None), the same bytes its messages carry:
        the PDF sees no contact, so it is built from the same names here."""
        assert self.pdf is not None
        office_id = office.bioguide if office is not None else None
        return self.pdf.attachment(self.pdf_names(office), office_id)

    def tally(self) -> JointTally:
        return JointTally(self)

    def pick(self, store: Store | None, to: str | None) -> Recipient | TargetRecipient:
        """The recipient a preview shows: the first, or the one `to` names (a bioguide
        id, a target id or an email)."""
        if not to:
            return self.recipients[0]
        wanted = to.strip().casefold()
        for recipient in self.recipients:
            if wanted in _names(recipient):
                return recipient
        raise CapitolmailError(
            f'"{to}" is not among the recipients of {self.letter.slug}; '
            "`capitolmail letters check` lists the offices"
        )

    def proof_envelope(self, recipient: Recipient, to_email: str) -> Envelope:
        """The office's letter unchanged; a proof must never reach an office, so an
        address of any contact of this letter is refused."""
        wanted = email_key(to_email)
        for other in self.recipients:
            if email_key(other.contact.email) == wanted:
                raise CapitolmailError(
                    f'--to: "{to_email}" is a recipient of {self.letter.slug} '
                    f"({other.legislator.full_name}'s office); a proof goes to yourself, "
                    "never to an office"
                )
        return self.envelope(recipient)

    def example_screen(self, settings: Settings) -> Screen | None:
        refuse_in_letter(
            settings,
            self.letter,
            contacts=(r.contact for r in self.recipients if isinstance(r, Recipient)),
            signers=self.signers.signers,
            contacts_path=self.contacts_display,
            targets=self.targets,
            targets_path=TARGETS_DISPLAY,
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
    targets: set[str] = field(default_factory=set)

    def count(self, recipient: Recipient | TargetRecipient, queued: QueuedMessage) -> None:
        self.messages += 1
        self.suppressed += queued.suppressed is not None
        if isinstance(recipient, TargetRecipient):
            self.targets.add(recipient.target.id)
            return
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
        prepared = self.prepared
        lines.extend(departed_notes(prepared.departed_contacts, prepared.contacts_display))
        return lines

    def _whom(self, offices: int, extra: str = "") -> str:
        """ "22 offices (22 senate)", "2 targets", or both joined by "and"."""
        chambers = ", ".join(f"{n} {c}" for c, n in sorted(self.chambers.items()))
        parts = [f"{offices} offices ({chambers}{extra})"] if offices or not self.targets else []
        if self.targets:
            parts.append(f"{len(self.targets)} target{'s' * (len(self.targets) != 1)}")
            if extra and not offices:
                parts[-1] += f" ({extra.removeprefix('; ')})"
        return " and ".join(parts)

    def queue_lines(self, job_id: int | None, *, dry_run: bool) -> list[str]:
        offices = len(self.reached)
        if dry_run:
            return [
                *self.notes(),
                *self.sign_on_lines(warn=True),
                f"Dry run: {self.messages} messages to {self._whom(offices)}; nothing stored.",
            ]
        skipped = f"; {self.suppressed} suppressed, not to be sent" if self.suppressed else ""
        return [
            *self.notes(),
            *self.sign_on_lines(warn=True),
            f"Queued job {job_id}: {self.messages} messages to {self._whom(offices, skipped)}. "
            f"Send it with: capitolmail send {job_id}",
        ]

    def check_lines(self) -> list[str]:
        slug, offices = self.prepared.letter.slug, len(self.prepared.offices)
        whom = f"{offices} offices"
        if self.prepared.targets:
            count = len(self.prepared.targets)
            target_text = f"{count} target{'s' * (count != 1)}"
            whom = f"{whom} and {target_text}" if offices else target_text
        return [
            *self.notes(),
            *self.sign_on_lines(warn=False),
            f"OK: {slug} renders {self.messages} messages to {whom}.",
        ]

    def sign_on_lines(self, *, warn: bool) -> list[str]:
        lines = [self.prepared.sign_on_count] if self.prepared.sign_on_count else []
        if warn and self.prepared.sign_on_warning:
            lines.append(self.prepared.sign_on_warning)
        return lines


def departed_notes(departed: Iterable[DepartedContact], contacts_display: str) -> list[str]:
    """One note per member no longer serving who still has rows in offices.csv.

    Their rows are never matched to an office (the member is not in the roster),
    so nothing goes to them; the note tells staff which rows to delete. Every
    letter shows it, whatever its audience: the data no longer says where the
    member sat, and the rows are stale for every letter alike.
    """
    by_member: dict[str, list[DepartedContact]] = {}
    for row in departed:
        by_member.setdefault(row.departure.bioguide, []).append(row)
    notes = []
    for rows in by_member.values():
        lines = ", ".join(str(row.contact.line) for row in rows)
        count = f"{len(rows)} contact{'s' * (len(rows) != 1)}"
        notes.append(
            f"Note: {rows[0].departure.describe()} is no longer serving (gone from the data "
            f"imported {rows[0].departure.noticed}); {count} in {contacts_display} "
            f"(line{'s' * (len(rows) != 1)} {lines}) not sent to; delete them"
        )
    return notes


def _names(recipient: Recipient | TargetRecipient) -> tuple[str, ...]:
    """What `letters preview --to` may call a recipient by, casefolded."""
    if isinstance(recipient, TargetRecipient):
        return (recipient.target.id, (recipient.target.email or "").casefold())
    return (recipient.legislator.bioguide.casefold(), recipient.contact.email.casefold())
