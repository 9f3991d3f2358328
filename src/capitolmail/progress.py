"""How far a send has got: a rich bar per job on a terminal, log lines elsewhere.

The sender reports each recorded outcome; this keeps per-job counts, the rate
over the last minute and the time left. On a terminal that is a live bar; in a
pipe, a log file or `--log-format json` it is a log record every few seconds
and one when a job's last message is out, with the numbers as fields.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from capitolmail.outbox import ClaimedMessage, JobInfo, Store
from capitolmail.outbox.states import UNFINISHED_MESSAGE_STATES
from capitolmail.printable import printable
from capitolmail.timing.durations import format_seconds

log = logging.getLogger("capitolmail.progress")

# Outcomes that finish a message for this run; a retry or a given-back claim does not.
# An `unknown` one is finished too, and counted apart: it may or may not have arrived.
_FINISHING = frozenset({"sent", "failed", "unknown"})
_RATE_WINDOW = 60.0


@dataclass
class _JobProgress:
    total: int
    done: int
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    finished_at: deque[float] = field(default_factory=deque)
    task: TaskID | None = None

    def rate(self, now: float) -> float:
        """Messages finished per second over the last minute (or since the first)."""
        while self.finished_at and now - self.finished_at[0] > _RATE_WINDOW:
            self.finished_at.popleft()
        if len(self.finished_at) < 2:
            return 0.0
        span = now - self.finished_at[0]
        return len(self.finished_at) / span if span > 0 else 0.0


class RateColumn(ProgressColumn):
    """Messages (or rows) per second, as rich measures it for the bar."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} msg/s")


class SendProgress:
    """An `on_outcome` callback for `send_due`; a context manager around the run."""

    def __init__(
        self, store: Store, console: Console, *, live: bool, log_every: float = 5.0
    ) -> None:
        self.store = store
        self.live = live
        self.log_every = log_every
        self.jobs: dict[int, _JobProgress] = {}
        self._before: dict[int, int] = {}
        # The first line after a few seconds, when there is a rate to report.
        self._next_log = time.monotonic() + log_every
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            RateColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not live,
            transient=False,
        )

    def __enter__(self) -> SendProgress:
        # What each job had finished before this run: the sender reports outcomes
        # after recording a batch, so a count read later would include some twice.
        self._before = {job.id: _finished(job) for job in self.store.list_jobs()}
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.__exit__(None, None, None)

    def __call__(self, claimed: ClaimedMessage, label: str) -> None:
        job = self.jobs.get(claimed.job_id) or self._track(claimed.job_id)
        if label not in _FINISHING:
            return
        now = time.monotonic()
        job.done = min(job.done + 1, job.total)
        job.finished_at.append(now)
        if label == "sent":
            job.sent += 1
        elif label == "unknown":
            job.unknown += 1
        else:
            job.failed += 1
        if job.task is not None:
            self._progress.update(job.task, completed=job.done)
        if not self.live and (now >= self._next_log or job.done >= job.total):
            self._next_log = now + self.log_every
            self._log(claimed.job_id, job, now)

    def _track(self, job_id: int) -> _JobProgress:
        info = self.store.get_job(job_id)
        # Messages finished before this run count as done: the bar shows the job, not the run.
        job = _JobProgress(total=info.total, done=self._before.get(job_id, 0))
        if self.live:
            job.task = self._progress.add_task(
                printable(f"Job {job_id} ({info.letter_slug})"),
                total=info.total,
                completed=job.done,
            )
        self.jobs[job_id] = job
        return job

    def _log(self, job_id: int, job: _JobProgress, now: float) -> None:
        rate = job.rate(now)
        remaining = job.total - job.done
        eta = remaining / rate if rate > 0 else None
        log.info(
            "job %s: %d of %d done (%d sent, %d failed%s this run), %.1f msg/s%s",
            job_id,
            job.done,
            job.total,
            job.sent,
            job.failed,
            f", {job.unknown} unknown" if job.unknown else "",
            rate,
            f", about {format_seconds(eta)} left" if eta is not None and remaining else "",
            extra={
                "job_id": job_id,
                "done": job.done,
                "total": job.total,
                "sent": job.sent,
                "failed": job.failed,
                "unknown": job.unknown,
                "rate_per_second": round(rate, 2),
                "eta_seconds": None if eta is None else round(eta, 1),
            },
        )


def _finished(info: JobInfo) -> int:
    unfinished = sum(info.counts.get(state, 0) for state in UNFINISHED_MESSAGE_STATES)
    return info.total - unfinished
