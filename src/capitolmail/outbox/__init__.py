"""The outbox: jobs, their frozen messages and every state change, in SQLite or PostgreSQL,
with the supporters alerts go to and the suppression list every send checks.

`Store` is the whole API; everything else here is the values it takes and returns.
"""

from __future__ import annotations

from capitolmail.outbox.deliveries import DeliveryLedger, TrackedMessage
from capitolmail.outbox.outage import connection_lost
from capitolmail.outbox.pace_notes import PaceNote
from capitolmail.outbox.records import (
    ClaimedMessage,
    EventInfo,
    JobInfo,
    MessageInfo,
    Outcome,
    QueuedMessage,
    StartedJobs,
    email_key,
)
from capitolmail.outbox.states import (
    REACHED_STATES,
    REQUEUEABLE_STATES,
    UNFINISHED_MESSAGE_STATES,
    JobState,
    MessageState,
)
from capitolmail.outbox.store import Store
from capitolmail.outbox.supporters import SupporterInfo, SupporterRecord, UpsertCounts
from capitolmail.outbox.suppressions import Suppression, SuppressionReason
from capitolmail.outbox.workers import ABANDONED_ERROR, REQUEUED_DETAIL, Recovered, WorkerView

__all__ = [
    "ABANDONED_ERROR",
    "REACHED_STATES",
    "REQUEUEABLE_STATES",
    "UNFINISHED_MESSAGE_STATES",
    "ClaimedMessage",
    "DeliveryLedger",
    "EventInfo",
    "JobInfo",
    "JobState",
    "MessageInfo",
    "MessageState",
    "Outcome",
    "PaceNote",
    "QueuedMessage",
    "REQUEUED_DETAIL",
    "Recovered",
    "WorkerView",
    "StartedJobs",
    "Store",
    "SupporterInfo",
    "SupporterRecord",
    "Suppression",
    "SuppressionReason",
    "TrackedMessage",
    "UpsertCounts",
    "connection_lost",
    "email_key",
]
