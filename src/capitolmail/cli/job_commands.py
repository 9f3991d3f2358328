"""Commands that queue, send and watch jobs."""

from __future__ import annotations

import signal
import threading

import click

from capitolmail.cli.context import RateType, now, pass_workspace
from capitolmail.cli.steps import drain, prepare, queue_prepared, report_prepared, report_summary
from capitolmail.display import (
    counts_text,
    err,
    job_json,
    jobs_table,
    messages_table,
    out,
    print_json,
)
from capitolmail.rate import Rate
from capitolmail.workspace import Workspace


@click.command("queue")
@click.argument("slug")
@click.option("--dry-run", is_flag=True, help="Render and validate everything; store nothing.")
@click.option(
    "--allow-resend",
    is_flag=True,
    help="Queue even for recipients who already have this letter.",
)
@pass_workspace
def queue_command(workspace: Workspace, slug: str, dry_run: bool, allow_resend: bool) -> None:
    """Render every message of SLUG now and store it; prints the job id."""
    prepared = prepare(workspace, slug)
    result = queue_prepared(workspace, prepared, dry_run=dry_run, allow_resend=allow_resend)
    chambers = ", ".join(f"{n} {c}" for c, n in result.offices_by_chamber.items())
    report_prepared(prepared)
    if dry_run:
        err.print(
            f"Dry run: {result.messages} messages to {result.offices} offices ({chambers}); "
            "nothing stored."
        )
        return
    err.print(
        f"Queued job {result.job_id}: {result.messages} messages to {result.offices} offices "
        f"({chambers}). Send it with: capitolmail send {result.job_id}"
    )
    out.print(str(result.job_id))


@click.command("send")
@click.argument("job", type=int)
@click.option("--rate", type=RateType(), help="Cap this job's pace, e.g. 120/min or 5/s.")
@pass_workspace
def send_command(workspace: Workspace, job: int, rate: Rate | None) -> None:
    """Mark JOB due now; a running `capitolmail worker` (or `worker --once`) sends it."""
    if rate is not None:
        workspace.store.set_job_options(job, rate=str(rate))
    info = workspace.store.schedule_job(job, at=now(), now=now())
    pace = f" at most {rate}" if rate else ""
    err.print(
        f"Job {info.id} ({info.letter_slug}) is due now: {info.total} messages{pace}. "
        "Run `capitolmail worker --once` to send them."
    )


@click.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between looks for due messages when idle.",
)
@pass_workspace
def worker_command(workspace: Workspace, once: bool, poll: float) -> None:
    """Send due messages through the configured provider until stopped.

    SIGINT or SIGTERM stops it gracefully: messages in flight finish and are
    recorded, the rest stay queued for the next worker.
    """
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if not stop.is_set():
            err.print(
                f"{signal.Signals(signum).name}: finishing messages in flight, then stopping."
            )
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = drain(workspace, once=once, stop=stop, poll=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    report_summary(summary)


@click.command("status")
@click.argument("job", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--messages", is_flag=True, help="List every message with its state.")
@pass_workspace
def status_command(workspace: Workspace, job: int | None, as_json: bool, messages: bool) -> None:
    """Show jobs and their message counts by state."""
    store = workspace.store
    jobs = [store.get_job(job)] if job is not None else store.list_jobs()
    if as_json:
        print_json(
            {
                "jobs": [
                    job_json(
                        j,
                        store.list_messages(j.id) if messages else None,
                        failures=store.failure_summary(j.id),
                    )
                    for j in jobs
                ]
            }
        )
        return
    if not jobs:
        err.print("No jobs yet: `capitolmail queue SLUG` creates one.")
        return
    out.print(jobs_table(jobs))
    for j in jobs:
        failures = store.failure_summary(j.id)
        if failures and (job is not None or messages):
            out.print(f"\nJob {j.id}: problems by reason")
            for reason, count in failures:
                out.print(f"  {count:>6}  {reason}")
        if messages:
            out.print(f"\nJob {j.id} ({j.letter_slug}): {counts_text(j.counts)}")
            out.print(messages_table(store.list_messages(j.id)))


@click.command("pause")
@click.argument("job", type=int)
@pass_workspace
def pause_command(workspace: Workspace, job: int) -> None:
    """Stop sending JOB; what is not yet sent stays queued."""
    workspace.store.pause_job(job, reason="paused by an operator", now=now())
    err.print(f"Job {job} paused.")


@click.command("resume")
@click.argument("job", type=int)
@pass_workspace
def resume_command(workspace: Workspace, job: int) -> None:
    """Continue sending a paused JOB."""
    workspace.store.resume_job(job, now=now())
    err.print(f"Job {job} resumed.")


@click.command("cancel")
@click.argument("job", type=int)
@pass_workspace
def cancel_command(workspace: Workspace, job: int) -> None:
    """Cancel JOB: unsent messages become cancelled and are never sent."""
    workspace.store.cancel_job(job, now=now())
    info = workspace.store.get_job(job)
    err.print(f"Job {job} cancelled: {counts_text(info.counts)}.")


@click.command("requeue")
@click.argument("job", type=int)
@click.option("--unknown", is_flag=True, help="Requeue messages whose outcome is unknown.")
@click.option("--failed", is_flag=True, help="Requeue messages that failed.")
@pass_workspace
def requeue_command(workspace: Workspace, job: int, unknown: bool, failed: bool) -> None:
    """Send JOB's unknown or failed messages again: an operator's decision."""
    states = [s for s, chosen in (("unknown", unknown), ("failed", failed)) if chosen]
    if not states:
        raise click.UsageError("say which messages to requeue: --unknown and/or --failed")
    count = workspace.store.requeue(job, states, now=now())
    err.print(f"Requeued {count} messages of job {job}.")
