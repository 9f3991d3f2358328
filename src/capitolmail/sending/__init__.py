"""Sending: the loop that claims due messages, hands them to a provider and records
what came of it, and what drives it (the schedule, the adaptive pace, hand-over marks).

Reads and writes through outbox/ and talks to providers/; nothing here knows how a
letter was composed. cli/ builds `SendOptions` from the workspace and calls `send_due`.
"""

from capitolmail.sending.sender import RetryPolicy, SendOptions, SendSummary, send_due

__all__ = ["RetryPolicy", "SendOptions", "SendSummary", "send_due"]
