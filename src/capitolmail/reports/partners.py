"""What a report forwarded to coalition partners may say.

A partner needs to know which offices got the letter, not how our mail is set
up. So the partner version never shows an address (an office contact's, a
supporter's, or one quoted inside a server's reply) nor our own error text,
which names relays, hosts, ports and providers. A bounce keeps only its RFC 3463
status code and that code's standard meaning ("5.1.1: bad destination mailbox
address"); every other state gets a fixed phrase.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
_STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# RFC 3463's subjects and details, the ones relays actually send.
_CODES = {
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.6": "destination mailbox has moved",
    "1.10": "recipient address has null MX",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "3.0": "other or undefined mail system status",
    "3.4": "message too big for system",
    "4.0": "other or undefined network or routing status",
    "4.4": "unable to route",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.26": "multiple authentication checks failed",
}
_KINDS = {"2": "delivered", "4": "temporary failure", "5": "permanent failure"}
STATE_PHRASES = {
    "queued": "waiting to be sent",
    "sending": "being sent",
    "retry_wait": "will be tried again",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "could not be sent",
    "unknown": "outcome not confirmed",
    "suppressed": "not sent: the address asked not to be emailed or bounced before",
    "cancelled": "not sent: cancelled",
    "bounced": "bounced: the receiving server refused it",
    "dropped": "not delivered: the provider did not pass it on",
    "spam_report": "delivered, then reported as spam",
}
ADDRESS_SHOWN = "[address]"


def without_addresses(text: str) -> str:
    """`text` with every email address in it replaced by ADDRESS_SHOWN."""
    return _ADDRESS.sub(ADDRESS_SHOWN, text)


def partner_reason(state: str, reason: str | None) -> str:
    """The reason a partner may read: a status code's meaning, or the state's phrase."""
    phrase = STATE_PHRASES.get(state, state)
    if not reason or state not in ("bounced", "dropped", "failed"):
        return phrase if reason or state not in ("sent", "delivered") else ""
    match = _STATUS_CODE.search(reason)
    if match is None:
        return phrase
    kind, subject, detail = match.groups()
    meaning = _CODES.get(f"{subject}.{detail}") or _CODES.get(f"{subject}.0", "")
    code = f"{kind}.{subject}.{detail}"
    return f"{_KINDS[kind]} {code}" + (f" ({meaning})" if meaning else "")
