"""How a finished job reads in status, and which runs exit 1: decided from counts alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from capitolmail.outbox import JobInfo, JobState
from capitolmail.sending.job_results import job_summary, run_problems, waited_job_problem

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
JOB = JobInfo(
    id=1,
    letter_slug="block-arms-sale",
    kind="joint",
    state=JobState.SENDING,
    created_at=T0,
    scheduled_at=T0,
    started_at=T0,
    finished_at=None,
    total=168,
    last_error=None,
    paused_reason=None,
    counts={"queued": 168},
)


def _job(state: JobState, **counts: int) -> JobInfo:
    return replace(JOB, state=state, counts=counts)


def test_a_done_job_names_what_did_not_go_out() -> None:
    assert job_summary(_job(JobState.DONE, sent=80, failed=88)) == "done: 88 failed"
    assert job_summary(_job(JobState.DONE, sent=165, unknown=3)) == "done: 3 unknown"
    assert job_summary(_job(JobState.DONE, sent=77, failed=88, unknown=3)) == (
        "done: 88 failed, 3 unknown"
    )
    # Suppressed and cancelled are decisions, not failures.
    assert job_summary(_job(JobState.DONE, sent=160, suppressed=8)) == "done"
    assert job_summary(_job(JobState.SENDING, sent=10, failed=2, queued=156)) == "sending"


def test_send_wait_exits_0_only_when_everything_went_out() -> None:
    assert waited_job_problem(_job(JobState.DONE, sent=160, suppressed=8)) is None
    assert waited_job_problem(_job(JobState.CANCELLED, sent=10, cancelled=158)) is None
    assert waited_job_problem(_job(JobState.DONE, sent=80, failed=88)) == "job 1 done: 88 failed"
    paused = replace(_job(JobState.PAUSED, queued=168), paused_reason="login refused")
    assert waited_job_problem(paused) == "job 1 paused (login refused)"
    interrupted = _job(JobState.SENDING, sent=10, unknown=1, queued=157)
    assert waited_job_problem(interrupted) == "job 1 sending, not finished: 1 unknown"


def test_worker_once_judges_only_what_changed_in_its_run() -> None:
    done_badly = _job(JobState.DONE, sent=80, failed=88)
    # Finished in this run, with failures: say so.
    last_retries = _job(JobState.SENDING, sent=80, failed=80, retry_wait=8)
    assert run_problems({1: last_retries}, [done_badly]) == ["job 1 done: 88 failed"]
    # Nothing changed: yesterday's failures do not fail today's run.
    assert run_problems({1: done_badly}, [done_badly]) == []
    # Still sending, with new failures or unknowns in this run.
    before = _job(JobState.SENDING, sent=10, failed=1, queued=157)
    after = _job(JobState.SENDING, sent=20, failed=3, unknown=2, queued=143)
    assert run_problems({1: before}, [after]) == ["job 1: 2 failed, 2 unknown in this run"]
    # Sent more and nothing new went wrong.
    better = _job(JobState.SENDING, sent=30, failed=1, queued=137)
    assert run_problems({1: before}, [better]) == []
    # Paused or missed in this run.
    paused = replace(_job(JobState.PAUSED, queued=168), paused_reason="login refused")
    assert run_problems({1: JOB}, [paused]) == ["job 1 paused (login refused)"]
    missed = replace(JOB, state=JobState.MISSED, last_error="no worker was running")
    assert run_problems({1: replace(JOB, state=JobState.SCHEDULED)}, [missed]) == [
        "job 1 missed (no worker was running)"
    ]
