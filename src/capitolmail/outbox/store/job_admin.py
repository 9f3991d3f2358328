"""The operator's decisions about a job: schedule, start, pace, pause, resume, cancel, requeue."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from capitolmail.outbox import job_queries, jobs
from capitolmail.outbox.records import JobInfo, StartedJobs
from capitolmail.outbox.store.part import StorePart, aware


class JobAdmin(StorePart):
    """Each decision locks the job, checks its state and changes it in one transaction,
    and (except `requeue` and `start_due_jobs`) returns the job as it is afterwards."""

    def schedule_job(self, job_id: int, at: datetime, now: datetime) -> JobInfo:
        """Send from `at` on; refused once the job is sending, done or cancelled."""
        aware("at", at)
        aware("now", now)
        with self._write("schedule the job") as conn:
            jobs.schedule_job(conn, job_id, at, now)
            return job_queries.get_job(conn, job_id)

    def start_due_jobs(
        self, now: datetime, *, grace: timedelta, job_id: int | None = None
    ) -> StartedJobs:
        """Start scheduled jobs whose time has come (only `job_id`, if given); a job
        found more than `grace` after its time becomes `missed` instead."""
        aware("now", now)
        with self._write("start scheduled jobs") as conn:
            return jobs.start_due_jobs(conn, now, grace, job_id)

    def set_job_options(self, job_id: int, **options: Any) -> JobInfo:
        """Merge settings into the job's options: "rate" ("120/min"), later "window".

        A None value removes the option. Values must be JSON; the store does not
        parse them (the edge already did, and the sender reads them back), so any
        key is kept, and a job in any state may change them, also while sending:
        a running sender picks up the change with its next claim.
        """
        with self._write("set the job's options") as conn:
            jobs.set_job_options(conn, job_id, options)
            return job_queries.get_job(conn, job_id)

    def pause_job(self, job_id: int, reason: str, now: datetime) -> JobInfo:
        """Stop new claims; messages already `sending` still get their outcome.

        A cancelled, done or missed job is left as it is (it sends nothing more
        anyway): the returned JobInfo shows which happened.
        """
        aware("now", now)
        with self._write("pause the job") as conn:
            jobs.pause_job(conn, job_id, reason, now)
            return job_queries.get_job(conn, job_id)

    def resume_job(self, job_id: int, now: datetime) -> JobInfo:
        """Back to `sending` if it had started, else to `scheduled` for its time.

        A job already scheduled or sending is left as it is; any other state is refused.
        """
        aware("now", now)
        with self._write("resume the job") as conn:
            jobs.resume_job(conn, job_id, now)
            return job_queries.get_job(conn, job_id)

    def cancel_job(self, job_id: int, now: datetime) -> JobInfo:
        """Cancel queued and retry_wait messages; `sending` ones keep their outcome.

        Cancelling a cancelled job changes nothing; a done job is refused.
        """
        aware("now", now)
        with self._write("cancel the job") as conn:
            jobs.cancel_job(conn, job_id, now)
            return job_queries.get_job(conn, job_id)

    def requeue(self, job_id: int, states: Iterable[str], now: datetime) -> int:
        """Send `unknown` and/or `failed` messages again: an operator's decision.

        Attempts are kept; the last error moves to the event log. A done job goes
        back to `sending`, so its messages are due at once.
        """
        aware("now", now)
        with self._write("requeue messages") as conn:
            return jobs.requeue(conn, job_id, states, now)
