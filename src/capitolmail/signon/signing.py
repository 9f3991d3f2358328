"""Signing, confirming and withdrawing: the rules the form and its links follow.

The web routes call these with what they parsed; the store keeps the result. A
signature is stored `pending` and its contact is mailed a signed, expiring link
(double opt-in): an address typed by someone else, or a bot, never reaches the
letter. A confirmed signature waits for staff (`capitolmail signers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from capitolmail.config.sections import OrganisationSettings
from capitolmail.errors import CapitolmailError, SignOnTokenError
from capitolmail.letters.definition import Letter
from capitolmail.letters.identity import Sender
from capitolmail.letters.letter_tables import SignOn
from capitolmail.outbox import Store
from capitolmail.outbox.signatures import SignatureInfo
from capitolmail.signon import mail, tokens
from capitolmail.signon.form import Checked, check_fields, draft
from capitolmail.signon.logos import Logo

CONFIRM_FOR = timedelta(hours=72)
# A withdrawal link works as long as anyone could still act on it.
WITHDRAW_FOR = timedelta(days=180)


class FormState(StrEnum):
    NOT_YET = "not open yet"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Desk:
    """What every sign-on step needs: the letter, the store and the workspace's values."""

    letter: Letter
    store: Store
    secret: str
    base_url: str
    zone: ZoneInfo
    organisation: OrganisationSettings
    sender: Sender

    @property
    def sign_on(self) -> SignOn:
        found = self.letter.definition.sign_on
        assert found is not None  # the routes serve only letters with [sign_on]
        return found

    def state(self, now: datetime) -> FormState:
        opens, closes = self.sign_on.window(self.zone)
        if opens is not None and now < opens:
            return FormState.NOT_YET
        return FormState.OPEN if now < closes else FormState.CLOSED

    def url(self, path: str) -> str:
        return f"{self.base_url}/sign/{self.letter.slug}{path}"


@dataclass(frozen=True)
class Submitted:
    checked: Checked
    signature: SignatureInfo | None = None


def submit(desk: Desk, form: Mapping[str, str], logo: Logo | None, now: datetime) -> Submitted:
    """Check the form; store a pending signature and queue its confirmation mail.

    Refused with CapitolmailError outside the letter's window (the route shows
    "closed"); problems in the fields come back in `checked` with nothing stored.
    """
    if desk.state(now) is not FormState.OPEN:
        raise CapitolmailError(f"sign-on for {desk.letter.slug} is {desk.state(now)}")
    secret = desk.sign_on.passphrase
    checked = check_fields(form, passphrase=secret.get_secret_value() if secret else None)
    if not checked.ok:
        return Submitted(checked)
    signature = desk.store.add_signature(draft(desk.letter.slug, checked, logo), now)
    expires = now + CONFIRM_FOR
    slug = desk.letter.slug
    confirm = tokens.make_token(desk.secret, tokens.CONFIRM, slug, signature.id, expires)
    withdraw = tokens.make_token(
        desk.secret, tokens.WITHDRAW, slug, signature.id, now + WITHDRAW_FOR
    )
    rendered = mail.confirmation_text(
        signature,
        desk.letter,
        desk.organisation,
        confirm_url=desk.url(f"/confirm/{confirm}"),
        withdraw_url=desk.url(f"/withdraw/{withdraw}"),
        expires=expires,
        zone=desk.zone,
    )
    job_id = mail.queue_mail(
        desk.store,
        desk.letter,
        desk.sender,
        [(signature.email, signature.signatory)],
        rendered,
        now,
    )
    desk.store.attach_confirmation_job(signature.id, job_id)
    return Submitted(checked, signature)


def signature_for(desk: Desk, token: str, purpose: str, now: datetime) -> SignatureInfo:
    """The signature a link names; SignOnTokenError for a forged, foreign or expired one."""
    subject = tokens.verify_token(
        desk.secret, token, purpose=purpose, letter=desk.letter.slug, now=now
    )
    found = desk.store.get_signature(subject) if isinstance(subject, int) else None
    if found is None or found.letter_slug != desk.letter.slug:
        raise SignOnTokenError()
    return found


def confirm(desk: Desk, token: str, now: datetime) -> SignatureInfo:
    """Confirm the address; the first confirmation tells the staff `notify` lists."""
    before = signature_for(desk, token, tokens.CONFIRM, now)
    after = desk.store.confirm_signature(before.id, now)
    if before.status != after.status and desk.sign_on.notify:
        rendered = mail.notice_text(after, desk.letter, desk.organisation)
        recipients = [(address, "") for address in desk.sign_on.notify]
        mail.queue_mail(desk.store, desk.letter, desk.sender, recipients, rendered, now)
    return after


def withdraw(desk: Desk, token: str, now: datetime) -> SignatureInfo:
    """Withdraw before the letter is queued; after, its messages already name the
    organisation, so the signer is told to ask the staff instead."""
    found = signature_for(desk, token, tokens.WITHDRAW, now)
    if desk.store.letter_queued(desk.letter.slug):
        raise CapitolmailError(
            "the letter has already been queued with your organization's name; "
            "reply to the confirmation email to reach the organizers"
        )
    return desk.store.withdraw_signature(found.id, now)
