"""SendGrid's v3 `/mail/send` request body for one message, checked against SendGrid's limits.

Pure: no network, no settings object, so the exact JSON can be tested on its own
(anymail's `SendGridPayload` is kept apart from posting for the same reason).
The limits are checked here, before anything is sent, because in a 300,000-message
alert SendGrid's 400 would arrive one message at a time; the published OpenAPI
schema does not carry most of them (see ../shared/specs/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import orjson

from capitolmail.errors import PermanentSendError
from capitolmail.message import OutgoingMessage, control_character, has_line_break
from capitolmail.providers.sendgrid_shape import assemble

MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
# "under 10,000 bytes", measured as compact UTF-8 JSON of the custom_args object.
CUSTOM_ARGS_BYTES = 10_000
# "less than 30MB" including attachments; read as 30,000,000 bytes, the stricter reading.
TOTAL_BYTES = 30_000_000
# The largest request body under that limit, for the queue-time check (letters/sizes.py).
MAX_REQUEST_BYTES = TOTAL_BYTES - 1
SIZE_LIMIT_OWNER = "SendGrid (requests under 30 MB, attachments counted base64-encoded)"
RESERVED_HEADERS = frozenset(
    name.casefold()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
# Set by build_payload itself from message_id; a letter's own copy would collide.
_OWN_HEADERS = frozenset({"message-id"})


def build_payload(
    message: OutgoingMessage,
    *,
    sandbox_mode: bool = False,
    unsubscribe_group_id: int | None = None,
) -> dict[str, Any]:
    """The JSON object for one message, or PermanentSendError naming the SendGrid limit it breaks.

    Shape: one personalization holding the recipient and our ids in `custom_args`.
    They sit in the personalization because the published schema types the
    top-level `custom_args` as a string (an object there fails the schema) and
    webhook events carry personalization args just the same. Content is
    `text/plain` first, then `text/html`, as SendGrid requires.

    Message-ID: SendGrid's reserved-header list does not name it, so our
    `<uuid@from-domain>` goes in `headers`, as for SMTP and the file outbox; it
    threads replies from congressional offices to the letter. SendGrid may
    still replace it (it did for From domains not authenticated with the
    account; anymail #108, and anymail v3.0 moved its tracking id into
    custom_args for that reason), so events are matched by `custom_args`,
    never by the Message-ID or SendGrid's `smtp-id`.
    """
    payload, _ = build_request(
        message, sandbox_mode=sandbox_mode, unsubscribe_group_id=unsubscribe_group_id
    )
    return payload


def build_request(
    message: OutgoingMessage,
    *,
    sandbox_mode: bool = False,
    unsubscribe_group_id: int | None = None,
) -> tuple[dict[str, Any], bytes]:
    """The payload and the exact bytes to POST; the size limit is measured on those bytes."""
    check_message(message)
    payload = assemble(message, sandbox_mode, unsubscribe_group_id)
    if message.attachments:
        payload["attachments"] = attachment_objects(message)
    body = encode_payload(payload)
    check_limits(payload, size=len(body))
    return payload, body


def request_size(
    message: OutgoingMessage, *, sandbox_mode: bool = False, unsubscribe_group_id: int | None = None
) -> int:
    """The bytes of the request body `message` becomes: what SendGrid's 30 MB limit counts.

    Measured on the JSON itself, so JSON's escaping and base64-encoded attachments
    (whatever the payload holds) count as SendGrid counts them.
    """
    return len(encode_payload(assemble(message, sandbox_mode, unsubscribe_group_id)))


def attachment_objects(message: OutgoingMessage) -> list[dict[str, str]]:
    """SendGrid's `attachments`: base64 content, MIME type, file name, `attachment`.

    Added after the cached shape is filled (sendgrid_shape.py), since the bytes differ
    for every office; they count towards the 30 MB measured on the request body.
    """
    return [
        {
            "content": attachment.base64,
            "type": attachment.content_type,
            "filename": attachment.filename,
            "disposition": "attachment",
        }
        for attachment in message.attachments
    ]


def encode_payload(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the bytes `json.dumps(separators=(",", ":"), ensure_ascii=False)`
    gives, from orjson in 2 us where json took 15 (a 3.4 KB letter; it is done for
    every message sent, in the thread that runs every request)."""
    return orjson.dumps(payload)


def check_limits(payload: dict[str, Any], *, size: int | None = None) -> None:
    """Refuse a payload SendGrid would refuse, naming the limit and this payload's value.

    Written for any v3 payload (several personalizations, cc and bcc), not only
    the one-recipient shape we build, so a later batch mode inherits the checks.
    """
    if size is None:
        size = len(encode_payload(payload))
    if size >= TOTAL_BYTES:
        _refuse(f"a request must be under 30 MB (this message: {size:,} bytes)")
    personalizations = payload.get("personalizations") or []
    _check_recipients(
        [
            recipient
            for personalization in personalizations
            for kind in ("to", "cc", "bcc")
            for recipient in personalization.get(kind) or []
        ]
    )
    _check_personalizations(payload, personalizations)
    _check_headers(payload.get("headers") or {})
    _check_categories(payload.get("categories") or [])
    for part in payload.get("content") or []:
        if not part.get("value"):
            _refuse(f"the {part.get('type')} part must not be empty")


def check_message(message: OutgoingMessage) -> None:
    """Every limit that can be judged from the message alone, as PermanentSendError.

    What must be refused before the helpers see it (they drop or mangle it
    silently), and the recipient-name and category limits `check_limits` checks
    again on the payload. Compose (letters/compose.py) calls this same function
    at queue time, so a message SendGrid would refuse is never queued, whichever
    provider the job is sent with, and the two lists cannot drift apart.
    """
    _check_recipients(
        [
            {"email": message.to_email, "name": message.to_name},
            *({"email": address} for address in (*message.cc, *message.bcc)),
        ]
    )
    _check_categories(message.categories)
    # Each part counts once in the JSON; if the bodies alone reach the limit, so does the request.
    size = sum(len(part.encode()) for part in (message.text, message.html or ""))
    if size >= TOTAL_BYTES:
        _refuse(f"a request must be under 30 MB (this message: {size:,} bytes of body)")
    if not message.subject:
        _refuse("the subject must not be empty")
    if not message.text:
        _refuse("the text/plain part must not be empty")
    _check_message_headers(message.headers)


def _check_recipients(recipients: list[dict[str, Any]]) -> None:
    if len(recipients) > MAX_RECIPIENTS:
        _refuse(
            f"at most {MAX_RECIPIENTS:,} recipients per request, counting to, cc and bcc in "
            f"every personalization (this message: {len(recipients):,})"
        )
    seen: set[str] = set()
    for recipient in recipients:
        address = str(recipient.get("email", ""))
        if address.casefold() in seen:
            _refuse(f"each address may appear once per request ({address} appears twice)")
        seen.add(address.casefold())
        _check_name(str(recipient.get("name") or ""), address)


def _check_name(name: str, address: str) -> None:
    if ";" in name or "," in name:
        _refuse(
            f'recipient names may not contain ";" or "," (name "{name}" for {address}); '
            "remove them from the contact's name"
        )


def _check_personalizations(
    payload: dict[str, Any], personalizations: list[dict[str, Any]]
) -> None:
    top_level = payload.get("custom_args")
    global_args: dict[str, Any] = top_level if isinstance(top_level, dict) else {}
    for personalization in personalizations or [{}]:
        args = {**global_args, **(personalization.get("custom_args") or {})}
        args_size = len(encode_payload(args)) if args else 0
        if args_size >= CUSTOM_ARGS_BYTES:
            _refuse(
                f"custom_args must be under {CUSTOM_ARGS_BYTES:,} bytes "
                f"(this message: {args_size:,})"
            )
        if not (personalization.get("subject") or payload.get("subject")):
            _refuse("the subject must not be empty")
        _check_headers(personalization.get("headers") or {})


def _check_categories(categories: Sequence[str]) -> None:
    if len(categories) > MAX_CATEGORIES:
        _refuse(f"at most {MAX_CATEGORIES} categories (this message: {len(categories)})")
    for category in categories:
        if not category:
            _refuse("a category must not be empty")
        if len(category) > MAX_CATEGORY_LENGTH:
            _refuse(
                f"a category must be at most {MAX_CATEGORY_LENGTH} characters "
                f'("{category[:40]}…" has {len(category)})'
            )
        if list(categories).count(category) > 1:
            _refuse(f'each category may appear once ("{category}" appears twice)')


def _check_message_headers(headers: Sequence[tuple[str, str]]) -> None:
    names = [name for name, _ in headers]
    for name, value in headers:
        if name.casefold() in RESERVED_HEADERS:
            _refuse(f'the header "{name}" is reserved and may not be set; remove it')
        if name.casefold() in _OWN_HEADERS:
            _refuse(f'the header "{name}" is set from the message id; remove it')
        if has_line_break(name) or has_line_break(value):
            _refuse(f'the header "{name.strip()}" contains a line break')
        if control_character(name) or control_character(value):
            _refuse(f'the header "{name.strip()}" contains a control character')
        if sum(other.casefold() == name.casefold() for other in names) > 1:
            # `headers` is a JSON object: a second value would silently replace the first.
            _refuse(f'the header "{name}" may appear once (it appears twice)')


def _check_headers(headers: dict[str, Any]) -> None:
    for name in headers:
        if name.casefold() in RESERVED_HEADERS:
            _refuse(f'the header "{name}" is reserved and may not be set; remove it')


def _refuse(limit: str) -> NoReturn:
    raise PermanentSendError(f"SendGrid limit: {limit}")
