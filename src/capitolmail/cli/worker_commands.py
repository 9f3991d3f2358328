"""`worker`: start scheduled jobs on time and send due messages until stopped.

Also the pieces `send --wait` shares with it: running a worker in this process,
and stopping it gracefully on SIGINT or SIGTERM.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import click

from capitolmail.cli.context import Seconds, pass_workspace
from capitolmail.cli.inbox_commands import run_inbox_sync
from capitolmail.cli.steps import drain, report_summary
from capitolmail.display import err
from capitolmail.logs import LogFormat, configure_logging
from capitolmail.outbox import Store
from capitolmail.sending.job_notices import listening_for_jobs
from capitolmail.sending.job_results import job_summary, run_problems, verdict_line
from capitolmail.sending.schedule import JobScheduler
from capitolmail.sending.sender import SendSummary
from capitolmail.tracking.inbox.timer import InboxTimer
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.worker")


@click.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@click.option(
    "--poll",
    type=Seconds(0.1, 60),
    default=None,
    help="Seconds between looks for new or changed jobs (default: worker.poll_seconds, 1).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line on stderr, for log collectors.",
)
@pass_workspace
def worker_command(
    workspace: Workspace, once: bool, poll: float | None, log_format: LogFormat
) -> None:
    """Start scheduled jobs on time and send due messages until stopped.

    SIGINT or SIGTERM stops it gracefully: messages in flight finish and are
    recorded, the rest stay queued for the next worker.
    """
    configure_logging(log_format, debug=_debug())
    # In JSON mode every line on stderr is a log record, the notices included.
    notice = log.info if log_format == "json" else err.print
    stop, wake = threading.Event(), threading.Event()
    store = workspace.store
    with stopping_on_signals(stop, wake, notice):
        if once:
            before = {job.id: job for job in store.list_jobs()}
            summary = drain(workspace, once=True, stop=stop, poll=poll, log_format=log_format)
        else:
            log.info("worker started on %s", store.url_for_display)
            summary = run_worker(workspace, stop=stop, wake=wake, poll=poll, log_format=log_format)
    report_summary(summary, notice, describe=describe_job(store))
    if once and (problems := run_problems(before, store.list_jobs())):
        # Cron and CI read the exit code: a run that left letters unsent must not say 0.
        notice(verdict_line(problems))
        click.get_current_context().exit(1)


def _stacks_on_sigusr1() -> bool:
    """`kill -USR1 PID` writes every thread's stack to stderr: what a worker that will
    not stop is doing, without stopping it (README, troubleshooting). Only where
    stderr is a file descriptor (not under a test runner's captured stream); False
    where it is not."""
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr.fileno(), all_threads=True)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    return True


def run_worker(
    workspace: Workspace,
    *,
    stop: threading.Event,
    wake: threading.Event,
    log_format: LogFormat,
    poll: float | None = None,
) -> SendSummary:
    """The long-running worker: the scheduler starts jobs, the sender sends them."""
    settings = workspace.settings.worker
    with (
        JobScheduler(
            workspace.store,
            grace=settings.grace_period,
            poll_seconds=poll or settings.poll_seconds,
            on_start=lambda _jobs: wake.set(),
        ) as scheduler,
        _inbox_timer(workspace),
    ):

        def heard(_job_id: int | None, _change: str) -> None:
            # A job was scheduled, paused, cancelled, started, resumed or requeued
            # somewhere: refresh this worker's schedule now (a job due now starts, and
            # wakes the sender), and wake the sender for a job another worker started.
            scheduler.sync()
            wake.set()

        with listening_for_jobs(workspace.store.engine, heard):
            return drain(
                workspace, once=False, stop=stop, wake=wake, poll=poll, log_format=log_format
            )


def _inbox_timer(workspace: Workspace) -> AbstractContextManager[object]:
    """Sync the inbound mailbox every [inbox] sync_minutes while the worker runs, when
    a mailbox is configured; nothing otherwise."""
    inbox = workspace.settings.inbox
    if not inbox.source or not inbox.sync_minutes:
        return nullcontext()
    return InboxTimer(lambda: run_inbox_sync(workspace).summary(), inbox.sync_minutes)


@contextmanager
def stopping_on_signals(
    stop: threading.Event, wake: threading.Event, notice: Callable[[str], object] = err.print
) -> Iterator[None]:
    """On SIGINT or SIGTERM, say so once, then set `stop` and `wake`; on SIGUSR1, write
    every thread's stack. For `worker` and `send --wait`, which both run a worker.

    Not from the signal handler: Python runs it in the main thread between two
    bytecodes, maybe while that thread holds `stop`'s or `wake`'s own lock (inside
    `Event.wait`), and setting either there would wait on that lock for ever: a
    worker that never stops. The handler does nothing; the interpreter writes the
    signal's number to a pipe (`signal.set_wakeup_fd`), and a thread reading the
    pipe does the rest, taking locks like any other thread.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def watch() -> None:
        while data := os.read(read_end, 64):
            for signum in data:
                if signum not in _STOP_SIGNALS:
                    continue
                if not stop.is_set():
                    name = signal.Signals(signum).name
                    notice(f"{name}: finishing messages in flight, then stopping.")
                stop.set()
                wake.set()

    try:
        # Both raise ValueError outside the main thread, as signal.signal always did.
        previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:
        os.close(read_end)
        os.close(write_end)
        raise
    previous = {sig: signal.signal(sig, _noted_by_the_pipe) for sig in _STOP_SIGNALS}
    stacks = _stacks_on_sigusr1()
    watcher = threading.Thread(target=watch, name="capitolmail-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        if stacks:
            faulthandler.unregister(signal.SIGUSR1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_end)  # the watcher reads the end of the pipe and returns
        watcher.join(timeout=5)
        if not watcher.is_alive():  # still printing a notice: leave it its pipe
            os.close(read_end)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _noted_by_the_pipe(_signum: int, _frame: object) -> None:
    """A handler must be set for the interpreter to write the number to the wakeup pipe."""


def _debug() -> bool:
    return bool(click.get_current_context().find_root().params.get("debug"))


def describe_job(store: Store) -> Callable[[int], str]:
    """How report_summary names a finished job: "done", or "done: 88 failed"."""
    return lambda job_id: job_summary(store.get_job(job_id))
