"""One rule for supporter and suppressed addresses: validate, normalise, then key.

email-validator (no DNS lookups) normalises the domain and Unicode; the key is
`outbox.email_key` of that normal form, the same key `messages.to_email_key`
holds, so a supporter, a suppression and a queued message for one person match.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalised_address(text: str) -> str:
    """The address as email-validator normalises it; ValueError saying why it is invalid."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as err:
        reason = str(err).rstrip(".")
        raise ValueError(f'"{text.strip()}" is not a valid address ({reason})') from err
