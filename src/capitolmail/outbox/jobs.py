"""The operator's decisions about jobs, and the rules that start and finish them.

Every function takes an open connection inside a transaction; `Store` owns the
transactions. Job rows are locked (`FOR UPDATE`, a no-op on SQLite, where the
write transaction already holds the file) before a state change is decided, so
two commands racing on one job apply one after the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, exists, func, insert, literal, select, update

from capitolmail.errors import CapitolmailError, JobNotFound
from capitolmail.outbox.events import move_messages, record_event, stored_text
from capitolmail.outbox.job_notices import announce
from capitolmail.outbox.records import StartedJobs
from capitolmail.outbox.schema import UTCDateTime, events, jobs, messages
from capitolmail.outbox.states import (
    REQUEUEABLE_STATES,
    UNFINISHED_MESSAGE_STATES,
    JobState,
    MessageState,
)

_UNFINISHED = sorted(state.value for state in UNFINISHED_MESSAGE_STATES)
# Options the sender parses from text ("120/min"); a number there is a caller's bug.
_TEXT_OPTIONS = frozenset({"rate"})


def _lock_job(conn: Connection, job_id: int) -> Any:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
    if row is None:
        raise JobNotFound(job_id)
    return row


def _set_state(
    conn: Connection, job_id: int, to: JobState, now: datetime, detail: str | None, **values: Any
) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(state=to.value, **values))
    record_event(conn, job_id=job_id, at=now, kind=f"job_{to}", detail=detail)
    announce(conn, job_id, to.value)


def schedule_job(conn: Connection, job_id: int, at: datetime, now: datetime) -> None:
    job = _lock_job(conn, job_id)
    refusals = {
        JobState.DONE: f"job {job_id} is done; nothing is left to send",
        JobState.CANCELLED: f"job {job_id} was cancelled; queue the letter again to send it",
        JobState.SENDING: f'job {job_id} is already sending; "capitolmail pause {job_id}" first',
    }
    if job.state in refusals:
        raise CapitolmailError(refusals[JobState(job.state)])
    detail = f"for {at.isoformat()}"
    _set_state(conn, job_id, JobState.SCHEDULED, now, detail, scheduled_at=at, paused_reason=None)


def past_grace(scheduled_at: datetime, now: datetime, grace: timedelta) -> bool:
    """Whether a job due at `scheduled_at` and found at `now` is too late to start:
    it becomes `missed` (start_due_jobs says why), also as `resume` foretells it."""
    return now - scheduled_at > grace


def start_due_jobs(
    conn: Connection, now: datetime, grace: timedelta, job_id: int | None = None
) -> StartedJobs:
    """Start the scheduled jobs whose time has come; mark `missed` those past the grace.

    The one place a job leaves `scheduled`: the scheduler calls it when a job's
    time comes and `worker --once` calls it on every run, so they cannot disagree
    about a late start. A job found more than `grace` after its time was due while
    no worker ran; sending it hours late (a letter timed for a vote, say) is worse
    than asking the operator, so it waits as `missed` until rescheduled.

    The rows are locked before they change, so two workers starting the same job
    apply one after the other and the second finds it started already.
    """
    query = (
        select(jobs.c.id, jobs.c.scheduled_at)
        .where(jobs.c.state == JobState.SCHEDULED.value, jobs.c.scheduled_at <= now)
        .order_by(jobs.c.id)
        .with_for_update()
    )
    if job_id is not None:
        query = query.where(jobs.c.id == job_id)
    due = conn.execute(query).all()
    started = [row.id for row in due if not past_grace(row.scheduled_at, now, grace)]
    missed = [row for row in due if past_grace(row.scheduled_at, now, grace)]
    if started:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_(started))
            .values(
                state=JobState.SENDING.value,
                # A paused and resumed job keeps the time it first started.
                started_at=func.coalesce(jobs.c.started_at, literal(now, UTCDateTime())),
            )
        )
        for started_id in started:
            record_event(conn, job_id=started_id, at=now, kind=f"job_{JobState.SENDING}")
            announce(conn, started_id, JobState.SENDING.value)
    for row in missed:
        late = now - row.scheduled_at
        reason = (
            f"no worker was running at {row.scheduled_at.isoformat()} or within the grace "
            f"period of {_duration(grace)} after it (found {_duration(late)} late); "
            f'reschedule with "capitolmail send {row.id} --at WHEN"'
        )
        _set_state(conn, row.id, JobState.MISSED, now, reason, last_error=reason)
    return StartedJobs(started=started, missed=[row.id for row in missed])


def _duration(delta: timedelta) -> str:
    """ "12h", "1h 30m", "45s": how a grace period and a delay read in a message."""
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if not hours and not minutes:
        parts.append(f"{seconds}s")
    return " ".join(part for part in parts if part)


# Jobs that send nothing more whatever happens next: pausing one changes nothing.
_STOPPED = frozenset({JobState.CANCELLED, JobState.DONE, JobState.MISSED})
# Jobs that are not paused but will send: resuming one changes nothing.
_GOING = frozenset({JobState.SCHEDULED, JobState.SENDING})


def pause_job(conn: Connection, job_id: int, reason: str, now: datetime) -> bool:
    """Pause; False, changing nothing, when the job already sends nothing more.

    A cancelled, done or missed job is left as it is rather than refused: the
    sender pauses a job when the provider refuses the key, and an operator may
    have cancelled it while that request was in flight. Raising there stopped the
    worker with the message still `sending`; what the pause asks for (send
    nothing more) already holds.
    """
    job = _lock_job(conn, job_id)
    if job.state == JobState.DRAFT:
        raise CapitolmailError(
            f'job {job_id} is a draft and sends nothing until "capitolmail send {job_id}"; '
            "there is nothing to pause"
        )
    if job.state in _STOPPED:
        return False
    _set_state(conn, job_id, JobState.PAUSED, now, reason, paused_reason=stored_text(reason))
    return True


def resume_job(conn: Connection, job_id: int, now: datetime) -> None:
    """Back to where a paused job was; a job already scheduled or sending is left alone
    (another operator resumed it first), and any other state is refused."""
    job = _lock_job(conn, job_id)
    if job.state in _GOING:
        return
    if job.state != JobState.PAUSED:
        raise CapitolmailError(f"job {job_id} is {job.state}, not paused; nothing to resume")
    # Back to where it was: a job that never started waits for its scheduled time.
    to = JobState.SCHEDULED if job.started_at is None else JobState.SENDING
    _set_state(conn, job_id, to, now, "resumed", paused_reason=None)


def cancel_job(conn: Connection, job_id: int, now: datetime) -> int:
    job = _lock_job(conn, job_id)
    if job.state == JobState.DONE:
        raise CapitolmailError(f"job {job_id} is done; there is nothing left to cancel")
    if job.state == JobState.CANCELLED:
        return 0
    # `sending` rows are in a provider's hands already; the sender records their outcome.
    waiting = (MessageState.QUEUED.value, MessageState.RETRY_WAIT.value)
    count = move_messages(
        conn,
        (messages.c.job_id == job_id) & messages.c.state.in_(waiting),
        to=MessageState.CANCELLED,
        now=now,
        detail="job cancelled before the message was sent",
        values={"next_attempt_at": None},
    )
    _set_state(
        conn, job_id, JobState.CANCELLED, now, f"{count} messages cancelled", finished_at=now
    )
    return count


def requeue(conn: Connection, job_id: int, states: Iterable[str], now: datetime) -> int:
    wanted = {MessageState(state) for state in states}
    if not wanted or not wanted <= REQUEUEABLE_STATES:
        raise ValueError(f"only unknown and failed messages can be requeued, not {sorted(wanted)}")
    job = _lock_job(conn, job_id)
    if job.state == JobState.CANCELLED:
        raise CapitolmailError(f"job {job_id} was cancelled; its messages cannot be requeued")
    where = (messages.c.job_id == job_id) & messages.c.state.in_([s.value for s in wanted])
    # The event keeps what the row forgets: the state it left and its last error.
    # Only requeue moves rows out of unknown and failed, and the job lock above
    # serialises requeues of one job, so selecting before updating is safe here.
    detail = (
        literal("requeued by an operator from ")
        + messages.c.state
        + literal("; last error: ")
        + func.coalesce(messages.c.last_error, literal("none"))
    )
    conn.execute(
        insert(events).from_select(
            ["message_id", "job_id", "at", "kind", "detail"],
            select(
                messages.c.id,
                messages.c.job_id,
                literal(now, UTCDateTime()),
                literal(MessageState.QUEUED.value),
                detail,
            ).where(where),
        )
    )
    count = conn.execute(
        update(messages)
        .where(where)
        .values(
            state=MessageState.QUEUED.value,
            last_error=None,
            next_attempt_at=None,
            claimed_by=None,
            claimed_at=None,
            updated_at=now,
        )
    ).rowcount
    if count and job.state == JobState.DONE:
        # It started long ago: straight back to sending, not to a schedule that a
        # worker would find hours late and mark missed.
        _set_state(conn, job_id, JobState.SENDING, now, "requeued", finished_at=None)
    elif count:
        announce(conn, job_id, "requeued")
    return count


def finish_jobs(conn: Connection, now: datetime) -> list[int]:
    unfinished = exists().where(messages.c.job_id == jobs.c.id, messages.c.state.in_(_UNFINISHED))
    candidates = (
        conn.execute(select(jobs.c.id).where(jobs.c.state == JobState.SENDING.value, ~unfinished))
        .scalars()
        .all()
    )
    finished = []
    for job_id in candidates:
        # Lock, then look again in a new statement: a requeue may have committed
        # queued rows since the first look, and a done job is never claimed from.
        locked = conn.execute(
            select(jobs.c.id)
            .where(jobs.c.id == job_id, jobs.c.state == JobState.SENDING.value)
            .with_for_update()
        ).first()
        still = conn.execute(select(jobs.c.id).where(jobs.c.id == job_id, ~unfinished)).first()
        if locked is not None and still is not None:
            _set_state(conn, job_id, JobState.DONE, now, None, finished_at=now)
            finished.append(job_id)
    return finished


def set_job_options(conn: Connection, job_id: int, options: dict[str, Any]) -> None:
    for name, value in options.items():
        if value is not None and name in _TEXT_OPTIONS and not isinstance(value, str):
            raise ValueError(f'job option "{name}" must be text such as "120/min", not {value!r}')
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f'job option "{name}" cannot be stored as JSON: {value!r}') from err
    job = _lock_job(conn, job_id)
    merged = {**(job.options or {}), **options}
    merged = {name: value for name, value in merged.items() if value is not None}
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(options=merged))
    announce(conn, job_id, "options")
