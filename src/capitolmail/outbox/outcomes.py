"""Recording what happened to claimed messages: sent, retry later, failed, or unknown.

An outcome is recorded only for a message still in `sending`, never over one that
something else has already decided: anything else is a bug in the caller (an
outcome recorded twice, or for a row recover_abandoned already declared
`unknown`), and overwriting it would hide either a duplicate send or a lost one.

One exception, because a provider's event can overtake the sender's own outcome
(SendGrid posts `processed` within a second; a reply that never comes takes the
whole read timeout): a message that an event proved sent since its claim
(tracking/apply.py) takes its late outcome as a no-op. A `sent` outcome still
fills in the provider's message id if the event did not carry one; a retry,
failure or `unknown` changes nothing, since the provider has the message, and is
kept in the event log as `late_outcome`. A second late outcome is refused like
any other outcome recorded twice.

A send loop with many threads records through one recorder, a batch at a time, so
the cost that matters is per batch, not per message: two locking reads, one
executemany for sent rows and one for the rest, and one batched event insert,
whatever the batch size. Measured on a 2-core VM (SQLite, 1 KB bodies): one
outcome per transaction ~700/s, as the one-message writers always managed; batches of 16
~4,000-5,000/s, of 256 ~7,000-10,000/s (PostgreSQL: 300/s, 2,000/s, 4,500/s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, func, select, update

from capitolmail.errors import MessageNotFound, StoreError
from capitolmail.outbox import driver_sql
from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.events import PROVED_BY, chunked, event_row, record_events, stored_text
from capitolmail.outbox.records import Outcome
from capitolmail.outbox.schema import UTCDateTime, events, messages
from capitolmail.outbox.states import JobState, MessageState

_TARGETS = {
    "sent": MessageState.SENT,
    "retry": MessageState.RETRY_WAIT,
    "failed": MessageState.FAILED,
    "unknown": MessageState.UNKNOWN,
}
# A locked message row: its job, its state, the worker that last claimed it.
_Row = tuple[int, str, str | None]
# The event-log kind of an outcome that came after an event had proved the message sent.
LATE_OUTCOME = "late_outcome"

# The statements every sent message passes through, written out (driver_sql.py).
_MARK_SENT = DriverSQL(
    sqlite="UPDATE messages SET state = 'sent', provider_message_id = :provider_id,"
    " last_error = NULL, sent_at = :now, updated_at = :now WHERE id = :id",
    postgresql="UPDATE messages SET state = 'sent', provider_message_id = %(provider_id)s,"
    " last_error = NULL, sent_at = %(now)s, updated_at = %(now)s WHERE id = %(id)s",
)
# A late `sent` outcome keeps what the proving event recorded and adds only the id.
_FILL_PROVIDER_ID = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(
        provider_message_id=func.coalesce(
            messages.c.provider_message_id,
            bindparam("b_provider_id", type_=messages.c.provider_message_id.type),
        )
    )
)
# retry_wait, cancelled, failed and unknown: the claim already cleared next_attempt_at, so
# binding None there for the last two is what the one-message writers always left.
_MARK_UNSENT = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
        attempts=messages.c.attempts - bindparam("b_uncounted", type_=Integer()),
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)


def record_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], now: datetime, worker_id: str | None = None
) -> list[MessageState]:
    """With `worker_id`, the outcomes are that worker's: one for a row another worker
    claimed since is refused, and one this worker already recorded (a COMMIT that
    went through as the connection broke, its answer lost, and the batch tried
    again) is a no-op rather than a second outcome."""
    ids = [outcome.message_id for outcome in outcomes]
    _refuse_twice(ids)
    if not ids:
        return []
    job_states = _share_lock_jobs(conn, ids)
    rows = _lock_messages(conn, ids)
    for message_id in ids:
        if message_id not in rows:
            raise MessageNotFound(message_id)
    repeated = _already_recorded(outcomes, rows, worker_id)
    fresh = [outcome for outcome in outcomes if outcome.message_id not in repeated]
    proven = _refuse_unclaimed(conn, fresh, rows, worker_id)
    writes = _Writes()
    results: list[MessageState] = []
    for outcome in outcomes:
        job_id, state, _ = rows[outcome.message_id]
        if outcome.message_id in repeated:
            results.append(MessageState(state))
        elif outcome.message_id in proven:
            results.append(writes.add_late(outcome, job_id, state, now))
        else:
            results.append(writes.add(outcome, job_id, JobState(job_states[job_id]), now))
    writes.run(conn)
    return results


def _refuse_twice(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for message_id in ids:
        if message_id in seen:
            raise StoreError(
                f"message {message_id} has two outcomes in one batch; refusing both "
                "(only a claimed message gets an outcome, and only once)"
            )
        seen.add(message_id)


def _already_recorded(
    outcomes: Sequence[Outcome], rows: dict[str, _Row], worker_id: str | None
) -> set[str]:
    """The ids whose row is already in the state the outcome sets, under the worker's
    own claim: recorded by a commit whose answer was lost."""
    if worker_id is None:
        return set()
    return {
        outcome.message_id
        for outcome in outcomes
        if rows[outcome.message_id][1] == _TARGETS[outcome.kind]
        and rows[outcome.message_id][2] == worker_id
    }


def _refuse_unclaimed(
    conn: Connection, outcomes: Sequence[Outcome], rows: dict[str, _Row], worker_id: str | None
) -> set[str]:
    """Raise unless every message is `sending` (under `worker_id`'s claim, when given) or
    was proved sent since its claim; the ids proved sent, whose outcome comes late and
    is only noted."""
    for outcome in outcomes:
        _, state, claimed_by = rows[outcome.message_id]
        if worker_id is not None and state == MessageState.SENDING and claimed_by != worker_id:
            raise StoreError(
                f"message {outcome.message_id} is being sent by another worker; refusing this "
                "worker's outcome for it (only a claimed message gets an outcome, and only once)"
            )
    ids = [outcome.message_id for outcome in outcomes]
    decided = [message_id for message_id in ids if rows[message_id][1] != MessageState.SENDING]
    proven = _proven_since_claim(conn, decided) if decided else set()
    for outcome in outcomes:
        state = rows[outcome.message_id][1]
        if state != MessageState.SENDING and outcome.message_id not in proven:
            raise StoreError(
                f"message {outcome.message_id} is {state}, not sending; refusing to mark it "
                f"{_TARGETS[outcome.kind]} (only a claimed message gets an outcome, and only once)"
            )
    return proven


@dataclass(slots=True)
class _Writes:
    """A batch's statement parameters and events, gathered first and then written with
    one executemany per statement: the cost is per batch, not per message."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    late_ids: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    def add_late(self, outcome: Outcome, job_id: int, state: str, now: datetime) -> MessageState:
        """An outcome for a message an event already proved sent: noted, state kept."""
        self.events.append(
            event_row(
                job_id=job_id,
                message_id=outcome.message_id,
                at=now,
                kind=LATE_OUTCOME,
                detail=_late_detail(outcome, state),
            )
        )
        if outcome.kind == "sent" and outcome.provider_message_id:
            self.late_ids.append(
                {"b_id": outcome.message_id, "b_provider_id": outcome.provider_message_id}
            )
        return MessageState(state)

    def add(
        self, outcome: Outcome, job_id: int, job_state: JobState, now: datetime
    ) -> MessageState:
        to, detail = _target(outcome, job_state)
        self.events.append(
            event_row(job_id=job_id, message_id=outcome.message_id, at=now, kind=to, detail=detail)
        )
        if to is MessageState.SENT:
            self.sent.append(
                {"id": outcome.message_id, "provider_id": outcome.provider_message_id, "now": now}
            )
            return to
        self.unsent.append(
            {
                "b_id": outcome.message_id,
                "b_state": to.value,
                "b_error": stored_text(outcome.error),
                "b_next": outcome.next_attempt_at if to is MessageState.RETRY_WAIT else None,
                "b_uncounted": 0 if outcome.count_attempt else 1,
                "b_now": now,
            }
        )
        return to

    def run(self, conn: Connection) -> None:
        if self.sent:
            bind = driver_sql.bind_time(conn.dialect)
            for row in self.sent:
                row["now"] = bind(row["now"])
            driver_sql.run_many(conn, _MARK_SENT, self.sent)
        for statement, params in ((_MARK_UNSENT, self.unsent), (_FILL_PROVIDER_ID, self.late_ids)):
            for chunk in chunked(params):
                conn.execute(statement, list(chunk))
        record_events(conn, self.events)


def _proven_since_claim(conn: Connection, ids: Sequence[str]) -> set[str]:
    """The messages an event proved sent after their latest claim, with no late outcome yet.

    Read from the event log, which already says what happened in order: a claim
    writes `sending`, a proving event writes `sent` with PROVED_BY, a late outcome
    writes LATE_OUTCOME. Only rows that left `sending` are looked at, so the send
    loop's usual batches never run this query.
    """
    kinds = [MessageState.SENDING.value, MessageState.SENT.value, LATE_OUTCOME]
    history: dict[str, list[tuple[str, str | None]]] = {}
    for chunk in chunked(sorted(ids)):
        query = (
            select(events.c.message_id, events.c.kind, events.c.detail)
            .where(events.c.message_id.in_(chunk), events.c.kind.in_(kinds))
            .order_by(events.c.id)
        )
        for message_id, kind, detail in conn.execute(query):
            history.setdefault(message_id, []).append((kind, detail))
    proven: set[str] = set()
    for message_id, entries in history.items():
        since_claim: list[tuple[str, str | None]] = []
        for kind, detail in entries:
            since_claim = (
                [] if kind == MessageState.SENDING.value else [*since_claim, (kind, detail)]
            )
        proved = any(
            kind == MessageState.SENT.value and (detail or "").startswith(PROVED_BY)
            for kind, detail in since_claim
        )
        if proved and not any(kind == LATE_OUTCOME for kind, _ in since_claim):
            proven.add(message_id)
    return proven


def _late_detail(outcome: Outcome, state: str) -> str:
    said = outcome.kind if outcome.error is None else f"{outcome.kind}: {outcome.error}"
    return f"the sender's outcome ({said}) came after an event proved it sent; kept {state}"


def _target(outcome: Outcome, job_state: JobState) -> tuple[MessageState, str | None]:
    """The state an outcome moves its message to, and the event's detail."""
    if outcome.kind == "sent":
        provider_id = outcome.provider_message_id
        return MessageState.SENT, f"provider id {provider_id}" if provider_id else None
    if outcome.kind == "failed":
        return MessageState.FAILED, outcome.error
    if outcome.kind == "unknown":
        # Even in a cancelled job: the provider may have the message, and `cancelled`
        # would tell the operator it never went.
        return MessageState.UNKNOWN, outcome.error
    if job_state == JobState.CANCELLED:
        # A retry in a cancelled job would wait forever; cancelled is where it belongs.
        return MessageState.CANCELLED, f"job cancelled; last error: {outcome.error}"
    if not outcome.count_attempt:
        return MessageState.RETRY_WAIT, f"{outcome.error} (attempt not counted)"
    return MessageState.RETRY_WAIT, outcome.error


def _share_lock_jobs(conn: Connection, ids: Sequence[str]) -> dict[int, str]:
    """The states of the messages' jobs, held (FOR SHARE) until commit.

    Without the lock, a cancel_job committing between this read and ours could
    leave a retry in `retry_wait` in a cancelled job, where nothing claims it:
    cancel_job's own UPDATE saw the row still `sending` and passed it by. With
    it, cancel_job waits for this transaction and then finds the row to cancel.
    Jobs are locked before their messages, the order cancel_job and claim_due use.
    """
    listed = {"ids": driver_sql.in_list(conn.dialect, ids)}
    return dict(driver_sql.rows(conn, _JOBS_OF, listed))  # type: ignore[arg-type]


def _lock_messages(conn: Connection, ids: Sequence[str]) -> dict[str, _Row]:
    """Each message's job, state and claimant, locked (in id order, so batches cannot
    deadlock)."""
    listed = {"ids": driver_sql.in_list(conn.dialect, ids)}
    return {
        id_: (job_id, state, claimed_by)
        for id_, job_id, state, claimed_by in driver_sql.rows(conn, _MESSAGES_LOCKED, listed)
    }


# The two locking reads, written out: a send loop records a batch every few dozen messages.
_JOBS_OF = DriverSQL(
    sqlite="SELECT id, state FROM jobs WHERE id IN (SELECT job_id FROM messages"
    " WHERE id IN (SELECT value FROM json_each(:ids))) ORDER BY id",
    postgresql="SELECT id, state FROM jobs WHERE id IN (SELECT job_id FROM messages"
    " WHERE id = ANY(%(ids)s)) ORDER BY id FOR SHARE",
)
_MESSAGES_LOCKED = DriverSQL(
    sqlite="SELECT id, job_id, state, claimed_by FROM messages"
    " WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id",
    postgresql="SELECT id, job_id, state, claimed_by FROM messages"
    " WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE",
)
