"""`send --wait`: run a worker in this process until one job ends, then stop it.

A watcher looks at the job once a poll and stops the worker when the job is
done, cancelled, missed or paused. That stop is the job ending, not the user
interrupting, so the summary then says neither "stopped early" nor lists the
job among those the run finished: the caller reports the job itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from capitolmail.outbox import JobInfo, JobState, Store
from capitolmail.sending.options import SendSummary

# The states after which a waited-for job sends nothing more without an operator.
ENDED = (JobState.DONE, JobState.CANCELLED, JobState.MISSED, JobState.PAUSED)


def run_until_job_ends(
    store: Store,
    job_id: int,
    run: Callable[[], SendSummary],
    *,
    stop: threading.Event,
    wake: threading.Event,
    poll_seconds: float,
) -> tuple[SendSummary, JobInfo]:
    """Call `run` (a worker that runs until `stop`) and stop it once `job_id` ends.

    Returns what the run did and the job as it was left.
    """

    def watch() -> None:
        while not stop.wait(poll_seconds):
            if store.get_job(job_id).state in ENDED:
                stop.set()
                wake.set()

    watcher = threading.Thread(target=watch, name="capitolmail-wait", daemon=True)
    watcher.start()
    summary = run()
    stop.set()
    info = store.get_job(job_id)
    if info.state in ENDED:
        summary.stopped_early = False  # the watcher stopped it because the job ended
        summary.finished_jobs = [j for j in summary.finished_jobs if j != job_id]
    return summary, info
