"""How a job ended, in a phrase, and whether a run left something an operator must see.

A job stays `done` once nothing is left to send (design.md fixes the job states),
but `done` alone hid 88 failed letters out of 168 behind "done 100%" and exit
code 0. So a finished job says what did not go out next to its state ("done: 88
failed", "done: 3 unknown"), and `send --wait` and `worker --once` exit 1 with a
one-line reason when a message failed or became unknown, or a job paused or was
missed; suppressed and cancelled messages are decisions, not failures.

`worker --once` judges only what changed during its run (a job it finished, paused
or sent for), so a cron job is not flagged forever for yesterday's failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from capitolmail.outbox import JobInfo, JobState, MessageState

# Messages that did not go out, or may not have, without anyone deciding so.
PROBLEM_STATES = (MessageState.FAILED, MessageState.UNKNOWN)
_FINISHED = (JobState.DONE, JobState.CANCELLED)
# Jobs that stopped before the end and wait for an operator.
_STOPPED = (JobState.PAUSED, JobState.MISSED)


def problem_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """{"failed": 88, "unknown": 3}, without the states that have none."""
    return {state.value: counts[state] for state in PROBLEM_STATES if counts.get(state)}


def _problems_text(problems: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in problems.items())


def job_summary(job: JobInfo) -> str:
    """The state as `status` shows it: "done", "done: 88 failed, 3 unknown", "sending"."""
    problems = problem_counts(job.counts)
    if job.state in _FINISHED and problems:
        return f"{job.state}: {_problems_text(problems)}"
    return str(job.state)


def waited_job_problem(job: JobInfo) -> str | None:
    """Why `send --wait` must exit 1 for `job`, or None when every message went out."""
    problems = problem_counts(job.counts)
    if job.state in _FINISHED and not problems:
        return None
    reason = job.paused_reason or (job.last_error if job.state == JobState.MISSED else None)
    text = f"job {job.id} {job_summary(job)}"
    if reason and job.state in _STOPPED:
        text += f" ({reason})"
    elif job.state not in _FINISHED:
        text += ", not finished" + (f": {_problems_text(problems)}" if problems else "")
    return text


def run_problems(before: Mapping[int, JobInfo], after: Iterable[JobInfo]) -> list[str]:
    """What a `worker --once` run left wrong, one phrase per job; empty when nothing.

    `before` and `after` are the jobs as the run found and left them.
    """
    found = []
    for job in after:
        old = before.get(job.id)
        if old is not None and (old.state, old.counts) == (job.state, job.counts):
            continue  # the run did nothing to this job
        problems = problem_counts(job.counts)
        earlier = problem_counts(old.counts) if old is not None else {}
        new = {s: n - earlier.get(s, 0) for s, n in problems.items() if n > earlier.get(s, 0)}
        if job.state in _STOPPED and (old is None or old.state != job.state):
            reason = job.paused_reason or job.last_error
            found.append(f"job {job.id} {job.state}" + (f" ({reason})" if reason else ""))
        elif job.state in _FINISHED and problems and (old is None or old.state != job.state):
            found.append(f"job {job.id} {job_summary(job)}")
        elif new:
            found.append(f"job {job.id}: {_problems_text(new)} in this run")
    return found


def verdict_line(problems: list[str]) -> str:
    """The one line `worker --once` and `send --wait` end with when they exit 1."""
    return f'Not everything was sent: {"; ".join(problems)}. "capitolmail status JOB" shows why.'
