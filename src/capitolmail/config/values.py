"""Checks for setting values that reach a header or a link in every message sent.

Apart from the models because letter definitions apply the same rules to their
own [sender] table: one wording of "one line, not too long" for both.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from capitolmail.message import refuse_control_characters
from capitolmail.recipients.addresses import normalised_address

# A name shown in From or List-Id: one line, and short enough to read in a mail client.
MAX_NAME_LENGTH = 200


def header_text(value: str) -> str:
    """A setting that reaches a header as text: no control character (CR/LF injection)."""
    refuse_control_characters(value)
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"is {len(value)} characters long; keep it under {MAX_NAME_LENGTH}")
    return value.strip()


def header_address(value: str) -> str:
    """A setting that reaches From, Reply-To or a mailto: link: valid, in sending form."""
    return normalised_address(value) if value.strip() else ""


def public_url(value: str) -> str:
    """[web] base_url: where links in every alert point, so anything odd is refused.

    An absolute https URL with no query or fragment (a token is appended to it),
    no spaces or control characters (they would end the List-Unsubscribe header
    or the link). Plain http is accepted only for this machine, for local tests.
    """
    refuse_control_characters(value)
    value = value.strip().rstrip("/")
    if not value:
        return value
    parsed = urlsplit(value)
    local = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if (
        any(ch.isspace() for ch in value)
        or not value.isascii()
        or not parsed.hostname
        or parsed.query
        or parsed.fragment
        or "?" in value
        or "#" in value
        or parsed.username is not None
        or not (parsed.scheme == "https" or (parsed.scheme == "http" and local))
    ):
        raise ValueError(
            f'"{value}" must be an absolute https URL without spaces, query or fragment, '
            "such as https://act.example.org (http only for localhost)"
        )
    try:
        parsed.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as err:
        raise ValueError(f'"{value}" has an invalid port ({err})') from None
    return value
