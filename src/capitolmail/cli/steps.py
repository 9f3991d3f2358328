"""Steps several commands share: run the sender with its progress display, report it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from capitolmail.cli.context import now
from capitolmail.display import err
from capitolmail.logs import LogFormat
from capitolmail.outbox import StartedJobs
from capitolmail.progress import SendProgress
from capitolmail.providers import create_provider
from capitolmail.sending.sender import RetryPolicy, SendOptions, SendSummary, send_due
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.worker")


def drain(
    workspace: Workspace,
    *,
    once: bool = True,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
    poll: float | None = None,
    log_format: LogFormat = "text",
) -> SendSummary:
    """Run the sender with the workspace's settings, showing progress as it goes.

    With `once`, scheduled jobs whose time has come are started first (the
    long-running worker leaves that to its scheduler).
    """
    settings = workspace.settings
    if once:
        start_due(workspace)
    worker = settings.worker
    provider = create_provider(settings, outbox_dir=workspace.outbox_dir)
    options = SendOptions(
        policy=RetryPolicy(
            max_attempts=worker.max_attempts,
            base_seconds=worker.retry_base_seconds,
            cap_seconds=worker.retry_cap_seconds,
        ),
        concurrency=worker.concurrency,
        overall_rate=worker.overall_rate,
        heartbeat_seconds=worker.heartbeat_seconds,
        poll_seconds=poll or worker.poll_seconds,
        stale_after=worker.stale_after,
        database_outage_seconds=worker.database_outage_seconds,
    )
    live = err.is_terminal and log_format == "text"
    with SendProgress(workspace.store, err, live=live) as progress:
        return send_due(
            workspace.store,
            provider,
            options=options,
            stop=stop,
            wake=wake,
            once=once,
            on_outcome=progress,
        )


def start_due(workspace: Workspace) -> StartedJobs:
    """Start the jobs due now; say which ones missed their time and why."""
    grace = workspace.settings.worker.grace_period
    result = workspace.store.start_due_jobs(now(), grace=grace)
    for job_id in result.missed:
        reason = workspace.store.get_job(job_id).last_error
        log.warning(
            "job %s missed its scheduled time: %s", job_id, reason, extra={"job_id": job_id}
        )
    return result


def report_summary(
    summary: SendSummary,
    notice: Callable[[str], object] = err.print,
    *,
    describe: Callable[[int], str] | None = None,
) -> None:
    """The run's counts, then each job it paused or finished (`describe`: "done: 3 failed")."""
    parts = [f"sent {summary.sent}", f"failed {summary.failed}", f"retrying {summary.retried}"]
    if summary.unknown:
        parts.append(f"{summary.unknown} unknown (no reply came after sending; see status)")
    if summary.stopped_early:
        parts.append("stopped on request")
    if summary.recovered:
        parts.append(f"{summary.recovered} marked unknown after a worker died")
    if summary.requeued:
        parts.append(f"{summary.requeued} queued again after a worker died before sending them")
    notice("Worker: " + ", ".join(parts) + ".")
    for job in summary.paused_jobs:
        # Not only a refused login: an untrusted certificate or a wrong base_url pause too.
        notice(
            f"Job {job} paused: the provider cannot be used as configured (the reason is"
            f' logged above and shown by "capitolmail status {job}"); fix the setting, then'
            f' run "capitolmail resume {job}".'
        )
    for job in summary.finished_jobs:
        notice(f"Job {job} {describe(job) if describe else 'done'}.")
