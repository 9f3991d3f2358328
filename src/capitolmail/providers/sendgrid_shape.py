"""The v3 payload's dict, built by the `sendgrid` package's helpers once per letter.

The helpers cost about half of a payload's CPU (a Mail object per message, and each
address parsed again), and a joint letter's messages differ only in recipient,
subject, bodies and ids. So the helpers build each shape once, with a marker in
every per-message field, and a message fills the markers in: the same dict the
helpers would build (tests/providers/test_sendgrid_payload.py compares the two),
at a third of the cost. sendgrid_payload.py checks the limits around it.
"""

from __future__ import annotations

import functools
from typing import Any, NoReturn

from sendgrid.helpers.mail import (
    Asm,
    Bcc,
    Category,
    Cc,
    ClickTracking,
    CustomArg,
    From,
    GroupId,
    Header,
    Mail,
    MailSettings,
    OpenTracking,
    ReplyTo,
    SandBoxMode,
    To,
    TrackingSettings,
)
from sendgrid.helpers.mail.exceptions import ApiKeyIncludedException
from sendgrid.helpers.mail.validators import ValidateApiKey

from capitolmail.custom_args import JOB_ID_ARG, MESSAGE_ID_ARG
from capitolmail.errors import PermanentSendError
from capitolmail.message import OutgoingMessage, Tracking


def assemble(
    message: OutgoingMessage, sandbox_mode: bool, unsubscribe_group_id: int | None
) -> dict[str, Any]:
    """The helpers' payload for `message`, from a cached shape where there is one.

    A shape whose markers did not come through the helpers unchanged, and a
    recipient without a name (which the helpers parse as an address), go through
    the helpers every time.
    """
    if message.to_name:
        shape = _shape(
            message.from_email,
            message.from_name,
            message.reply_to,
            message.headers,
            message.categories,
            message.tracking,
            message.cc,
            message.bcc,
            bool(message.html),
            sandbox_mode,
            unsubscribe_group_id,
        )
        if shape is not None:
            # What the helpers check in a body (Content's setter) is checked here too.
            for body in (message.text, message.html):
                if body and any(regex.match(body) for regex in _API_KEY.regexes):
                    _refuse_api_key()
            return _filled(shape, dict(zip(_MARKERS, _per_message(message), strict=True)))
    return assemble_with_helpers(message, sandbox_mode, unsubscribe_group_id)


# The per-message fields, as _per_message lists them: markers no letter can contain.
_MARKERS = tuple(
    f"\x00capitolmail-{name}\x00"
    for name in ("to-email", "to-name", "subject", "text", "html", "id", "job", "id-header")
)
_API_KEY = ValidateApiKey()


def _per_message(message: OutgoingMessage) -> tuple[str, ...]:
    return (
        message.to_email,
        message.to_name,
        message.subject,
        message.text,
        message.html or "",
        message.message_id,
        message.job_id,
        message.message_id_header,
    )


@functools.lru_cache(maxsize=64)
def _shape(
    from_email: str,
    from_name: str,
    reply_to: str | None,
    headers: tuple[tuple[str, str], ...],
    categories: tuple[str, ...],
    tracking: Tracking,
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    has_html: bool,
    sandbox_mode: bool,
    unsubscribe_group_id: int | None,
) -> dict[str, Any] | None:
    to_email, to_name, subject, text, html, message_id, job_id, id_header = _MARKERS
    probe = OutgoingMessage(
        message_id=message_id,
        job_id=job_id,
        from_email=from_email,
        from_name=from_name,
        to_email=to_email,
        to_name=to_name,
        subject=subject,
        text=text,
        html=html if has_html else None,
        reply_to=reply_to,
        headers=headers,
        categories=categories,
        tracking=tracking,
        cc=cc,
        bcc=bcc,
    )
    try:
        shape = assemble_with_helpers(probe, sandbox_mode, unsubscribe_group_id)
    except PermanentSendError:
        return None
    expected = {marker: 1 for marker in _MARKERS if has_html or marker != html}
    # The Message-ID header is built from the id marker and the From domain.
    headers_in_shape = shape.get("headers") or {}
    if headers_in_shape.get("Message-ID") == probe.message_id_header:
        headers_in_shape["Message-ID"] = id_header
    found: dict[str, int] = {}
    _count_markers(shape, found)
    return shape if found == expected else None


def _count_markers(node: Any, found: dict[str, int]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _count_markers(value, found)
    elif isinstance(node, list):
        for value in node:
            _count_markers(value, found)
    elif isinstance(node, str) and "\x00capitolmail-" in node:
        found[node] = found.get(node, 0) + 1


def _filled(node: Any, values: dict[str, str]) -> Any:
    """A copy of a cached shape, every marker replaced; the shape itself is never changed."""
    if isinstance(node, dict):
        return {key: _filled(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_filled(value, values) for value in node]
    if isinstance(node, str):
        return values.get(node, node)
    return node


def assemble_with_helpers(
    message: OutgoingMessage, sandbox_mode: bool, unsubscribe_group_id: int | None
) -> dict[str, Any]:
    try:
        mail = Mail(
            from_email=From(message.from_email, message.from_name or None),
            to_emails=To(message.to_email, message.to_name or None),
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html or None,
        )
    except ApiKeyIncludedException:
        _refuse_api_key()
    if message.reply_to:
        mail.reply_to = ReplyTo(message.reply_to)
    # In the recipient's personalization: SendGrid shows cc in the headers and keeps bcc
    # to the envelope, and refuses an address twice among to, cc and bcc (compose
    # removed those).
    for address in message.cc:
        mail.add_cc(Cc(address), p=0)
    for address in message.bcc:
        mail.add_bcc(Bcc(address), p=0)
    mail.add_custom_arg(CustomArg(MESSAGE_ID_ARG, message.message_id, p=0))
    mail.add_custom_arg(CustomArg(JOB_ID_ARG, message.job_id, p=0))
    # Mail.add_header and add_category insert at index 0, so feed them in reverse
    # to keep the letter's order in the JSON.
    headers = [("Message-ID", message.message_id_header), *message.headers]
    for name, value in reversed(headers):
        mail.add_header(Header(name, value))
    for category in reversed(message.categories):
        mail.add_category(Category(category))
    # Said every time, both ways: an account whose defaults track would otherwise
    # rewrite the links of a joint letter to a congressional office.
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(message.tracking.clicks, message.tracking.clicks),
        open_tracking=OpenTracking(message.tracking.opens),
    )
    if sandbox_mode:
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    if unsubscribe_group_id is not None:
        mail.asm = Asm(GroupId(unsubscribe_group_id))
    payload: dict[str, Any] = mail.get()
    return payload


def _refuse_api_key() -> NoReturn:
    raise PermanentSendError(
        "the message body begins with what looks like a SendGrid API key "
        "(SG.xxx.yyy); the sendgrid library refuses to send it"
    ) from None
