"""What the job administration commands need of the outbox, declared here rather
than taken whole.

`status`, `pause`, `cancel` and `requeue` read jobs and make the operator's
decisions; they never claim, send or record outcomes. Naming that small surface
keeps those commands from growing a dependency on the send loop's half of the
store, and shows a reader of the commands everything they can do. (`send` and
`resume` go through sending/starting.py, which declares its own.) `outbox.Store`
provides it; tests/outbox/test_ports.py checks the signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from capitolmail.outbox import JobInfo, MessageInfo, PaceNote
from capitolmail.outbox.report_queries import JobFigures


class JobAdministration(Protocol):
    """Read a job, and change its state or options: one transaction per call."""

    def get_job(self, job_id: int) -> JobInfo: ...

    def list_jobs(self) -> list[JobInfo]: ...

    def list_messages(
        self, job_id: int, *, states: Iterable[str] | None = None
    ) -> list[MessageInfo]: ...

    def failure_summary(self, job_id: int) -> list[tuple[str, int]]: ...

    def current_paces(self, job_ids: Iterable[int]) -> dict[int, PaceNote]: ...

    def job_figures(self, job_id: int) -> JobFigures: ...

    def pause_job(self, job_id: int, reason: str, now: datetime) -> JobInfo: ...

    def cancel_job(self, job_id: int, now: datetime) -> JobInfo: ...

    def requeue(self, job_id: int, states: Iterable[str], now: datetime) -> int: ...
