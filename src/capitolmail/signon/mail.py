"""The mail sign-on sends: the confirmation link to a signer, the notice to staff.

Each goes out as a small job of its own (kind "sign-on", letter "SLUG:sign-on"),
through the same outbox, provider and worker as every letter, so it is paced,
retried, suppressed and shown by `capitolmail status` like the rest, and a
provider outage delays a confirmation rather than losing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from capitolmail.config.sections import OrganisationSettings
from capitolmail.letters.compose import compose_message
from capitolmail.letters.definition import Letter
from capitolmail.letters.identity import Sender
from capitolmail.outbox import QueuedMessage, Store, email_key
from capitolmail.outbox.signatures import SignatureInfo
from capitolmail.templates.render import RenderedLetter
from capitolmail.timing.when import describe_instant

JOB_KIND = "sign-on"
SUPPRESSED = "suppressed when queued: the address is on the suppression list"


def job_slug(letter_slug: str) -> str:
    """Apart from the letter's own slug, so its resend checks never see these mails."""
    return f"{letter_slug}:sign-on"


def letter_title(letter: Letter) -> str:
    return letter.definition.description or letter.slug


def confirmation_text(
    signature: SignatureInfo,
    letter: Letter,
    organisation: OrganisationSettings,
    *,
    confirm_url: str,
    withdraw_url: str,
    expires: datetime,
    zone: ZoneInfo,
) -> RenderedLetter:
    sender = organisation.name or "the organizers"
    text = (
        f"Hello {signature.signatory},\n\n"
        f'{sender} received a signature from {signature.organisation} for the letter "'
        f'{letter_title(letter)}".\n\n'
        "It counts only once you confirm it. Open this link and press Confirm:\n\n"
        f"{confirm_url}\n\n"
        f"The link works until {describe_instant(expires, zone)}. If you did not sign, ignore "
        "this message: nothing is counted without your confirmation.\n\n"
        "To take the signature back before the letter is sent, open:\n\n"
        f"{withdraw_url}\n\n"
        f"{_footer(organisation)}"
    )
    return RenderedLetter(subject=f"Confirm your signature: {letter_title(letter)}", text=text)


def notice_text(
    signature: SignatureInfo, letter: Letter, organisation: OrganisationSettings
) -> RenderedLetter:
    where = signature.state or "national"
    merged = (
        f"\nIt was merged with signature {signature.merged_into}, the same organization.\n"
        if signature.merged_into
        else ""
    )
    text = (
        f'A signature for "{letter_title(letter)}" was confirmed and waits for review:\n\n'
        f"  {signature.organisation} ({where})\n"
        f"  {signature.signatory}{', ' + signature.title if signature.title else ''}\n"
        f"  {signature.email}\n{merged}\n"
        f"Review it with: capitolmail signers pending {letter.slug}\n\n"
        f"{_footer(organisation)}"
    )
    return RenderedLetter(subject=f"New signature: {signature.organisation}", text=text)


def queue_mail(
    store: Store,
    letter: Letter,
    sender: Sender,
    recipients: Sequence[tuple[str, str]],
    rendered: RenderedLetter,
    now: datetime,
) -> int:
    """Store one message per (address, name) as a job scheduled now; its id.

    An address on the suppression list is stored `suppressed`, as for any letter.
    """
    suppressed = store.suppressed_among([address for address, _ in recipients])
    items = [
        QueuedMessage(
            compose_message(
                sender=sender,
                to_email=address,
                to_name=name,
                rendered=rendered,
                source=f"{letter.display_path} [sign_on]",
                categories=(letter.slug, JOB_KIND),
            ),
            suppressed=SUPPRESSED if email_key(address) in suppressed else None,
        )
        for address, name in recipients
    ]
    job_id = store.create_job(
        letter_slug=job_slug(letter.slug), kind=JOB_KIND, messages=items, now=now
    )
    store.schedule_job(job_id, at=now, now=now)
    return job_id


def _footer(organisation: OrganisationSettings) -> str:
    lines = [organisation.name, organisation.postal_address]
    return "\n".join(line for line in lines if line) + "\n"
