"""Reading what a delivery report shows: a job's figures and each message's milestones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from capitolmail.outbox import report_queries
from capitolmail.outbox.report_queries import JobFigures, JobOutline, Milestones
from capitolmail.outbox.store.part import StorePart


class ReportReads(StorePart):
    """Read-only, one transaction each; JobNotFound for a job that is not there.

    The iterators hold their transaction (and connection) until they are read to
    the end or closed: read them whole, or in a `with closing(...)`.
    """

    def job_figures(self, job_id: int) -> JobFigures:
        """Counts, offices reached, bounces by reason, replies, opens, clicks per link and
        unsubscribes: grouped queries, cheap enough for the status page's refresh."""
        with self._read() as conn:
            return report_queries.job_figures(conn, job_id)

    def job_outline(self, job_id: int) -> JobOutline:
        """The subject, the funnel's counts and the endings by state, counted in the database."""
        with self._read() as conn:
            return report_queries.job_outline(conn, job_id)

    def job_milestones(self, job_id: int) -> Iterator[Milestones]:
        """Every message of the job, in order, with when it was queued, sent, delivered,
        bounced, opened and answered: read as it is iterated, a batch at a time."""
        with self._read() as conn:
            yield from report_queries.job_milestones(conn, job_id)

    def job_times(self, job_id: int, milestone: str) -> Iterator[datetime]:
        """When each message was "sent" or first "delivered", earliest first."""
        with self._read() as conn:
            yield from report_queries.job_times(conn, job_id, milestone)
