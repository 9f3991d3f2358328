"""Reading jobs, their messages and their event log: what `status` and the web page show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from capitolmail.message import OutgoingMessage
from capitolmail.outbox import job_queries
from capitolmail.outbox.events import list_events
from capitolmail.outbox.records import EventInfo, JobInfo, MessageInfo
from capitolmail.outbox.store.part import StorePart


class JobReads(StorePart):
    """Read-only views of jobs; each method is one read transaction."""

    def get_job(self, job_id: int) -> JobInfo:
        with self._read() as conn:
            return job_queries.get_job(conn, job_id)

    def list_jobs(self) -> list[JobInfo]:
        """Newest first."""
        with self._read() as conn:
            return job_queries.list_jobs(conn)

    def list_messages(
        self, job_id: int, *, states: Iterable[str] | None = None
    ) -> list[MessageInfo]:
        """In `seq` order; a state that is not a MessageState value is a ValueError."""
        with self._read() as conn:
            return job_queries.list_messages(conn, job_id, states)

    def list_events(self, job_id: int, *, message_id: str | None = None) -> list[EventInfo]:
        """Oldest first."""
        with self._read() as conn:
            return list_events(conn, job_id, message_id)

    def get_message(self, message_id: str) -> OutgoingMessage:
        with self._read() as conn:
            return job_queries.get_message(conn, message_id)

    def failure_summary(self, job_id: int) -> list[tuple[str, int]]:
        """Why a job's failed, unknown and retry_wait messages did not get through:
        (last error, how many), most frequent first; "(no error recorded)" for none.

        One grouped query, so `status` can show it for a 300,000-message job.
        """
        with self._read() as conn:
            return job_queries.failure_summary(conn, job_id)

    def unsent_to_offices(self, bioguides: Iterable[str]) -> dict[int, int]:
        """Job id -> messages to these offices not yet handed to a provider."""
        with self._read() as conn:
            return job_queries.unsent_to_offices(conn, bioguides)

    def scheduled_jobs(self) -> dict[int, datetime]:
        """Job id -> scheduled time, for every job in `scheduled`."""
        with self._read() as conn:
            return job_queries.scheduled_jobs(conn)
