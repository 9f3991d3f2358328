"""Reading what a delivery report shows: a job's figures and each message's milestones."""

from __future__ import annotations

from capitolmail.outbox import report_queries
from capitolmail.outbox.report_queries import JobFigures, Milestones
from capitolmail.outbox.store.part import StorePart


class ReportReads(StorePart):
    """Read-only, one transaction each; JobNotFound for a job that is not there."""

    def job_figures(self, job_id: int) -> JobFigures:
        """Counts, offices reached, bounces by reason, replies, opens, clicks per link and
        unsubscribes: grouped queries, cheap enough for the status page's refresh."""
        with self._read() as conn:
            return report_queries.job_figures(conn, job_id)

    def job_milestones(self, job_id: int) -> list[Milestones]:
        """Every message of the job, in order, with when it was queued, sent, delivered,
        bounced, opened and answered."""
        with self._read() as conn:
            return report_queries.job_milestones(conn, job_id)
