"""The schedule's side of a lost database: wait it out, say so once, lose nothing.

A running worker's schedule lives in two tables of the outbox database: the
jobs table (the truth) and APScheduler's copy. While the database is gone the
mirror cannot read the one and APScheduler cannot read the other. Neither may
end the worker, stop APScheduler's thread or fill the log with a traceback a
poll (a supervisor's pipe fills, and then every thread blocks on the log).

Nothing here decides whether a job starts: `Store.start_due_jobs` does, with the
job's row locked, once the database is back. So a copy APScheduler could not
remove is harmless (firing it again starts nothing twice), and a job whose time
passed during the outage still starts, or is `missed` past the grace period,
by that one rule.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from capitolmail.outbox import connection_lost
from capitolmail.redaction import first_line

log = logging.getLogger("capitolmail.schedule")

# How soon APScheduler looks again when it could not read its table.
RETRY_SECONDS = 1.0


class ScheduleOutage:
    """Whether the schedule has lost the database; says so once, and once when back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down = False

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, err: BaseException, doing: str) -> bool:
        """Note a failure while `doing`; True when it was a lost connection (handled)."""
        if not connection_lost(err):
            return False
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.warning(
                "the schedule lost the outbox database while it tried to %s (%s); "
                "scheduled jobs start once it is back",
                doing,
                first_line(err),
            )
        return True

    def reached(self) -> None:
        """The database answered: say so if it had been gone."""
        with self._lock:
            was, self._down = self._down, False
        if was:
            log.warning("the schedule reached the outbox database again")


class OutageTolerantJobStore(SQLAlchemyJobStore):
    """APScheduler's SQL job store, riding out a lost connection.

    APScheduler's loop survives a failed `get_due_jobs`, but not a failed
    `get_next_run_time` or `remove_job` in the same pass: its thread would end,
    and with it the mirror and every scheduled start in this worker.
    """

    def __init__(self, *, outage: ScheduleOutage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage = outage

    def get_due_jobs(self, now: datetime) -> list[Job]:
        try:
            jobs = super().get_due_jobs(now)
        except Exception as err:
            if not self.outage.failed(err, "read which jobs are due"):
                raise
            return []
        self.outage.reached()
        return jobs

    def get_next_run_time(self) -> datetime | None:
        try:
            return super().get_next_run_time()
        except Exception as err:
            if not self.outage.failed(err, "read when the next job is due"):
                raise
            return datetime.now(UTC) + timedelta(seconds=RETRY_SECONDS)

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except Exception as err:
            # Left in the table, it fires again when the database is back, and the
            # store starts the job once whichever way it comes.
            if not self.outage.failed(err, f"remove {job_id} it has just fired"):
                raise
