"""The APScheduler wiring, in process, against a real SQLite file and PostgreSQL.

The worker-process tests (test_worker_process.py) show the same from the outside;
these pin down what the scheduler does with its persistent job store.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import func, select

from capitolmail.errors import CapitolmailError
from capitolmail.outbox import JobState, QueuedMessage, Store
from capitolmail.outbox.schema import apscheduler_jobs
from capitolmail.sending.schedule import JobScheduler

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


def _stored_jobs(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(apscheduler_jobs)).scalar_one()


def test_a_job_starts_at_its_time_and_wakes_the_sender(store: Store) -> None:
    job_id = _queue(store)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    store.schedule_job(job_id, at, datetime.now(UTC))
    woken: list[list[int]] = []

    with JobScheduler(store, grace=GRACE, poll_seconds=0.2, on_start=woken.append) as scheduler:
        _until(lambda: _stored_jobs(store) == 1)  # mirrored into APScheduler's table
        assert store.get_job(job_id).state == JobState.SCHEDULED
        _until(lambda: store.get_job(job_id).state == JobState.SENDING)
        assert scheduler.started == [job_id]

    job = store.get_job(job_id)
    assert job.started_at is not None
    assert job.started_at >= at
    assert woken == [[job_id]]
    assert [e.kind for e in store.list_events(job_id)].count("job_sending") == 1
    assert _stored_jobs(store) == 0, "a fired one-off job leaves the job store"


def test_a_schedule_mirrored_before_a_restart_is_kept_in_the_database(store: Store) -> None:
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC))
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2):
        _until(lambda: _stored_jobs(store) == 1)
    assert _stored_jobs(store) == 1, "the next worker finds the schedule where this one left it"
    # Cancelled meanwhile: the next worker drops it instead of firing it.
    store.cancel_job(job_id, datetime.now(UTC))
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2):
        _until(lambda: _stored_jobs(store) == 0)
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
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2):
        _until(lambda: _stored_jobs(store) == 1)
        store.pause_job(job_id, "paused by an operator", datetime.now(UTC))
        _until(lambda: _stored_jobs(store) == 0)
        soon = datetime.now(UTC) + timedelta(seconds=1)
        store.schedule_job(job_id, soon, datetime.now(UTC))
        _until(lambda: store.get_job(job_id).state == JobState.SENDING)
    assert store.get_job(job_id).started_at >= soon  # type: ignore[operator]


def test_one_scheduler_per_process(store: Store) -> None:
    with JobScheduler(store, grace=GRACE), pytest.raises(CapitolmailError, match="already"):
        JobScheduler(store, grace=GRACE).start()
    # The first one's exit frees the slot.
    with JobScheduler(store, grace=GRACE):
        pass


def test_stopping_while_the_mirror_runs_never_hangs(store: Store) -> None:
    """APScheduler's shutdown(wait=True) would wait for a mirror that waits for it."""
    job_id = _queue(store)
    store.schedule_job(job_id, datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC))
    for _ in range(20):
        scheduler = JobScheduler(store, grace=GRACE, poll_seconds=0.01)
        scheduler.start()
        time.sleep(0.03)  # several mirrors, one likely running when stop() comes
        stopper = threading.Thread(target=scheduler.stop)
        stopper.start()
        stopper.join(timeout=20)
        assert not stopper.is_alive(), "stop() hung"


def test_a_job_stored_under_the_old_module_path_still_runs(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker upgraded past the move to sending/ finds rows naming capitolmail.schedule."""
    job_id = _queue(store)
    at = (datetime.now(UTC) + timedelta(seconds=1.5)).replace(microsecond=0)
    store.schedule_job(job_id, at, datetime.now(UTC))
    # The row as a worker of the earlier layout wrote it: same id, same time, old path.
    old = Job(
        BackgroundScheduler(timezone=UTC),
        id=f"capitolmail-job-{job_id}",
        func="capitolmail.schedule:start_scheduled_job",
        trigger=DateTrigger(run_date=at, timezone=UTC),
        executor="default",
        args=[job_id],
        kwargs={},
        name=f"start job {job_id}",
        misfire_grace_time=int(GRACE.total_seconds()),
        coalesce=True,
        max_instances=1,
        next_run_time=at,
    )
    SQLAlchemyJobStore(engine=store.engine).add_job(old)
    assert _stored_funcs(store) == ["capitolmail.schedule:start_scheduled_job"]

    caplog.set_level(logging.ERROR, logger="apscheduler")
    with JobScheduler(store, grace=GRACE, poll_seconds=0.2) as scheduler:
        _until(lambda: store.get_job(job_id).state == JobState.SENDING)
        assert scheduler.started == [job_id]

    # Unrestorable, APScheduler would log it, drop the row, and the mirror would
    # write a new one: the job would start, yet the old rows would be lost.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")] == []
    assert store.get_job(job_id).started_at >= at  # type: ignore[operator]


def _stored_funcs(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        states = conn.execute(select(apscheduler_jobs.c.job_state)).scalars().all()
    return [pickle.loads(state)["func"] for state in states]
