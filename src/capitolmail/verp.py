"""VERP: an envelope sender per message, so a bounce names the message it is about.

With `[provider.smtp] return_path = "bounces@example.org"` every message goes out
with `MAIL FROM:<bounces+MESSAGE-UUID@example.org>`. A receiving server that
bounces it writes to that address, so even a bounce that quotes none of the
original headers (some qmail and Exchange reports) can be matched to its message
by the inbound mailbox. The mailbox behind `bounces@` must accept the `+` suffix
(subaddressing: Gmail, Microsoft 365, Postfix's recipient_delimiter all do).

The UUID is the message's random id, not a secret, and a bounce found this way is
still applied only when the address it reports is that message's recipient
(tracking/apply.py), as for every other source.
"""

from __future__ import annotations

import re

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def envelope_sender(return_path: str, message_id: str) -> str:
    """`bounces+<message_id>@domain` for `return_path` "bounces@domain"."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+{message_id}@{domain}"


def message_id_in(return_path: str, address: str) -> str | None:
    """The message id a VERP address for `return_path` carries; None for any other address."""
    local, _, domain = return_path.rpartition("@")
    pattern = rf"{re.escape(local)}\+({_UUID})@{re.escape(domain)}"
    match = re.fullmatch(pattern, address.strip(), flags=re.IGNORECASE)
    return match.group(1).lower() if match else None
