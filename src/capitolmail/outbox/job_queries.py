"""Reading jobs and their messages: what `status`, the web page and queueing look up.

Every function takes an open connection inside a transaction; `Store` owns the
transactions. Counts are grouped queries, so a 300,000-message job costs one scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, func, select

from capitolmail.errors import JobNotFound, MessageNotFound
from capitolmail.message import OutgoingMessage
from capitolmail.outbox.attachments import read_blobs
from capitolmail.outbox.bodies import read_bodies
from capitolmail.outbox.events import chunked
from capitolmail.outbox.records import (
    JobInfo,
    MessageInfo,
    email_key,
    job_info_from_row,
    message_from_row,
    message_info_from_row,
)
from capitolmail.outbox.schema import jobs, messages
from capitolmail.outbox.states import REACHED_STATES, JobState, MessageState

_REACHED = sorted(state.value for state in REACHED_STATES)
# Above this many addresses, one scan of the letter's messages beats many IN lists.
_SCAN_THRESHOLD = 5000
# The states whose messages did not get through, or not yet: what `status` explains.
_PROBLEMS = [MessageState.FAILED.value, MessageState.UNKNOWN.value, MessageState.RETRY_WAIT.value]
NO_ERROR_RECORDED = "(no error recorded)"


def reached_recipients(conn: Connection, letter_slug: str, emails: Iterable[str]) -> set[str]:
    keys = sorted({email_key(address) for address in emails})
    if not keys:
        return set()
    query = (
        select(messages.c.to_email_key)
        .join(jobs, jobs.c.id == messages.c.job_id)
        .where(jobs.c.letter_slug == letter_slug, messages.c.state.in_(_REACHED))
        .distinct()
    )
    if len(keys) > _SCAN_THRESHOLD:
        return set(conn.execute(query).scalars()) & set(keys)
    found: set[str] = set()
    for chunk in chunked(keys):
        found.update(conn.execute(query.where(messages.c.to_email_key.in_(chunk))).scalars())
    return found


def unsent_to_offices(conn: Connection, bioguides: Iterable[str]) -> dict[int, int]:
    """Job id -> how many of its messages to these offices are still to be sent.

    Unsent means not yet handed to a provider (queued, retry_wait): the messages
    an operator can still stop by cancelling the job.
    """
    ids = sorted({bioguide.upper() for bioguide in bioguides})
    unsent = [MessageState.QUEUED.value, MessageState.RETRY_WAIT.value]
    found: dict[int, int] = {}
    for chunk in chunked(ids):
        query = (
            select(messages.c.job_id, func.count())
            .where(messages.c.bioguide.in_(chunk), messages.c.state.in_(unsent))
            .group_by(messages.c.job_id)
        )
        for job_id, count in conn.execute(query):
            found[job_id] = found.get(job_id, 0) + count
    return dict(sorted(found.items()))


def _counts(conn: Connection, job_id: int | None = None) -> dict[int, dict[str, int]]:
    query = select(messages.c.job_id, messages.c.state, func.count()).group_by(
        messages.c.job_id, messages.c.state
    )
    if job_id is not None:
        query = query.where(messages.c.job_id == job_id)
    counts: dict[int, dict[str, int]] = {}
    for row_job_id, state, count in conn.execute(query):
        if count:
            counts.setdefault(row_job_id, {})[MessageState(state)] = count
    return counts


def _next_retries(conn: Connection, job_id: int | None = None) -> dict[int, datetime]:
    """Each job's earliest retry due, so `status` can say when sending picks up again."""
    query = (
        select(messages.c.job_id, func.min(messages.c.next_attempt_at))
        .where(messages.c.state == MessageState.RETRY_WAIT.value)
        .group_by(messages.c.job_id)
    )
    if job_id is not None:
        query = query.where(messages.c.job_id == job_id)
    return {row_job_id: due for row_job_id, due in conn.execute(query) if due is not None}


def get_job(conn: Connection, job_id: int) -> JobInfo:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    if row is None:
        raise JobNotFound(job_id)
    counts = _counts(conn, job_id).get(job_id, {})
    return job_info_from_row(row, counts, _next_retries(conn, job_id).get(job_id))


def list_jobs(conn: Connection) -> list[JobInfo]:
    counts, retries = _counts(conn), _next_retries(conn)
    rows = conn.execute(select(jobs).order_by(jobs.c.id.desc()))
    return [job_info_from_row(row, counts.get(row.id, {}), retries.get(row.id)) for row in rows]


def list_messages(
    conn: Connection, job_id: int, states: Iterable[str] | None = None
) -> list[MessageInfo]:
    if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
        raise JobNotFound(job_id)
    query = select(messages).where(messages.c.job_id == job_id).order_by(messages.c.seq)
    if states is not None:
        query = query.where(messages.c.state.in_([MessageState(s).value for s in states]))
    return [message_info_from_row(row) for row in conn.execute(query)]


def get_message(conn: Connection, message_id: str) -> OutgoingMessage:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
    if row is None:
        raise MessageNotFound(message_id)
    return message_from_row(row, read_blobs(conn, [row]), read_bodies(conn, [row.id]))


def scheduled_jobs(conn: Connection) -> dict[int, datetime]:
    """Every job waiting for its time, with that time: what each worker's schedule holds."""
    rows = conn.execute(
        select(jobs.c.id, jobs.c.scheduled_at).where(
            jobs.c.state == JobState.SCHEDULED.value, jobs.c.scheduled_at.is_not(None)
        )
    )
    return {row.id: row.scheduled_at for row in rows}


def failure_summary(conn: Connection, job_id: int) -> list[tuple[str, int]]:
    if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
        raise JobNotFound(job_id)
    rows = conn.execute(
        select(messages.c.last_error, func.count())
        .where(messages.c.job_id == job_id, messages.c.state.in_(_PROBLEMS))
        .group_by(messages.c.last_error)
    ).all()
    # NULL groups apart from any error text, so "(no error recorded)" is counted once.
    counts: dict[str, int] = {}
    for error, count in rows:
        reason = NO_ERROR_RECORDED if error is None else error
        counts[reason] = counts.get(reason, 0) + count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
