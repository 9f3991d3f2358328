"""SendGrid's signed event webhook: `verify` the request, then `parse_events` its body.

SendGrid signs every POST with ECDSA (P-256, SHA-256) over the text of the
X-Twilio-Email-Event-Webhook-Timestamp header followed by the raw body, and
sends the DER signature in base64. The verification key it shows is base64 DER
(a PEM without its armour lines). The raw bytes are verified, never re-encoded
JSON: one changed space and the signature no longer matches.

A signed request can still be replayed; refusing a timestamp more than
`MAX_SKEW` from our clock bounds that to five minutes, and the event ids the
outbox remembers make a replay inside the window harmless.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from capitolmail.custom_args import JOB_ID_ARG, MESSAGE_ID_ARG, OUR_ARGS
from capitolmail.errors import ConfigError, MalformedBodyError, WebhookVerificationError
from capitolmail.redaction import shorten
from capitolmail.tracking.events import EventType, TrackingEvent

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# Five minutes either way: SendGrid signs as it posts, so an older timestamp is a
# replay, and a clock that far ahead is one we should not trust either.
MAX_SKEW = 300.0
# Longer ids cannot be stored (webhook_events.sg_event_id) and are not SendGrid's.
MAX_EVENT_ID = 255
# SendGrid's events are objects of strings and numbers, with a list or an object
# of custom args inside: four levels. Sixteen leaves room and bounds the parser.
MAX_DEPTH = 16
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}

# SendGrid's event names; `bounce` is split by its `type` below.
_KINDS: dict[str, EventType] = {
    "processed": EventType.PROCESSED,
    "deferred": EventType.DEFERRED,
    "delivered": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    "dropped": EventType.DROPPED,
    "spamreport": EventType.SPAM_REPORT,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.UNSUBSCRIBED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
}


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key from settings, as SendGrid shows it (base64 DER) or as a PEM block."""
    try:
        if "-----BEGIN" in text:
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError, UnicodeEncodeError, binascii.Error):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError(
            "capitolmail.toml [web]: sendgrid_public_key is not an ECDSA P-256 public key; "
            "copy the verification key from SendGrid's Mail Settings > Event Webhook"
        )
    return key


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: ec.EllipticCurvePublicKey,
    *,
    now: float,
) -> None:
    """Raise WebhookVerificationError unless SendGrid signed `body` within MAX_SKEW of `now`.

    `headers` must look names up without regard to case (Starlette's Headers do).
    The reasons are for our log; the client is told only 401.
    """
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookVerificationError("the request is not signed")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookVerificationError("the signature timestamp is not a Unix time")
    if abs(now - int(timestamp)) > MAX_SKEW:
        raise WebhookVerificationError("the signature timestamp is more than 5 minutes off")
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise WebhookVerificationError("the signature does not match") from None


def parse_events(body: bytes) -> list[TrackingEvent]:
    """The events of one batch, in order; MalformedBodyError when the body is not
    a JSON list SendGrid could have sent.

    An item that is not an object, or names an event we do not know, becomes an
    `unknown` event rather than failing the batch: SendGrid would retry a
    refused batch for a day, and the good events in it would wait as long.
    """
    return [_event(item) for item in _strict_json_list(body)]


def _strict_json_list(body: bytes) -> list[Any]:
    """The body as a list, parsed strictly: UTF-8, at most MAX_DEPTH deep, no NaN or
    Infinity, no key twice in one object.

    The depth is checked before parsing because the parser recurses once per level
    (100,000 nested brackets raised RecursionError). A duplicate key is refused
    because two parsers may keep different copies, and the signature covers both.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MalformedBodyError(f"the body is not UTF-8 (byte {err.start})") from None
    if (depth := _nesting_depth(text)) > MAX_DEPTH:
        raise MalformedBodyError(f"the body nests {depth} levels deep (at most {MAX_DEPTH})")
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as err:
        raise MalformedBodyError(f"the body is not JSON ({_short(err)})") from None
    if not isinstance(data, list):
        raise MalformedBodyError(f"the body is a JSON {type(data).__name__}, not a list of events")
    return data


def _nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, counted without recursion."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {twice[:40]!r} appears twice in one object")
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _short(err: Exception) -> str:
    """The parser's reason, cut short: it may quote a whole 8 MB number."""
    return shorten(str(err) or type(err).__name__, 200)


def _event(item: Any) -> TrackingEvent:
    if not isinstance(item, dict):
        return TrackingEvent(EventType.UNKNOWN, type(item).__name__, esp_event=item)
    name = _text(item.get("event")) or "(no event name)"
    kind = _KINDS.get(name, EventType.UNKNOWN)
    if kind is EventType.BOUNCED and item.get("type") == "blocked":
        kind = EventType.BLOCKED
    event_id = _text(item.get("sg_event_id"))
    return TrackingEvent(
        event_type=kind,
        event_name=name,
        timestamp=_time(item.get("timestamp")),
        message_id=_text(item.get(MESSAGE_ID_ARG)),
        job_id=_text(item.get(JOB_ID_ARG)),
        recipient=_text(item.get("email")),
        event_id=event_id if event_id and len(event_id) <= MAX_EVENT_ID else None,
        provider_message_id=_x_message_id(item.get("sg_message_id")),
        description=_text(item.get("reason")),
        mta_response=_text(item.get("response")),
        tags=_tags(item.get("category")),
        url=_text(item.get("url")) if kind is EventType.CLICKED else None,
        metadata={key: value for key in OUR_ARGS if (value := _text(item.get(key)))},
        esp_event=item,
    )


def _tags(value: Any) -> tuple[str, ...]:
    """SendGrid's `category`: one string, or a list of them when the send had several."""
    values = value if isinstance(value, list) else [value]
    return tuple(text for item in values if (text := _text(item)))


def _x_message_id(value: Any) -> str | None:
    """The X-Message-Id of the send: `sg_message_id` is it, a ".", and a filter suffix
    ("XBg2anf2TqCy6WXKQFhieQ.filter0905p1mdw1-4434-59E0C6FF-3.0")."""
    text = _text(value)
    head = text.split(".", 1)[0] if text else ""
    return head if 0 < len(head) <= MAX_EVENT_ID else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
