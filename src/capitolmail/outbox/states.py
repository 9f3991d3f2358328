"""Message and job states: the words `capitolmail status` shows and the database stores.

The sets below are the ones other modules decide by, kept here so that a new state
is classified once: is it still in flight, and may the recipient already have it?
"""

from __future__ import annotations

from enum import StrEnum


class MessageState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    SPAM_REPORT = "spam_report"


class JobState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    MISSED = "missed"


# A job is finished when none of its messages is in one of these.
UNFINISHED_MESSAGE_STATES: frozenset[MessageState] = frozenset(
    {MessageState.QUEUED, MessageState.SENDING, MessageState.RETRY_WAIT}
)

# The recipient has, or may yet get, the message: sending the letter again would
# risk a duplicate. `unknown` counts because the provider may have accepted it;
# `bounced` and `dropped` do not, because the provider told us it never arrived.
REACHED_STATES: frozenset[MessageState] = frozenset(MessageState) - {
    MessageState.FAILED,
    MessageState.SUPPRESSED,
    MessageState.CANCELLED,
    MessageState.BOUNCED,
    MessageState.DROPPED,
}

# The states an operator may send back to `queued` with `capitolmail requeue`.
REQUEUEABLE_STATES: frozenset[MessageState] = frozenset({MessageState.UNKNOWN, MessageState.FAILED})
