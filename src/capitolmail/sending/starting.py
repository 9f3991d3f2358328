"""Asking for a job to be sent: at a time, with a pace, or only a new pace; resuming it.

`send JOB` means "schedule it" for a job not yet sending, but for a job a worker
already sends (perhaps one that started between the user's look and the
command) it means "change its pace from the next claim on", unless a time was
given: re-timing a sending job is refused by the store, since its messages are
already going out. This module owns that rule, for the command line and any
later caller. Resuming a scheduled job whose time passed foretells what the
worker will do with it by the store's own grace rule (`past_grace`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from capitolmail.errors import CapitolmailError
from capitolmail.outbox import JobInfo, JobState, StartedJobs
from capitolmail.outbox.jobs import past_grace
from capitolmail.timing.pacing import PacingChange

log = logging.getLogger("capitolmail.worker")


class DueStarting(Protocol):
    """What starting the due jobs needs: the store's one locked decision, and a read."""

    def start_due_jobs(self, now: datetime, *, grace: timedelta) -> StartedJobs: ...

    def get_job(self, job_id: int) -> JobInfo: ...


def start_due(store: DueStarting, *, now: datetime, grace: timedelta) -> StartedJobs:
    """Start the jobs due now (`Store.start_due_jobs` decides start or missed under the
    job's row lock); log each one that missed its time, with why."""
    result = store.start_due_jobs(now, grace=grace)
    for job_id in result.missed:
        reason = store.get_job(job_id).last_error
        log.warning(
            "job %s missed its scheduled time: %s", job_id, reason, extra={"job_id": job_id}
        )
    return result


class JobStarting(Protocol):
    """What starting, pacing and resuming a job need of the outbox (`outbox.Store`
    provides it): reads of the job and the three decisions, never a claim."""

    def get_job(self, job_id: int) -> JobInfo: ...

    def schedule_job(self, job_id: int, at: datetime, now: datetime) -> JobInfo: ...

    def set_job_options(self, job_id: int, **options: Any) -> JobInfo: ...

    def resume_job(self, job_id: int, now: datetime) -> JobInfo: ...


@dataclass(frozen=True, slots=True)
class SendRequested:
    """The job as it now is; `pace_only` when it was already sending and only its
    rate or window changed."""

    job: JobInfo
    pace_only: bool


def request_send(
    store: JobStarting,
    job_id: int,
    *,
    at: datetime,
    at_given: bool,
    change: PacingChange,
    now: datetime,
) -> SendRequested:
    """Schedule `job_id` for `at` (due now when `at` is not after `now`) with `change`.

    `at_given` says the user named a time: a sending job then refuses it (the
    store's CapitolmailError) rather than silently keeping its own start.
    """
    info = store.get_job(job_id)
    if info.state != JobState.SENDING or at_given:
        try:
            store.schedule_job(job_id, at=at, now=now)
        except CapitolmailError:
            # A worker may have started it between our look and the schedule.
            info = store.get_job(job_id)
            if at_given or info.state != JobState.SENDING:
                raise
    pace_only = info.state == JobState.SENDING and not at_given
    return SendRequested(set_pacing(store, job_id, change), pace_only)


def set_pacing(store: JobStarting, job_id: int, change: PacingChange) -> JobInfo:
    """Merge the changed parts of the pace into the job's stored options."""
    options = change.stored()
    if not options:
        return store.get_job(job_id)
    return store.set_job_options(job_id, **options)


@dataclass(frozen=True, slots=True)
class Resumed:
    """A resumed job; `late` foretells what a worker does with a scheduled job whose
    time passed while it was paused: "missed" past the grace period, "now" within it."""

    job: JobInfo
    was_paused: bool
    late: Literal["missed", "now"] | None


def resume(store: JobStarting, job_id: int, *, now: datetime, grace: timedelta) -> Resumed:
    """Resume a paused job, and say whether its passed time still lets it start."""
    was_paused = store.get_job(job_id).state == JobState.PAUSED
    info = store.resume_job(job_id, now=now)
    late: Literal["missed", "now"] | None = None
    if info.state == JobState.SCHEDULED and info.scheduled_at is not None:
        if past_grace(info.scheduled_at, now, grace):
            late = "missed"
        elif info.scheduled_at <= now:
            late = "now"
    return Resumed(info, was_paused, late)
