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

from datetime import datetime

from capitolmail.errors import SignOnTokenError
from capitolmail.signed_tokens import BadToken, seal, signing_key, unseal

DOMAIN = b"capitolmail/sign-on\n"
VERSION = 1
CONFIRM = "confirm"
WITHDRAW = "withdraw"
FORM = "form"


def make_token(
    secret: str, purpose: str, letter: str, subject: int | str, expires: datetime
) -> str:
    payload = [VERSION, purpose, letter, subject, int(expires.timestamp())]
    return seal(_key(secret), DOMAIN, payload)


def verify_token(secret: str, token: str, *, purpose: str, letter: str, now: datetime) -> int | str:
    """The token's subject (a signature id, or a form's nonce); SignOnTokenError otherwise.

    The signature is compared in constant time before the payload is parsed.
    """
    key = _key(secret)
    try:
        version, found_purpose, found_letter, subject, expires = unseal(key, DOMAIN, token)
    except (BadToken, ValueError, TypeError):
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
    return signing_key(secret, "signing secret")
