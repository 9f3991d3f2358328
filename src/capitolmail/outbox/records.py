"""The values the outbox hands in and out.

Rows never leave the package: callers get these frozen dataclasses, so a column
can be renamed without touching the sender or the command line.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from capitolmail.message import OutgoingMessage, Tracking
from capitolmail.outbox.attachments import Blobs, attachments_of
from capitolmail.outbox.bodies import Bodies, text_and_html
from capitolmail.outbox.states import JobState, MessageState
from capitolmail.timing.pacing import Pacing

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A rendered message plus who it is for, as `create_job` stores it."""

    message: OutgoingMessage
    bioguide: str | None = None
    contact_role: str | None = None
    supporter_id: str | None = None
    # The recipients/targets.csv id of a recipient beyond Congress (bioguide is then None).
    target_id: str | None = None
    # Why the address is on the suppression list; such a message is stored `suppressed`.
    suppressed: str | None = None


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: int
    letter_slug: str
    kind: str
    state: JobState
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    total: int
    last_error: str | None
    paused_reason: str | None
    counts: dict[str, int]  # message state -> number of messages, only non-zero ones
    # Settings set_job_options merged in: "rate" ("120/min"), "window", "timezone".
    options: dict[str, Any] = field(default_factory=dict)
    # The rate and window in `options`, parsed once, when the JobInfo is made.
    pacing: Pacing = field(init=False, compare=False)
    # When the first message waiting for a retry (retry_wait) is due; None if none waits.
    next_retry_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pacing", Pacing.from_stored(self.options))


@dataclass(frozen=True, slots=True)
class StartedJobs:
    """What `start_due_jobs` decided: the jobs it started, and those it found too late."""

    started: list[int]
    missed: list[int]


@dataclass(frozen=True, slots=True)
class MessageInfo:
    id: str
    seq: int
    to_email: str
    to_name: str
    subject: str
    bioguide: str | None
    contact_role: str | None
    state: MessageState
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    provider_message_id: str | None
    sent_at: datetime | None
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message now in `sending` for one worker; `attempts` counts this one.

    `job_rate` is the job's "rate" option ("120/min") as it was at the claim, so
    an operator's change reaches a running sender with its next claim.
    """

    message: OutgoingMessage
    job_id: int
    attempts: int
    job_rate: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed message, for `Store.record_outcomes`.

    `unknown`: the message went out and no verdict came back (a read timeout after
    the request was written); it is never retried without an operator.

    A retry with `count_attempt=False` gives the claim's attempt back: an HTTP 429
    or a paused job says nothing about the message, and counting it would fail
    messages that never had a fair try. The checks run here, in the thread that
    builds the outcome, so a malformed one never reaches a batch and rolls back
    the good outcomes recorded with it.
    """

    message_id: str
    kind: Literal["sent", "retry", "failed", "unknown"]
    provider_message_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    count_attempt: bool = True

    def __post_init__(self) -> None:
        problem = None
        if self.kind not in ("sent", "retry", "failed", "unknown"):
            problem = f"kind must be sent, retry, failed or unknown, not {self.kind!r}"
        elif self.kind == "sent" and self.error is not None:
            problem = "a sent message has no error"
        elif self.kind != "sent" and self.error is None:
            problem = f"a {self.kind} outcome needs the error"
        elif self.kind != "sent" and self.provider_message_id is not None:
            problem = "only a sent outcome has a provider message id"
        elif (self.kind == "retry") != (self.next_attempt_at is not None):
            problem = "next_attempt_at is required for a retry and only for a retry"
        elif self.next_attempt_at is not None and self.next_attempt_at.utcoffset() is None:
            problem = f"next_attempt_at must be an aware datetime, got {self.next_attempt_at}"
        elif not self.count_attempt and self.kind != "retry":
            problem = "only a retry can give its attempt back (count_attempt=False)"
        if problem is not None:
            raise ValueError(f"outcome for message {self.message_id}: {problem}")


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One line of a job's history. `kind` is the new message state ("sent"), or
    "job_" and the new job state ("job_paused") for a job-level event, or
    "relay_pace" for a throttled pace noted by a worker (pace_notes.py)."""

    id: int
    job_id: int
    message_id: str | None
    at: datetime
    kind: str
    detail: str | None


def email_key(address: str) -> str:
    """The form addresses are compared in: "Jane@House.GOV " and "jane@house.gov" match."""
    return address.strip().lower()


def message_from_row(
    row: Any, blobs: Blobs | None = None, bodies: Bodies | None = None
) -> OutgoingMessage:
    """The stored message; `blobs` holds the bytes of the files it lists (attachments.py),
    `bodies` its text and HTML where they are kept apart from the row (bodies.py)."""
    text, html = text_and_html(row, bodies or {})
    return OutgoingMessage(
        message_id=row.id,
        job_id=str(row.job_id),
        from_email=row.from_email,
        from_name=row.from_name,
        to_email=row.to_email,
        to_name=row.to_name,
        subject=row.subject,
        text=text,
        html=html,
        reply_to=row.reply_to,
        headers=_header_pairs(row.headers),
        categories=_categories(row.categories),
        tracking=_tracking(row.tracking),
        cc=_addresses(row.cc),
        bcc=_addresses(row.bcc),
        attachments=attachments_of(row, blobs or {}),
    )


def _by_text(convert: Callable[[Any], T]) -> Callable[[Any], T]:
    """A JSON column's reader: `convert` of its parsed value.

    A claim reads the JSON columns as their text (claims.py), and a job's messages
    share the same few values, so the text is parsed and converted once per distinct
    value rather than once per message. What `convert` makes must be immutable: it is
    shared. A value the driver already parsed is converted as it is.
    """
    cached = functools.lru_cache(maxsize=64)(lambda text: convert(json.loads(text)))

    def read(value: Any) -> T:
        return cached(value) if isinstance(value, str) else convert(value)

    return read


_header_pairs = _by_text(lambda pairs: tuple((str(name), str(text)) for name, text in pairs))
_categories = _by_text(lambda names: tuple(str(category) for category in names))
_addresses = _by_text(lambda addresses: tuple(str(address) for address in addresses or ()))
_tracking = _by_text(Tracking.from_stored)


def message_info_from_row(row: Any) -> MessageInfo:
    return MessageInfo(
        id=row.id,
        seq=row.seq,
        to_email=row.to_email,
        to_name=row.to_name,
        subject=row.subject,
        bioguide=row.bioguide,
        contact_role=row.contact_role,
        state=MessageState(row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        target_id=row.target_id,
    )


def job_info_from_row(
    row: Any, counts: dict[str, int], next_retry_at: datetime | None = None
) -> JobInfo:
    return JobInfo(
        id=row.id,
        letter_slug=row.letter_slug,
        kind=row.kind,
        state=JobState(row.state),
        created_at=row.created_at,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        total=row.total,
        last_error=row.last_error,
        paused_reason=row.paused_reason,
        counts=counts,
        options=dict(row.options or {}),
        next_retry_at=next_retry_at,
    )
