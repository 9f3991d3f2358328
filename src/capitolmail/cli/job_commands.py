"""Commands that queue and send jobs: `queue`, `send` (and `send --wait`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from capitolmail.cli.context import JobNumber, RateType, now, pass_workspace
from capitolmail.cli.steps import report_summary
from capitolmail.cli.worker_commands import describe_job, run_worker, stopping_on_signals
from capitolmail.display import err, out, progress_bar
from capitolmail.job_view import counts_text
from capitolmail.letters.pipeline import load, queue_letter
from capitolmail.outbox import JobInfo
from capitolmail.sending.job_results import verdict_line, waited_job_problem
from capitolmail.sending.starting import request_send
from capitolmail.sending.waiting import run_until_job_ends
from capitolmail.timing.pacing import PacingChange
from capitolmail.timing.rate import Rate
from capitolmail.timing.when import describe_instant, is_ambiguous, parse_when
from capitolmail.timing.windows import SendWindow
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
    kind = load(workspace, slug)
    result = queue_letter(
        workspace, kind, dry_run=dry_run, allow_resend=allow_resend, progress_bar=progress_bar
    )
    for line in result.lines(dry_run=dry_run):
        err.print(line)
    if result.job_id is not None:
        out.print(str(result.job_id))


@click.command("send")
@click.argument("job", type=JobNumber())
@click.option(
    "--at",
    "when",
    metavar="WHEN",
    help="Start at this time: a date and time in the workspace's time zone (\"2026-12-01 "
    '09:00", "2026-12-01 9am"), ISO 8601 with an offset ("2026-12-01T09:00-05:00", '
    '"2026-12-01T14:00Z"), "today" or "tomorrow" and a time ("tomorrow 9am"), or a time '
    'alone ("09:00", its next occurrence). Anything else is refused. Default: now.',
)
@click.option("--now", "at_once", is_flag=True, help="Start at once, even if --at is past.")
@click.option("--rate", type=RateType(), help="Cap this job's pace, e.g. 120/min or 5/s.")
@click.option(
    "--window",
    metavar="SPEC",
    help='Send only inside these hours (workspace time zone), e.g. "Mon-Fri 09:00-17:00"; '
    '"always" removes a window.',
)
@click.option(
    "--wait",
    is_flag=True,
    help="Send from this process, with progress, and return when the job is finished.",
)
@pass_workspace
def send_command(
    workspace: Workspace,
    job: int,
    when: str | None,
    at_once: bool,
    rate: Rate | None,
    window: str | None,
    wait: bool,
) -> None:
    """Schedule JOB: a running `capitolmail worker` starts it at its time.

    The rate and the window are stored with the job, so every worker keeps them.
    """
    zone = ZoneInfo(workspace.settings.timezone)
    current = now()
    at = _start_time(when, at_once, zone, current)
    change = _pacing_change(rate, window, zone)
    requested = request_send(
        workspace.store, job, at=at, at_given=when is not None, change=change, now=current
    )
    info = requested.job
    if requested.pace_only:
        # Already going: only the pace or the hours change, from the next claim on.
        err.print(f"Job {job} is sending; {_pace_text(info)}.")
        return
    due = "is due now" if at <= current else f"is scheduled for {describe_instant(at, zone)}"
    err.print(
        f"Job {info.id} ({info.letter_slug}) {due}: {info.total} messages; {_pace_text(info)}."
    )
    local = at.astimezone(zone)
    # parse_when keeps a given offset; only a bare local time could mean either instant.
    if at.tzinfo is zone and is_ambiguous(local.replace(tzinfo=None), zone):
        which = "second" if local.fold else "first"
        err.print(
            f"Note: {local:%H:%M} happens twice that day in {zone.key} (clocks go back); "
            f"this is the {which}, {local:%H:%M %Z}. Give an offset to choose the other."
        )
    opens = info.pacing.next_open(at)
    if opens is not None and opens.astimezone(UTC) > at.astimezone(UTC):
        err.print(f"Its window is closed then; sending begins {describe_instant(opens, zone)}.")
    if wait:
        _send_and_wait(workspace, job)
        return
    if at <= current:
        err.print("Run `capitolmail worker` (or `capitolmail worker --once`) to send it.")
    else:
        err.print("A running `capitolmail worker` starts it then.")


def _start_time(when: str | None, at_once: bool, zone: ZoneInfo, current: datetime) -> datetime:
    if when is None:
        return current
    try:
        at = parse_when(when, zone, current)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--at") from error
    if at < current:
        if at_once:
            return current
        raise click.BadParameter(
            f"{describe_instant(at, zone)} is in the past; give a later time, "
            "or add --now to start at once",
            param_hint="--at",
        )
    return at


def _pacing_change(rate: Rate | None, spec: str | None, zone: ZoneInfo) -> PacingChange:
    """`--rate` and `--window` as a change to the job's pace ("always" clears the window)."""
    if spec is None or spec.strip().lower() == "always":
        return PacingChange(rate=rate, clear_window=spec is not None, zone=zone)
    try:
        return PacingChange(rate=rate, window=SendWindow.parse(spec), zone=zone)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--window") from error


def _pace_text(info: JobInfo) -> str:
    pacing = info.pacing
    parts = [f"at most {pacing.rate}" if pacing.rate else "no rate limit"]
    if pacing.window:
        parts.append(f"only {pacing.window} ({pacing.zone.key})")
    return ", ".join(parts)


def _send_and_wait(workspace: Workspace, job: int) -> None:
    """Run a worker in this process until JOB is finished, then say how it ended."""
    stop, wake = threading.Event(), threading.Event()
    with stopping_on_signals(stop, wake):
        summary, info = run_until_job_ends(
            workspace.store,
            job,
            lambda: run_worker(workspace, stop=stop, wake=wake, log_format="text"),
            stop=stop,
            wake=wake,
            poll_seconds=workspace.settings.worker.poll_seconds,
        )
    report_summary(summary, describe=describe_job(workspace.store))
    problem = waited_job_problem(info)
    if problem is None:
        err.print(f"Job {job} is {info.state}: {counts_text(info.counts)}.")
        return
    err.print(f"Job {job}: {counts_text(info.counts)}.")
    err.print(verdict_line([problem]))
    click.get_current_context().exit(1)
