"""Signed, expiring tokens for sign-on: the confirmation link, the withdrawal link, the form.

Made like the unsubscribe tokens (letters/tokens.py), with the same secret
(CAPITOLMAIL_UNSUBSCRIBE_SECRET) under another domain string, so no sign-on token
is ever a valid unsubscribe token or the reverse:

    b64(json [1, purpose, letter, subject, expires]) "." b64(hmac_sha256(secret, DOMAIN + payload))

`purpose` keeps a form token from confirming a signature and a confirmation link
from withdrawing one; `letter` keeps a token to one letter; `expires` is a Unix
time after which the token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import datetime

from capitolmail.errors import SignOnTokenError
from capitolmail.letters.tokens import MAX_TOKEN_LENGTH, MIN_SECRET_BYTES

DOMAIN = b"capitolmail/sign-on\n"
VERSION = 1
CONFIRM = "confirm"
WITHDRAW = "withdraw"
FORM = "form"
_PART = re.compile(r"[A-Za-z0-9_-]+")


def make_token(
    secret: str, purpose: str, letter: str, subject: int | str, expires: datetime
) -> str:
    payload = [VERSION, purpose, letter, subject, int(expires.timestamp())]
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return f"{_encode(data)}.{_encode(_sign(_key(secret), data))}"


def verify_token(secret: str, token: str, *, purpose: str, letter: str, now: datetime) -> int | str:
    """The token's subject (a signature id, or a form's nonce); SignOnTokenError otherwise.

    The signature is compared in constant time before the payload is parsed.
    """
    key = _key(secret)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise SignOnTokenError()
    data, signature = (_decode(part) for part in token.split("."))
    if not hmac.compare_digest(signature, _sign(key, data)):
        raise SignOnTokenError()
    try:
        version, found_purpose, found_letter, subject, expires = json.loads(data)
    except (ValueError, TypeError):
        raise SignOnTokenError() from None
    if (
        version != VERSION
        or found_purpose != purpose
        or found_letter != letter
        or not isinstance(expires, int)
        or isinstance(subject, bool)
        or not isinstance(subject, int | str)
    ):
        raise SignOnTokenError()
    if now.timestamp() > expires:
        raise SignOnTokenError()
    return subject


def _key(secret: str) -> bytes:
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the signing secret must be at least {MIN_SECRET_BYTES} bytes")
    return key


def _sign(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, DOMAIN + data, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    """Only the canonical spelling of the bytes, as letters/tokens.py decodes."""
    if not _PART.fullmatch(part):
        raise SignOnTokenError()
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise SignOnTokenError() from None
    if _encode(data) != part:
        raise SignOnTokenError()
    return data
