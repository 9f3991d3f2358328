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

from capitolmail.errors import UnsubscribeTokenError
from capitolmail.signed_tokens import (
    MAX_TOKEN_LENGTH,
    MIN_SECRET_BYTES,
    BadToken,
    seal,
    signing_key,
    unseal,
)

DOMAIN = b"capitolmail/unsubscribe\n"
VERSION = 1
__all__ = ["MAX_TOKEN_LENGTH", "MIN_SECRET_BYTES", "make_token", "verify_token"]

Subject = int | str


def make_token(secret: bytes | str, subject: Subject, list_id: str) -> str:
    """A token for `subject` (a supporter id or an address) leaving the list `list_id`."""
    if isinstance(subject, bool) or not isinstance(subject, int | str) or subject == "":
        raise TypeError(f"the subject must be a supporter id or an address, not {subject!r}")
    if not isinstance(list_id, str) or not list_id:
        raise TypeError(f"the list id must be a non-empty string, not {list_id!r}")
    return seal(_key(secret), DOMAIN, [VERSION, subject, list_id])


def verify_token(
    secret: bytes | str, token: str, *, list_id: str | None = None
) -> tuple[Subject, str]:
    """(subject, list id) of a token we made; UnsubscribeTokenError for anything else.

    With `list_id`, a token for another list is refused too. The signature is
    compared in constant time, before the payload is parsed.
    """
    key = _key(secret)
    try:
        version, subject, found_list = unseal(key, DOMAIN, token)
    except (BadToken, ValueError, TypeError):
        raise UnsubscribeTokenError() from None
    valid_subject = isinstance(subject, int | str) and not isinstance(subject, bool)
    if version != VERSION or not valid_subject or not isinstance(found_list, str):
        raise UnsubscribeTokenError()
    if list_id is not None and found_list != list_id:  # the list id is no secret
        raise UnsubscribeTokenError()
    return subject, found_list


def _key(secret: bytes | str) -> bytes:
    return signing_key(secret, "unsubscribe secret")
