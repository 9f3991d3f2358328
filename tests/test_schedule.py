"""The APScheduler wiring, in process, against a real SQLite file and PostgreSQL.

The worker-process tests (test_worker_process.py, test_schedule_workers.py) show the
same from the outside; these pin down each worker's in-memory schedule: filled
from the jobs table, nothing of it written to the database, and several of them
(one per worker) starting a job once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from capitolmail.outbox import JobState, QueuedMessage, Store
from capitolmail.sending.job_notices import listening_for_jobs
from capitolmail.sending.schedule import JobScheduler

from .outbox.old_schema import database_at
from .outbox.test_store import NOW, outgoing

GRACE = timedelta(hours=12)


def _queue(store: Store, count: int = 2) -> int:
    items = [QueuedMessage(outgoing(i)) for i in range(count)]
    return store.create_job(letter_slug="arms-sale", kind="joint", messages=items, now=NOW)


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scheduler did not get there in time"
        time.sleep(0.05)


def _holds(scheduler: JobScheduler, plan: dict[int, datetime], timeout: float = 10.0) -> None:
    """Wait until `scheduler`'s in-memory schedule is exactly `plan`."""
    assert scheduler.wait_for(lambda: scheduler.planned() == plan, timeout), (
        f"the schedule is {scheduler.planned()}, not {plan}"
    )


def test_a_job_starts_at_its_time_and_wakes_the_sender(store: Store) -> None:
    job_id = _queue(store)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    store.schedule_job(job_id, at, datetime.now(UTC))
    woken: list[list[int]] = []

    with JobScheduler(store, grace=GRACE, poll_seconds=0.2, on_start=woken.append) as scheduler:
        _holds(scheduler, {job_id: at})
        assert store.get_job(job_id).state == JobState.SCHEDULED
        assert scheduler.wait_for(lambda: scheduler.started == [job_id], timeout=10)
        assert store.get_job(job_id).state == JobState.SENDING
        _holds(scheduler, {})  # a fired one-off job leaves the schedule

    job = store.get_job(job_id)
    assert job.started_at is not None
    assert job.started_at >= at
    assert woken == [[job_id]]
    assert [e.kind for e in store.list_events(job_id)].count("job_sending") == 1


def test_the_next_worker_reads_the_schedule_from_the_jobs_table(store: Store) -> None:
    """Nothing of the schedule is kept but the jobs table: a restart finds it there."""
    job_id = _queue(store)
    at = datetime.now(UTC) + timedelta(hours=1)
    store.schedule_job(job_id, at, datetime.now(UTC))
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as first:
        _holds(first, {job_id: at})
    assert first.planned() == {}
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as second:
        _holds(second, {job_id: at})
    # Cancelled meanwhile: the next worker never holds it.
    store.cancel_job(job_id, datetime.now(UTC))
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as third:
        assert third.wait_for(lambda: third.syncs >= 1, timeout=10)
        assert third.planned() == {}
    assert store.get_job(job_id).state == JobState.CANCELLED


def test_a_time_passed_while_no_worker_ran_starts_within_the_grace_period(store: Store) -> None:
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) - timedelta(minutes=30), NOW)
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as scheduler:
        _until(lambda: store.get_job(job_id).state == JobState.SENDING)
    assert (scheduler.started, scheduler.missed) == ([job_id], [])


def test_a_time_passed_beyond_the_grace_period_is_missed(store: Store) -> None:
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) - timedelta(seconds=30), NOW)
    with JobScheduler(store, grace=timedelta(seconds=10), poll_seconds=0.2) as scheduler:
        _until(lambda: store.get_job(job_id).state == JobState.MISSED)
    assert (scheduler.started, scheduler.missed) == ([], [job_id])
    job = store.get_job(job_id)
    assert job.counts == {"queued": 2}
    assert job.last_error is not None and "grace period of 10s" in job.last_error


def test_a_rescheduled_job_fires_at_its_new_time_only(store: Store) -> None:
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC))
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as scheduler:
        assert scheduler.wait_for(lambda: bool(scheduler.planned()), timeout=10)
        store.pause_job(job_id, "paused by an operator", datetime.now(UTC))
        _holds(scheduler, {})
        soon = datetime.now(UTC) + timedelta(seconds=1)
        store.schedule_job(job_id, soon, datetime.now(UTC))
        _holds(scheduler, {job_id: soon})
        assert scheduler.wait_for(lambda: scheduler.started == [job_id], timeout=10)
    assert store.get_job(job_id).started_at >= soon  # type: ignore[operator]


def test_stopping_while_a_refresh_runs_never_hangs(store: Store) -> None:
    """APScheduler's shutdown(wait=True) would wait for a refresh that waits for it."""
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC))
    for _ in range(20):
        scheduler = JobScheduler(store, grace=GRACE, poll_seconds=0.01)
        scheduler.start()
        # Several refreshes done, the next one likely running when stop() comes.
        assert scheduler.wait_for(lambda s=scheduler: s.syncs >= 2, timeout=10)
        stopper = threading.Thread(target=scheduler.stop)
        stopper.start()
        stopper.join(timeout=20)
        assert not stopper.is_alive(), "stop() hung"


@contextmanager
def _workers(database_url: str, count: int, poll: float) -> Iterator[list[JobScheduler]]:
    """`count` schedules as `count` workers keep them: a store, a scheduler and (on
    PostgreSQL) a notice listener each, the listener refreshing the schedule."""
    with ExitStack() as stack:
        schedulers = []
        for _ in range(count):
            store = stack.enter_context(Store.open(database_url))
            scheduler = stack.enter_context(JobScheduler(store, grace=GRACE, poll_seconds=poll))
            listener = stack.enter_context(
                listening_for_jobs(store.engine, lambda _job, _change, s=scheduler: s.sync())
            )
            assert listener is None or listener.listening.wait(10), "not listening"
            assert scheduler.wait_for(lambda s=scheduler: s.syncs >= 1, timeout=10)
            schedulers.append(scheduler)
        yield schedulers


def test_every_workers_schedule_follows_the_jobs_table_and_a_job_starts_once(
    store: Store, database_url: str
) -> None:
    """Scheduled, rescheduled, paused, resumed, cancelled: each change reaches all three
    workers' schedules (at once by NOTIFY on PostgreSQL, whose workers here poll only
    every minute; by the 0.2 s poll on SQLite). All of them fire a job at its time,
    one of them stopped: it starts once."""
    postgresql = database_url.startswith("postgresql")
    job_id, other = _queue(store), _queue(store)

    def everywhere(schedulers: list[JobScheduler], plan: dict[int, datetime]) -> None:
        for scheduler in schedulers:
            _holds(scheduler, plan, timeout=5)

    with _workers(database_url, 3, poll=60 if postgresql else 0.2) as schedulers:
        first = datetime.now(UTC) + timedelta(hours=1)
        store.schedule_job(job_id, first, datetime.now(UTC))
        everywhere(schedulers, {job_id: first})
        later = first + timedelta(hours=1)
        store.schedule_job(job_id, later, datetime.now(UTC))
        everywhere(schedulers, {job_id: later})
        store.pause_job(job_id, "paused by an operator", datetime.now(UTC))
        everywhere(schedulers, {})
        store.resume_job(job_id, datetime.now(UTC))
        everywhere(schedulers, {job_id: later})
        store.cancel_job(job_id, datetime.now(UTC))
        everywhere(schedulers, {})

        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        store.schedule_job(other, soon, datetime.now(UTC))
        everywhere(schedulers, {other: soon})
        schedulers[0].stop()  # gone before the time: the others start it
        _until(lambda: store.get_job(other).state == JobState.SENDING)
        for scheduler in schedulers[1:]:
            _holds(scheduler, {})  # each fired it
            scheduler.stop()  # and its start has returned

    assert [s.started for s in schedulers] in ([[], [other], []], [[], [], [other]])
    assert [e.kind for e in store.list_events(other)].count("job_sending") == 1
    assert store.get_job(other).started_at >= soon  # type: ignore[operator]
    assert store.get_job(job_id).state == JobState.CANCELLED


def test_a_database_from_before_0016_loses_apschedulers_table_but_not_its_schedule(
    database_url: str,
) -> None:
    """Earlier workers copied the schedule into `apscheduler_jobs`; the upgrade drops
    the copy, and the jobs table, the truth, still holds the job and its time."""
    with database_at(database_url, "0013") as conn:
        conn.exec_driver_sql(
            "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) "
            "VALUES ('capitolmail-job-1', 1.0, X'00')"
            if conn.dialect.name == "sqlite"
            else "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) "
            "VALUES ('capitolmail-job-1', 1.0, '\\x00')"
        )
    with Store.open(database_url) as store:
        with store.engine.connect() as conn:
            assert "apscheduler_jobs" not in inspect(conn).get_table_names()
        job_id = _queue(store)
        at = datetime.now(UTC) + timedelta(hours=1)
        store.schedule_job(job_id, at, datetime.now(UTC))
        with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as scheduler:
            _holds(scheduler, {job_id: at})
