"""APScheduler wiring: a running worker starts each scheduled job at its time.

The jobs table is the schedule's source of truth: `send --at` writes it,
`status` reads it, and pause, resume, cancel and rescheduling change it from
any process. A running worker mirrors it, once a `poll_seconds`, into
APScheduler's persistent job store (a table in the same database), and
APScheduler wakes the worker at the exact time and tells it when a time was
missed because no worker was running.

What happens to a due job is decided in one place, `Store.start_due_jobs`, which
locks the job's row: two workers firing the same job start it once, and a job
found later than the grace period becomes `missed` whichever path found it.
APScheduler 3 does not support several schedulers sharing a job store, so
`SharedJobStore` tolerates the other worker having run or removed a job first,
and a lost database connection (schedule_outage.py): the schedule waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from capitolmail.errors import CapitolmailError, StoreError
from capitolmail.outbox import Store
from capitolmail.sending.schedule_outage import OutageTolerantJobStore, ScheduleOutage

log = logging.getLogger("capitolmail.schedule")

_PREFIX = "capitolmail-job-"
_SYNC_ID = "capitolmail-sync"
# The scheduler of this process. APScheduler stores a job's function by its
# import path, not the object, so the stored job reaches the worker through here.
_active: JobScheduler | None = None
_active_lock = threading.Lock()

Clock = Callable[[], datetime]


def start_scheduled_job(job_id: int) -> None:
    """What APScheduler runs at a job's time (stored as "capitolmail.sending.schedule:…";
    rows from before the move name capitolmail.schedule, whose shim leads here)."""
    scheduler = _active
    if scheduler is None:
        log.warning("job %s came due, but no worker in this process is running", job_id)
        return
    scheduler.start_job(job_id)


class SharedJobStore(OutageTolerantJobStore):
    """APScheduler's SQL job store, for several workers sharing one database.

    When two workers fire the same job, each then removes it; the second finds
    nothing to remove, which APScheduler 3 reports by raising from inside its
    scheduling loop. The job is gone either way, which is all either wanted.
    """

    def add_job(self, job: Job) -> None:
        try:
            super().add_job(job)
        except ConflictingIdError:
            # The other worker mirrored the same job first; make ours count.
            super().update_job(job)

    def update_job(self, job: Job) -> None:
        try:
            super().update_job(job)
        except JobLookupError:
            log.debug("job %s was removed by another worker", job.id)

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.debug("job %s was removed by another worker", job_id)


class JobScheduler:
    """Starts scheduled jobs on time in a running worker; use as a context manager.

    `on_start` is called with the ids of jobs just started (the sender uses it
    to wake up at once instead of at its next poll).
    """

    def __init__(
        self,
        store: Store,
        *,
        grace: timedelta,
        poll_seconds: float = 1.0,
        on_start: Callable[[list[int]], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.grace = grace
        self.poll_seconds = poll_seconds
        self.on_start = on_start
        self.clock = clock or (lambda: datetime.now(UTC))
        self.started: list[int] = []
        self.missed: list[int] = []
        self._scheduler: BackgroundScheduler | None = None
        # Calls of ours running in APScheduler's threads, and whether we are stopping:
        # see stop() for why they are counted.
        self._running = 0
        self._stopping = False
        self._calls = threading.Condition()
        self._outage = ScheduleOutage()  # a lost database: said once, ridden out
        # The mirror runs from APScheduler's interval and from job notices
        # (job_notices.py): one at a time, so a stale read never undoes a newer one.
        self._sync_lock = threading.Lock()

    def __enter__(self) -> JobScheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        global _active
        with _active_lock:
            if _active is not None:
                raise CapitolmailError("a scheduler is already running in this process")
            _active = self
        scheduler = BackgroundScheduler(
            timezone=UTC,
            jobstores={
                "default": SharedJobStore(engine=self.store.engine, outage=self._outage),
                "local": MemoryJobStore(),
            },
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={
                "misfire_grace_time": max(1, int(self.grace.total_seconds())),
                "coalesce": True,
                "max_instances": 1,
            },
        )
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        # The mirror itself is not persisted: each worker runs its own.
        scheduler.add_job(
            self.sync,
            "interval",
            seconds=self.poll_seconds,
            id=_SYNC_ID,
            jobstore="local",
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,
        )
        # Set before start: the first mirror runs at once, in APScheduler's thread.
        self._scheduler = scheduler
        self._stopping = False
        try:
            scheduler.start()
        except BaseException:
            self._scheduler = None
            self._release()
            raise

    def stop(self) -> None:
        """Let our running calls finish, refuse new ones, then shut APScheduler down.

        APScheduler's shutdown(wait=True) holds its job-store lock while it waits
        for running jobs, and a running mirror needs that lock: the two would wait
        on each other for ever. So we wait for our own calls first, with new ones
        turned away, and then shut down without waiting.
        """
        with self._calls:
            self._stopping = True
            self._calls.wait_for(lambda: self._running == 0, timeout=60)
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self._release()

    @contextmanager
    def _call(self) -> Iterator[bool]:
        """Yields False when stopping: the caller then does nothing."""
        with self._calls:
            if self._stopping:
                yield False
                return
            self._running += 1
        try:
            yield True
        finally:
            with self._calls:
                self._running -= 1
                self._calls.notify_all()

    def _release(self) -> None:
        global _active
        with _active_lock:
            if _active is self:
                _active = None

    def sync(self) -> None:
        """Make APScheduler's jobs match the jobs table's scheduled jobs."""
        with self._call() as allowed, self._sync_lock:
            scheduler = self._scheduler
            if allowed and scheduler is not None:
                self._sync(scheduler)

    def _sync(self, scheduler: BackgroundScheduler) -> None:
        try:
            wanted = {
                f"{_PREFIX}{job_id}": at for job_id, at in self.store.scheduled_jobs().items()
            }
            current: dict[str, Any] = {
                job.id: getattr(job.trigger, "run_date", None)
                for job in scheduler.get_jobs(jobstore="default")
                if job.id.startswith(_PREFIX)
            }
            for aps_id in current.keys() - wanted.keys():
                # Paused, cancelled or started elsewhere: nothing to fire any more.
                scheduler.remove_job(aps_id, jobstore="default")
            for aps_id, at in wanted.items():
                if current.get(aps_id) != at:
                    scheduler.add_job(
                        start_scheduled_job,
                        DateTrigger(run_date=at, timezone=UTC),
                        args=[int(aps_id.removeprefix(_PREFIX))],
                        id=aps_id,
                        name=f"start job {aps_id.removeprefix(_PREFIX)}",
                        jobstore="default",
                        replace_existing=True,
                    )
            self._outage.reached()
        except JobLookupError:
            pass  # another worker got there between our read and our change
        except Exception as err:
            if self._outage.failed(err, "bring the schedule up to date"):
                return
            # The next poll tries again; a worker must not die of a busy database.
            log.exception("could not bring the schedule up to date; trying again shortly")

    def start_job(self, job_id: int) -> None:
        with self._call() as allowed:
            if allowed:
                try:
                    now = self.clock()
                    result = self.store.start_due_jobs(now, grace=self.grace, job_id=job_id)
                except StoreError as err:
                    if not self._outage.failed(err, f"start job {job_id}"):
                        raise
                    return  # still `scheduled`: the mirror fires it again once back
                self._report(result.started, result.missed)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if event.job_id.startswith(_PREFIX):
            # The store decides again, with its own clock: the same rule, one answer.
            self.start_job(int(event.job_id.removeprefix(_PREFIX)))

    def _report(self, started: list[int], missed: list[int]) -> None:
        for job_id in started:
            log.info("job %s started on schedule", job_id, extra={"job_id": job_id})
        for job_id in missed:
            log.warning(
                "job %s missed its time: no worker was running within the grace period; "
                'reschedule it with "capitolmail send %s --at WHEN"',
                job_id,
                job_id,
                extra={"job_id": job_id},
            )
        self.started += started
        self.missed += missed
        if started and self.on_start is not None:
            self.on_start(started)
