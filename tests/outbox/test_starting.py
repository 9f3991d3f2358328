"""Starting scheduled jobs, the grace period, and send windows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capitolmail.errors import CapitolmailError
from capitolmail.outbox import JobState, Outcome, Store

from .test_store import NOW, queue

GRACE = timedelta(hours=12)


def _claim(store: Store, at: datetime, worker: str = "w1") -> int:
    store.register_worker(worker, "host-a", 1, at)
    return len(store.claim_due(worker, 100, at))


def test_a_due_job_starts_once_and_a_later_one_waits(store: Store) -> None:
    due = queue(store, 2)
    later = queue(store, 2)
    store.schedule_job(due, NOW - timedelta(minutes=5), NOW)
    store.schedule_job(later, NOW + timedelta(hours=1), NOW)

    assert _claim(store, NOW) == 0, "a scheduled job is not claimed until it is started"
    result = store.start_due_jobs(NOW, grace=GRACE)
    assert (result.started, result.missed) == ([due], [])
    # A second worker looking at the same moment finds nothing left to start.
    again = store.start_due_jobs(NOW, grace=GRACE)
    assert (again.started, again.missed) == ([], [])

    job = store.get_job(due)
    assert (job.state, job.started_at) == (JobState.SENDING, NOW)
    assert [e.kind for e in store.list_events(due)].count("job_sending") == 1
    assert store.get_job(later).state == JobState.SCHEDULED
    assert store.scheduled_jobs() == {later: NOW + timedelta(hours=1)}
    assert _claim(store, NOW) == 2


def test_a_job_found_after_the_grace_period_is_missed_and_sends_nothing(store: Store) -> None:
    job_id = queue(store, 3)
    store.schedule_job(job_id, NOW - timedelta(hours=13), NOW - timedelta(days=1))

    result = store.start_due_jobs(NOW, grace=GRACE)

    assert (result.started, result.missed) == ([], [job_id])
    job = store.get_job(job_id)
    assert job.state == JobState.MISSED
    assert job.counts == {"queued": 3}
    assert job.last_error is not None
    assert "grace period of 12h" in job.last_error
    assert "found 13h late" in job.last_error
    assert f'"capitolmail send {job_id} --at WHEN"' in job.last_error
    assert _claim(store, NOW) == 0
    # The operator reschedules it; it starts at its new time.
    store.schedule_job(job_id, NOW + timedelta(minutes=1), NOW)
    later = NOW + timedelta(minutes=1)
    assert store.start_due_jobs(later, grace=GRACE).started == [job_id]
    assert _claim(store, later) == 3


def test_exactly_at_the_end_of_the_grace_period_still_starts(store: Store) -> None:
    job_id = queue(store, 1)
    store.schedule_job(job_id, NOW - GRACE, NOW - GRACE)
    assert store.start_due_jobs(NOW, grace=GRACE).started == [job_id]


def test_start_due_jobs_can_be_limited_to_one_job(store: Store) -> None:
    first, second = queue(store, 1), queue(store, 1)
    for job_id in (first, second):
        store.schedule_job(job_id, NOW, NOW)
    assert store.start_due_jobs(NOW, grace=GRACE, job_id=second).started == [second]
    assert store.get_job(first).state == JobState.SCHEDULED


def test_a_paused_scheduled_job_is_not_started_and_can_be_rescheduled(store: Store) -> None:
    job_id = queue(store, 2)
    store.schedule_job(job_id, NOW + timedelta(minutes=1), NOW)
    store.pause_job(job_id, "paused by an operator", NOW)
    later = NOW + timedelta(minutes=2)
    assert store.start_due_jobs(later, grace=GRACE).started == []
    assert store.scheduled_jobs() == {}

    store.schedule_job(job_id, NOW + timedelta(minutes=3), later)
    job = store.get_job(job_id)
    assert (job.state, job.scheduled_at, job.paused_reason) == (
        JobState.SCHEDULED,
        NOW + timedelta(minutes=3),
        None,
    )


def test_a_sending_job_cannot_be_rescheduled_without_a_pause(store: Store) -> None:
    job_id = queue(store, 1)
    store.schedule_job(job_id, NOW, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    with pytest.raises(CapitolmailError, match="pause"):
        store.schedule_job(job_id, NOW + timedelta(hours=1), NOW)


# Office hours in Washington across the end of daylight saving time (Sunday 1 Nov 2026):
# 09:00 EDT is 13:00 UTC on Friday, 09:00 EST is 14:00 UTC on Monday.
FRIDAY_0859_EDT = datetime(2026, 10, 30, 12, 59, tzinfo=UTC)
FRIDAY_0900_EDT = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)
FRIDAY_1700_EDT = datetime(2026, 10, 30, 21, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
MONDAY_0859_EST = datetime(2026, 11, 2, 13, 59, tzinfo=UTC)
MONDAY_0900_EST = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def test_a_send_window_holds_messages_outside_office_hours_across_a_clock_change(
    store: Store,
) -> None:
    job_id = queue(store, 10)
    store.set_job_options(job_id, window="Mon-Fri 09:00-17:00", timezone="America/New_York")
    store.schedule_job(job_id, FRIDAY_0859_EDT, FRIDAY_0859_EDT)
    store.start_due_jobs(FRIDAY_0859_EDT, grace=GRACE)
    store.register_worker("w1", "host-a", 1, FRIDAY_0859_EDT)

    def claim(at: datetime, limit: int) -> int:
        return len(store.claim_due("w1", limit, at))

    assert claim(FRIDAY_0859_EDT, 2) == 0
    assert claim(FRIDAY_0900_EDT, 2) == 2
    assert claim(FRIDAY_1700_EDT, 2) == 0
    assert claim(SATURDAY_NOON, 2) == 0
    assert claim(MONDAY_0859_EST, 2) == 0, "08:59 EST is outside, though 13:59 UTC was inside"
    assert claim(MONDAY_0900_EST, 2) == 2
    assert store.get_job(job_id).counts == {"queued": 6, "sending": 4}


def test_removing_the_window_lets_the_job_send_at_once(store: Store) -> None:
    job_id = queue(store, 2)
    store.set_job_options(job_id, window="Mon-Fri 09:00-17:00", timezone="America/New_York")
    store.schedule_job(job_id, SATURDAY_NOON, SATURDAY_NOON)
    store.start_due_jobs(SATURDAY_NOON, grace=GRACE)
    assert _claim(store, SATURDAY_NOON) == 0
    store.set_job_options(job_id, window=None, timezone=None)
    assert _claim(store, SATURDAY_NOON) == 2


def test_requeueing_a_done_job_sends_again_at_once_without_a_schedule(store: Store) -> None:
    job_id = queue(store, 1)
    store.schedule_job(job_id, NOW, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    store.register_worker("w1", "host-a", 1, NOW)
    (claimed,) = store.claim_due("w1", 10, NOW)
    store.record_outcomes(
        [Outcome(claimed.message.message_id, "failed", error="550 no such user")], NOW
    )
    assert store.finish_jobs(NOW) == [job_id]

    a_day_later = NOW + timedelta(days=1)
    assert store.requeue(job_id, ["failed"], a_day_later) == 1
    assert store.get_job(job_id).state == JobState.SENDING
    assert store.start_due_jobs(a_day_later, grace=GRACE).missed == []
    assert len(store.claim_due("w1", 10, a_day_later)) == 1
