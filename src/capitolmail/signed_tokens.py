"""Signed tokens: a JSON payload and its HMAC-SHA256, each URL-safe base64 without padding.

    b64(json payload) "." b64(hmac_sha256(secret, domain + payload))

The one way every link capitolmail signs is made and checked (unsubscribe links,
letters/tokens.py; sign-on links, signon/tokens.py). `domain` keeps a token made
for one use from being valid for another under the same secret. Decoding accepts
only the canonical spelling of the bytes, so no two different strings are the same
valid token, and the signature is compared in constant time before the payload is
parsed. What a payload means, and its version, is the caller's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from capitolmail.config.names import UNSUBSCRIBE_SECRET_MIN_BYTES as MIN_SECRET_BYTES

# Far longer than any real token; bounds the work a hostile request can cause.
MAX_TOKEN_LENGTH = 2048
_PART = re.compile(r"[A-Za-z0-9_-]+")


class BadToken(Exception):
    """Not a token this secret and domain made (the caller says so in its own words)."""


def signing_key(secret: bytes | str, what: str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(key, bytes) or len(key) < MIN_SECRET_BYTES:
        # A short secret can be found by trying them all, and with it any token forged.
        raise ValueError(f"the {what} must be at least {MIN_SECRET_BYTES} bytes")
    return key


def seal(key: bytes, domain: bytes, payload: list[Any]) -> str:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return f"{_encode(data)}.{_encode(_sign(key, domain, data))}"


def unseal(key: bytes, domain: bytes, token: object) -> Any:
    """The payload of a token sealed with `key` under `domain`; BadToken otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise BadToken()
    data, signature = (_decode(part) for part in token.split("."))
    if not hmac.compare_digest(signature, _sign(key, domain, data)):
        raise BadToken()
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, TypeError):  # cannot happen for a token we signed
        raise BadToken() from None


def _sign(key: bytes, domain: bytes, data: bytes) -> bytes:
    return hmac.new(key, domain + data, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    if not _PART.fullmatch(part):
        raise BadToken()
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise BadToken() from None
    if _encode(data) != part:
        raise BadToken()
    return data
