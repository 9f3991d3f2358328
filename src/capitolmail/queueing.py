"""Queue a letter: select the offices, render every message now, store them frozen.

Everything that can be wrong is found before anything is written: the letter
definition, the signers, the contacts, every template against every recipient.
One bad message means nothing is queued, because a half-queued coalition letter
is worse than none (the missing offices are hard to spot and easy to resend to).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from capitolmail.config import OrganisationSettings, SenderSettings
from capitolmail.errors import ConfigError, InputError, Problem, display_path
from capitolmail.letters.compose import compose_message
from capitolmail.letters.definition import Letter, load_letter, normalise_address
from capitolmail.letters.resend import DEFAULT_RESEND_PERIOD, refuse_same_content
from capitolmail.letters.signers import SignerList, load_signers
from capitolmail.message import control_character
from capitolmail.outbox import QueuedMessage, Store, email_key
from capitolmail.recipients.contacts import OfficeContact, load_contacts
from capitolmail.recipients.legislators import Legislator, Roster
from capitolmail.recipients.targeting import select_legislators
from capitolmail.templates.render import LetterTemplates

Progress = Callable[[int, int], None]
SUPPRESSED_AT_QUEUE = "suppressed when queued: the address is on the suppression list"


@dataclass(frozen=True, slots=True)
class Sender:
    """The resolved From and Reply-To: the letter's own, else the workspace's."""

    name: str
    email: str
    reply_to: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """One office contact of one selected legislator: one message."""

    legislator: Legislator
    contact: OfficeContact


@dataclass(frozen=True, slots=True)
class PreparedLetter:
    letter: Letter
    signers: SignerList
    templates: LetterTemplates
    sender: Sender
    offices: tuple[Legislator, ...]
    recipients: tuple[Recipient, ...]
    offices_without_contacts: tuple[Legislator, ...]


@dataclass(frozen=True, slots=True)
class QueueResult:
    job_id: int | None
    messages: int
    offices: int
    offices_by_chamber: dict[str, int]
    offices_without_contacts: tuple[Legislator, ...]
    suppressed: int = 0


def prepare_letter(
    root: Path,
    slug: str,
    *,
    roster: Roster,
    contacts_path: Path,
    organisation: OrganisationSettings,
    sender: SenderSettings,
) -> PreparedLetter:
    """Load and validate everything a letter needs, collecting every problem at once."""
    letter = load_letter(root, slug)
    definition = letter.definition
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
        problems,
        lambda: load_contacts(contacts_path, roster, display_path=contacts_shown),
    )
    audience = definition.audience
    offices = _collect(
        problems,
        lambda: select_legislators(
            roster,
            chambers=audience.chambers,
            states=audience.states,
            committees=audience.committees,
            parties=audience.parties,
            include=audience.include,
            exclude=audience.exclude,
            everyone=audience.everyone,
            source=letter.display_path,
        ),
    )
    templates = _collect(
        problems,
        lambda: LetterTemplates(
            letter.folder,
            workspace_root=root,
            subject=definition.subject,
            text_template=letter.text_template,
            html_template=letter.html_template,
            source=letter.display_path,
        ),
    )
    if problems:
        raise InputError(problems)
    assert signers is not None and contacts is not None and offices is not None
    assert templates is not None

    recipients, without = _match_contacts(offices, contacts, audience.roles)
    if not recipients:
        roles = ", ".join(audience.roles) or "any role"
        raise InputError(
            f"none of the {len(offices)} selected offices has a contact with {roles} in "
            f"{contacts_shown}; add contacts or change audience.roles",
            path=letter.display_path,
        )
    return PreparedLetter(
        letter=letter,
        signers=signers,
        templates=templates,
        sender=resolve_sender(letter, organisation, sender),
        offices=tuple(offices),
        recipients=tuple(recipients),
        offices_without_contacts=tuple(without),
    )


def render_messages(
    prepared: PreparedLetter,
    *,
    organisation: OrganisationSettings,
    job_label: str = "",
    progress: Progress | None = None,
) -> Iterator[QueuedMessage]:
    """Render one message per recipient; the first failure names the recipient."""
    letter = prepared.letter
    base_context: dict[str, Any] = {
        "signers": prepared.signers,
        "organisation": organisation,
        "sender": prepared.sender,
        "letter": {
            "slug": letter.slug,
            "description": letter.definition.description,
        },
    }
    total = len(prepared.recipients)
    for done, recipient in enumerate(prepared.recipients, start=1):
        context = {
            **base_context,
            "legislator": recipient.legislator,
            "contact": recipient.contact,
        }
        who = f"for {recipient.contact.email}, {recipient.legislator.full_name}"
        try:
            rendered = prepared.templates.render(context)
            message = compose_message(
                sender=prepared.sender,
                to_email=recipient.contact.email,
                to_name=recipient.contact.name,
                rendered=rendered,
                source=letter.display_path,
                categories=(letter.slug,),
                job_id=job_label,
            )
        except InputError as err:
            raise for_recipient(err, who) from err
        yield QueuedMessage(
            message=message,
            bioguide=recipient.legislator.bioguide,
            contact_role=recipient.contact.role,
        )
        if progress is not None:
            progress(done, total)


def queue_letter(
    store: Store | None,
    prepared: PreparedLetter,
    *,
    organisation: OrganisationSettings,
    now: datetime,
    dry_run: bool = False,
    allow_resend: bool = False,
    resend_period: timedelta = DEFAULT_RESEND_PERIOD,
    progress: Progress | None = None,
) -> QueueResult:
    """Render every message, refuse resends, then store the job in one transaction."""
    messages = list(render_messages(prepared, organisation=organisation, progress=progress))
    job_id = None
    suppressed = 0
    if store is not None:
        if not allow_resend:
            emails = (m.message.to_email for m in messages)
            refuse_resend(store, prepared.letter, emails, people="recipient(s)")
            refuse_same_content(
                store,
                prepared.letter,
                (m.message for m in messages),
                now=now,
                period=resend_period,
                people="recipients",
            )
        # A contact on the suppression list (a hard bounce, a complaint) is kept as a
        # `suppressed` row, so `status` shows the office was skipped and why.
        blocked = store.suppressed_among(m.message.to_email for m in messages)
        if blocked:
            messages = [
                replace(m, suppressed=SUPPRESSED_AT_QUEUE)
                if email_key(m.message.to_email) in blocked
                else m
                for m in messages
            ]
            suppressed = len([m for m in messages if m.suppressed])
        if not dry_run:
            job_id = store.create_job(
                letter_slug=prepared.letter.slug, kind="joint", messages=messages, now=now
            )
    reached_offices = {m.bioguide for m in messages}
    chambers = Counter(o.chamber for o in prepared.offices if o.bioguide in reached_offices)
    return QueueResult(
        job_id=job_id,
        messages=len(messages),
        offices=len(reached_offices),
        offices_by_chamber=dict(sorted(chambers.items())),
        offices_without_contacts=prepared.offices_without_contacts,
        suppressed=suppressed,
    )


def refuse_resend(store: Store, letter: Letter, emails: Iterable[str], *, people: str) -> None:
    """Refuse when any of `emails` may already have this letter (or alert)."""
    reached = store.reached_recipients(letter.slug, emails)
    if reached:
        listing = ", ".join(sorted(reached)[:3]) + (", …" if len(reached) > 3 else "")
        what = "alert" if letter.definition.is_alert else "letter"
        raise InputError(
            f'{len(reached)} {people} already have {what} "{letter.slug}" ({listing}); '
            "pass --allow-resend to send it to them again",
            path=letter.display_path,
        )


def for_recipient(err: InputError, who: str) -> InputError:
    """The first problem of a render error, saying whose message it was: the template
    line alone does not tell staff which row of their data to look at."""
    first = err.problems[0]
    return InputError(
        [Problem(first.path, f"{first.message} ({who})", line=first.line, field=first.field)]
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


def resolve_sender(
    letter: Letter, organisation: OrganisationSettings, settings: SenderSettings
) -> Sender:
    override = letter.definition.sender
    name = override.name or settings.name or organisation.name
    email = override.email or settings.email
    reply_to = override.reply_to or settings.reply_to
    if not email:
        raise ConfigError(
            "no sender address: set [sender] email in capitolmail.toml "
            f"or [sender] email in {letter.display_path}"
        )
    try:
        email = normalise_address(email)
        reply_to = normalise_address(reply_to) if reply_to else ""
    except ValueError as err:
        raise ConfigError(f"capitolmail.toml [sender]: {err}") from None
    found = control_character(name)
    if found is not None:
        raise ConfigError(
            f"capitolmail.toml: the sender name contains a control character, {found}"
        )
    return Sender(name=name, email=email, reply_to=reply_to)


def _collect(problems: list[Problem], load: Callable[[], Any]) -> Any:
    try:
        return load()
    except InputError as err:
        problems.extend(err.problems)
        return None
