"""APScheduler wiring: a running worker starts each scheduled job at its time.

The jobs table is the schedule's source of truth: `send --at` writes it,
`status` reads it, and pause, resume, cancel and rescheduling change it from
any process. Each running worker keeps its own copy in memory (APScheduler's
MemoryJobStore), filled from the jobs table at start, once a `poll_seconds`, and
at once on a job notice (PostgreSQL's LISTEN/NOTIFY, job_notices.py). APScheduler
wakes the worker at the exact time; nothing of it is written to the database.

Why a copy in every worker rather than one worker holding a scheduler role
through a lease: every worker fires a job at its time, so when one dies the
others fire it anyway, with no lease to time out first and no takeover to get
wrong (two holders after a pause, none after a lost renewal). Firing more than
once is harmless because what happens to a due job is decided in one place,
`Store.start_due_jobs`, which locks the job's row: the first worker starts it,
the others find it started. A worker's restart loses nothing, since its copy
is only ever the jobs table read again. (Before, every worker wrote the same
APScheduler SQL job store, which APScheduler 3 does not support; migration 0016
drops that table.)

A time missed while no worker ran is decided by the same rule: APScheduler
runs a job however late it finds it (no misfire grace of its own), and the store
starts it within `worker.grace_period` or marks it `missed`, logged here and
shown by `status`. A lost database (schedule_outage.py) is waited out: a job
whose start could not be written is still `scheduled` in the table, so the next
successful read puts it back on the schedule and it fires at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.sending.schedule_outage import ScheduleOutage

log = logging.getLogger("capitolmail.schedule")

_PREFIX = "capitolmail-job-"
_SYNC_ID = "capitolmail-sync"

Clock = Callable[[], datetime]


class JobScheduler:
    """Starts scheduled jobs on time in a running worker; use as a context manager.

    `on_start` is called with the ids of jobs just started (the sender uses it
    to wake up at once instead of at its next poll). `planned()` is what this
    worker will fire and when; `wait_for` waits for it to change.
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
        self.syncs = 0  # reads of the jobs table that succeeded
        self._scheduler: BackgroundScheduler | None = None
        # Calls of ours running in APScheduler's threads, and whether we are stopping:
        # see stop() for why they are counted. Notified too whenever the schedule changes.
        self._running = 0
        self._stopping = False
        self._calls = threading.Condition()
        self._outage = ScheduleOutage()  # a lost database: said once, ridden out
        # The copy is refreshed from APScheduler's interval and from job notices:
        # one at a time, so a stale read never undoes a newer one.
        self._sync_lock = threading.Lock()

    def __enter__(self) -> JobScheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        scheduler = BackgroundScheduler(
            timezone=UTC,
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            # However late: the store, not APScheduler, decides start or missed.
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        scheduler.add_job(
            self.sync,
            "interval",
            seconds=self.poll_seconds,
            id=_SYNC_ID,
            next_run_time=datetime.now(UTC),
        )
        # Set before start: the first read runs at once, in APScheduler's thread.
        self._scheduler = scheduler
        self._stopping = False
        try:
            scheduler.start()
        except BaseException:
            self._scheduler = None
            raise

    def stop(self) -> None:
        """Let our running calls finish, refuse new ones, then shut APScheduler down.

        APScheduler's shutdown(wait=True) holds its job-store lock while it waits
        for running jobs, and a running refresh needs that lock: the two would wait
        on each other for ever. So we wait for our own calls first, with new ones
        turned away, and then shut down without waiting.
        """
        with self._calls:
            self._stopping = True
            self._calls.wait_for(lambda: self._running == 0, timeout=60)
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)

    def planned(self) -> dict[int, datetime]:
        """The jobs this worker will fire, with their times (empty once stopped)."""
        scheduler = self._scheduler
        if scheduler is None:
            return {}
        return {
            int(job.id.removeprefix(_PREFIX)): job.trigger.run_date
            for job in scheduler.get_jobs()
            if job.id.startswith(_PREFIX)
        }

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition()` holds, looking again after each refresh and each
        start; False when `timeout` seconds passed first."""
        with self._calls:
            return self._calls.wait_for(condition, timeout=timeout)

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

    def sync(self) -> None:
        """Make this worker's schedule match the jobs table's scheduled jobs."""
        with self._call() as allowed, self._sync_lock:
            scheduler = self._scheduler
            if allowed and scheduler is not None:
                self._sync(scheduler)

    def _sync(self, scheduler: BackgroundScheduler) -> None:
        try:
            wanted = self.store.scheduled_jobs()
        except Exception as err:
            if self._outage.failed(err, "bring the schedule up to date"):
                return
            # The next poll tries again; a worker must not die of a busy database.
            log.exception("could not bring the schedule up to date; trying again shortly")
            return
        self._outage.reached()
        current = self.planned()
        for job_id in current.keys() - wanted.keys():
            # Paused, cancelled or started elsewhere: nothing to fire any more.
            try:
                scheduler.remove_job(f"{_PREFIX}{job_id}")
            except JobLookupError:
                continue  # it fired between our look and now
            log.info("job %s is off this worker's schedule", job_id, extra={"job_id": job_id})
        for job_id, at in wanted.items():
            if current.get(job_id) != at:
                # A time already past fires at once, and the store decides what it means.
                scheduler.add_job(
                    self.start_job,
                    DateTrigger(run_date=at, timezone=UTC),
                    args=[job_id],
                    id=f"{_PREFIX}{job_id}",
                    name=f"start job {job_id}",
                    replace_existing=True,
                )
                log.info(
                    "job %s is on this worker's schedule for %s",
                    job_id,
                    at.isoformat(),
                    extra={"job_id": job_id},
                )
        with self._calls:
            self.syncs += 1

    def start_job(self, job_id: int) -> None:
        """What APScheduler runs at a job's time: the store starts it or marks it missed."""
        with self._call() as allowed:
            if allowed:
                try:
                    now = self.clock()
                    result = self.store.start_due_jobs(now, grace=self.grace, job_id=job_id)
                except StoreError as err:
                    if not self._outage.failed(err, f"start job {job_id}"):
                        raise
                    return  # still `scheduled`: the next read puts it back, and it fires
                self._report(result.started, result.missed)

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
