"""Compose: the one step that turns a rendered letter into the OutgoingMessage that is stored.

Every kind of letter ends here (`compose`), so every rule a provider checks before
sending is applied once, at queue time, for every kind of letter: a message
that would fail at send (a comma in a recipient name on SendGrid, a Unicode
domain in the file or SMTP provider, a control character or an unfoldable word
in a header) is refused while the user can still fix the row, and nothing of
the job is stored. Sending stays pure I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from capitolmail.attachment import Attachment
from capitolmail.errors import InputError, PermanentSendError, Problem
from capitolmail.letters.copies import copies_for
from capitolmail.message import (
    HeaderError,
    OutgoingMessage,
    Tracking,
    control_character,
    refuse_control_characters,
)
from capitolmail.providers.sendgrid_payload import check_message
from capitolmail.recipients.addresses import ascii_address
from capitolmail.templates.render import RenderedLetter

if TYPE_CHECKING:
    from capitolmail.letters.kind import Envelope, LetterKind

# SendGrid refuses a recipient name holding either; the name is only for show.
_NAME_SEPARATORS = re.compile(r"[;,]")
# Longer names are cut: no one reads them whole, and a provider that builds the
# MIME itself (SendGrid) may not fold a long name under RFC 5322's 998 octets.
MAX_DISPLAY_NAME = 200


class SenderIdentity(Protocol):
    """What compose needs of a resolved sender (letters.identity.Sender has it)."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def reply_to(self) -> str: ...


def clean_display_name(name: str) -> str:
    """The To name as it will be sent: commas and semicolons become spaces, spaces collapse.

    "Nguyen, Jordan" becomes "Nguyen Jordan" and "Jane Doe, PhD" "Jane Doe PhD":
    SendGrid refuses recipient names with either, and a comma in a display name
    is where a careless mail client splits one recipient into two. A control
    character is not cleaned away but refused (ValueError): it means the data
    is broken or hostile, and the person fixing the row should see it. A name
    past MAX_DISPLAY_NAME characters is cut there.
    """
    refuse_control_characters(name)
    cleaned = " ".join(_NAME_SEPARATORS.sub(" ", name).split())
    return cleaned[:MAX_DISPLAY_NAME].rstrip()


def compose(kind: LetterKind, envelope: Envelope) -> OutgoingMessage:
    """Render one recipient's message and check it as it will be sent.

    The kind's own check (an alert must show its unsubscribe link) runs between
    rendering and composing; its errors already name the recipient.
    """
    letter = kind.letter
    rendered = render_checked(kind, envelope)
    definition = letter.definition
    refuse_copy_to_recipient(envelope.to_email, definition.cc, definition.bcc, letter.display_path)
    try:
        attachments = kind.attachments(envelope)
        return compose_message(
            sender=kind.sender,
            to_email=envelope.to_email,
            to_name=envelope.to_name,
            rendered=rendered,
            source=letter.display_path,
            headers=envelope.headers,
            categories=(letter.slug,),
            tracking=letter.definition.effective_tracking,
            cc=definition.cc,
            bcc=definition.bcc,
            attachments=attachments,
        )
    except InputError as err:
        raise for_recipient(err, envelope.who) from err


def render_checked(kind: LetterKind, envelope: Envelope) -> RenderedLetter:
    """One recipient's subject and bodies, passed by the kind's own check.

    Apart from `compose` so a proof (letters/proof.py) renders exactly what the
    queue would, then addresses it elsewhere.
    """
    try:
        rendered = kind.templates.render(envelope.context)
    except InputError as err:
        raise for_recipient(err, envelope.who) from err
    kind.check(rendered, envelope)
    return rendered


def refuse_copy_to_recipient(
    to_email: str, cc: Iterable[str], bcc: Iterable[str], source: str
) -> None:
    """Refuse a letter whose Cc or Bcc is also one of its recipients.

    That address would get every other recipient's copy on top of its own: an
    office contact in Bcc would read each office's letter unseen. The team says
    which it is meant to be by removing the address from cc/bcc or from the audience.
    """
    key = to_email.strip().lower()
    for field, addresses in (("cc", cc), ("bcc", bcc)):
        if any(address.lower() == key for address in addresses):
            raise InputError(
                [
                    Problem(
                        source,
                        f"{to_email} is a recipient of this letter and in {field}, so it would "
                        "get every recipient's copy besides its own; remove it from "
                        f"{field} or from the audience",
                        field=field,
                    )
                ]
            )


def for_recipient(err: InputError, who: str) -> InputError:
    """The first problem of a render error, saying whose message it was: the template
    line alone does not tell staff which row of their data to look at."""
    first = err.problems[0]
    return InputError(
        [Problem(first.path, f"{first.message} ({who})", line=first.line, field=first.field)]
    )


def compose_message(
    *,
    sender: SenderIdentity,
    to_email: str,
    to_name: str,
    rendered: RenderedLetter,
    source: str,
    headers: Iterable[tuple[str, str]] = (),
    categories: Iterable[str] = (),
    job_id: str = "",
    tracking: Tracking | None = None,
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
    attachments: Iterable[Attachment] = (),
) -> OutgoingMessage:
    """One message, checked as every provider would check it; InputError naming `source`.

    `compose` adds whose message it was (`for_recipient`). The headers
    are built once here exactly as they will go on the wire, so a header that
    cannot be written is found now, not by a worker halfway through the job.
    """

    def refuse(message: str) -> InputError:
        return InputError([Problem(source, message)])

    name, address, (kept_cc, kept_bcc) = _checked_recipients(to_name, to_email, cc, bcc, refuse)
    message = OutgoingMessage(
        message_id=str(uuid.uuid4()),
        job_id=job_id,
        from_email=sender.email,
        from_name=sender.name,
        to_email=address,
        to_name=name,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        reply_to=sender.reply_to or None,
        headers=tuple(headers),
        categories=tuple(categories),
        tracking=tracking or Tracking(),
        cc=kept_cc,
        bcc=kept_bcc,
        attachments=tuple(attachments),
    )
    try:
        message.header_lines()
    except HeaderError as err:
        raise refuse(f'the "{err.header}" header {err.problem}') from None
    try:
        check_message(message)
    except PermanentSendError as err:
        raise refuse(str(err)) from None
    return message


def _checked_recipients(
    to_name: str,
    to_email: str,
    cc: Iterable[str],
    bcc: Iterable[str],
    refuse: Callable[[str], InputError],
) -> tuple[str, str, tuple[tuple[str, ...], ...]]:
    """The recipient's display name and address, and the copies kept (none twice, never
    the recipient again), each as it will go on the wire; `refuse` words a bad one."""
    try:
        name = clean_display_name(to_name)
    except ValueError as err:
        raise refuse(f'the recipient name "{_shown(to_name)}" {err}') from None
    try:
        address = ascii_address(to_email)
    except ValueError as err:
        raise refuse(f"the recipient address: {err}") from None
    try:
        copies = [tuple(ascii_address(a) for a in addresses) for addresses in (cc, bcc)]
    except ValueError as err:
        raise refuse(f"a cc or bcc address: {err}") from None
    return name, address, copies_for(address, *copies)


def _shown(value: str) -> str:
    """A value as it can be quoted on one line of an error message."""
    text = value.encode("unicode_escape").decode("ascii") if control_character(value) else value
    return text if len(text) <= 60 else f"{text[:57]}…"
