"""Steps several commands share: run the sender with its progress display, report it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from capitolmail.cli.context import now
from capitolmail.display import err
from capitolmail.logs import LogFormat
from capitolmail.progress import SendProgress
from capitolmail.providers import create_provider
from capitolmail.sending.options import send_options
from capitolmail.sending.sender import SendSummary, send_due
from capitolmail.sending.starting import start_due
from capitolmail.workspace import Workspace


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
        start_due(workspace.store, now=now(), grace=settings.worker.grace_period)
    provider = create_provider(settings, outbox_dir=workspace.outbox_dir)
    options = send_options(settings.worker, poll=poll)
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
