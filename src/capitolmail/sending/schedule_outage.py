"""The schedule's side of a lost database: wait it out, say so once, lose nothing.

A running worker's schedule is its in-memory copy of the jobs table. While
the database is gone the copy cannot be refreshed and a job that comes due
cannot be started. Neither may end the worker, stop APScheduler's thread or fill
the log with a traceback a poll (a supervisor's pipe fills, and then every
thread blocks on the log).

Nothing here decides whether a job starts: `Store.start_due_jobs` does, with the
job's row locked, once the database is back. A job whose start could not be
written is still `scheduled` in the table, so the first refresh after the outage
puts it back on the schedule; it fires at once and starts, or is `missed` past
the grace period, by that one rule.
"""

from __future__ import annotations

import logging
import threading

from capitolmail.outbox import connection_lost
from capitolmail.redaction import first_line

log = logging.getLogger("capitolmail.schedule")


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
