"""One-click unsubscribe tokens: who is leaving which list, signed so nobody can forge one.

The token travels in the List-Unsubscribe URL (RFC 8058) and in the footer link.
It is an HMAC-SHA256 of the subject (a supporter id, or an address) and the list
id under the secret from settings (CAPITOLMAIL_UNSUBSCRIBE_SECRET), so the web
endpoint can honour it without a database lookup and a guessed or edited token
fails. Format, URL-safe base64 without padding on both sides of the dot:

    b64(json [1, subject, list_id]) "." b64(hmac_sha256(secret, DOMAIN + payload))

The payload is signed, not encrypted: it is readable by whoever has the link, so
prefer a supporter id over an address as the subject. DOMAIN keeps a token from
being valid for any other use of the same secret; the leading 1 is the format's
version. Changing the secret voids every link already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re

from capitolmail.config.names import UNSUBSCRIBE_SECRET_MIN_BYTES as MIN_SECRET_BYTES
from capitolmail.errors import UnsubscribeTokenError

DOMAIN = b"capitolmail/unsubscribe\n"
VERSION = 1
# Far longer than any real token; bounds the work a hostile request can cause.
MAX_TOKEN_LENGTH = 2048
_PART = re.compile(r"[A-Za-z0-9_-]+")

Subject = int | str


def make_token(secret: bytes | str, subject: Subject, list_id: str) -> str:
    """A token for `subject` (a supporter id or an address) leaving the list `list_id`."""
    if isinstance(subject, bool) or not isinstance(subject, int | str) or subject == "":
        raise TypeError(f"the subject must be a supporter id or an address, not {subject!r}")
    if not isinstance(list_id, str) or not list_id:
        raise TypeError(f"the list id must be a non-empty string, not {list_id!r}")
    payload = json.dumps([VERSION, subject, list_id], separators=(",", ":"), ensure_ascii=False)
    data = payload.encode("utf-8")
    return f"{_encode(data)}.{_encode(_sign(_key(secret), data))}"


def verify_token(
    secret: bytes | str, token: str, *, list_id: str | None = None
) -> tuple[Subject, str]:
    """(subject, list id) of a token we made; UnsubscribeTokenError for anything else.

    With `list_id`, a token for another list is refused too. The signature is
    compared in constant time, before the payload is parsed.
    """
    key = _key(secret)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise UnsubscribeTokenError()
    parts = token.split(".")
    if len(parts) != 2:
        raise UnsubscribeTokenError()
    data, signature = (_decode(part) for part in parts)
    if not hmac.compare_digest(signature, _sign(key, data)):
        raise UnsubscribeTokenError()
    try:
        version, subject, found_list = json.loads(data.decode("utf-8"))
    except (ValueError, TypeError):  # cannot happen for a token we signed
        raise UnsubscribeTokenError() from None
    valid_subject = isinstance(subject, int | str) and not isinstance(subject, bool)
    if version != VERSION or not valid_subject or not isinstance(found_list, str):
        raise UnsubscribeTokenError()
    if list_id is not None and found_list != list_id:  # the list id is no secret
        raise UnsubscribeTokenError()
    return subject, found_list


def _key(secret: bytes | str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(key, bytes) or len(key) < MIN_SECRET_BYTES:
        # A short secret can be found by trying them all, and with it any token forged.
        raise ValueError(f"the unsubscribe secret must be at least {MIN_SECRET_BYTES} bytes")
    return key


def _sign(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, DOMAIN + data, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    """Strict: only the URL-safe alphabet, and only the one canonical spelling of the
    bytes, so no two different strings are the same valid token."""
    if not _PART.fullmatch(part):
        raise UnsubscribeTokenError()
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise UnsubscribeTokenError() from None
    if _encode(data) != part:
        raise UnsubscribeTokenError()
    return data
