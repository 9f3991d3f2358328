"""Commands that queue, send and watch jobs."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from capitolmail.cli.context import JobNumber, RateType, Seconds, now, pass_workspace
from capitolmail.cli.steps import (
    drain,
    prepare,
    prepare_alert_letter,
    queue_alert_letter,
    queue_prepared,
    report_alert,
    report_prepared,
    report_summary,
)
from capitolmail.display import (
    counts_text,
    err,
    job_json,
    jobs_table,
    messages_table,
    out,
    print_json,
)
from capitolmail.letters.definition import load_letter
from capitolmail.logs import LogFormat, configure_logging
from capitolmail.outbox import JobInfo, JobState, MessageState, Store
from capitolmail.sending.job_results import (
    job_summary,
    run_problems,
    verdict_line,
    waited_job_problem,
)
from capitolmail.sending.schedule import JobScheduler
from capitolmail.sending.sender import SendSummary
from capitolmail.sending.starting import request_send
from capitolmail.timing.pacing import PacingChange
from capitolmail.timing.rate import Rate
from capitolmail.timing.when import describe_instant, is_ambiguous, parse_when
from capitolmail.timing.windows import SendWindow
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.worker")


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
    if load_letter(workspace.root, slug).definition.is_alert:
        alert = prepare_alert_letter(workspace, slug)
        outcome = queue_alert_letter(workspace, alert, dry_run=dry_run, allow_resend=allow_resend)
        report_alert(outcome, dry_run=dry_run)
        if outcome.job_id is not None:
            out.print(str(outcome.job_id))
        return
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
    skipped = f"; {result.suppressed} suppressed, not to be sent" if result.suppressed else ""
    err.print(
        f"Queued job {result.job_id}: {result.messages} messages to {result.offices} offices "
        f"({chambers}{skipped}). Send it with: capitolmail send {result.job_id}"
    )
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
    finished = (JobState.DONE, JobState.CANCELLED, JobState.MISSED, JobState.PAUSED)

    def watch() -> None:
        while not stop.wait(workspace.settings.worker.poll_seconds):
            if workspace.store.get_job(job).state in finished:
                stop.set()
                wake.set()

    watcher = threading.Thread(target=watch, name="capitolmail-wait", daemon=True)
    with _stopping_on_signals(stop, wake):
        watcher.start()
        summary = _run_worker(workspace, stop=stop, wake=wake, log_format="text")
    stop.set()
    info = workspace.store.get_job(job)
    if info.state in finished:
        summary.stopped_early = False  # the watcher stopped it because the job ended
        summary.finished_jobs = [j for j in summary.finished_jobs if j != job]
    report_summary(summary, describe=_describe(workspace.store))
    problem = waited_job_problem(info)
    if problem is None:
        err.print(f"Job {job} is {info.state}: {counts_text(info.counts)}.")
        return
    err.print(f"Job {job}: {counts_text(info.counts)}.")
    err.print(verdict_line([problem]))
    click.get_current_context().exit(1)


def _describe(store: Store) -> Callable[[int], str]:
    """How report_summary names a finished job: "done", or "done: 88 failed"."""
    return lambda job_id: job_summary(store.get_job(job_id))


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
    with _stopping_on_signals(stop, wake, notice):
        if once:
            before = {job.id: job for job in store.list_jobs()}
            summary = drain(workspace, once=True, stop=stop, poll=poll, log_format=log_format)
        else:
            log.info("worker started on %s", store.url_for_display)
            summary = _run_worker(workspace, stop=stop, wake=wake, poll=poll, log_format=log_format)
    report_summary(summary, notice, describe=_describe(store))
    if once and (problems := run_problems(before, store.list_jobs())):
        # Cron and CI read the exit code: a run that left letters unsent must not say 0.
        notice(verdict_line(problems))
        click.get_current_context().exit(1)


def _run_worker(
    workspace: Workspace,
    *,
    stop: threading.Event,
    wake: threading.Event,
    log_format: LogFormat,
    poll: float | None = None,
) -> SendSummary:
    """The long-running worker: the scheduler starts jobs, the sender sends them."""
    settings = workspace.settings.worker
    with JobScheduler(
        workspace.store,
        grace=settings.grace_period,
        poll_seconds=poll or settings.poll_seconds,
        on_start=lambda _jobs: wake.set(),
    ):
        return drain(workspace, once=False, stop=stop, wake=wake, poll=poll, log_format=log_format)


@contextmanager
def _stopping_on_signals(
    stop: threading.Event, wake: threading.Event, notice: Callable[[str], object] = err.print
) -> Iterator[None]:
    def request_stop(signum: int, _frame: object) -> None:
        if not stop.is_set():
            notice(f"{signal.Signals(signum).name}: finishing messages in flight, then stopping.")
        stop.set()
        wake.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _debug() -> bool:
    return bool(click.get_current_context().find_root().params.get("debug"))


@click.command("status")
@click.argument("job", type=JobNumber(), required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--messages", is_flag=True, help="List every message with its state.")
@pass_workspace
def status_command(workspace: Workspace, job: int | None, as_json: bool, messages: bool) -> None:
    """Show jobs: state, progress, counts by state, schedule, pace and time left."""
    store = workspace.store
    current = now()
    jobs = [store.get_job(job)] if job is not None else store.list_jobs()
    if as_json:
        paces = store.current_paces(j.id for j in jobs if j.state == JobState.SENDING)
        print_json(
            {
                "jobs": [
                    job_json(
                        j,
                        store.list_messages(j.id) if messages else None,
                        now=current,
                        failures=store.failure_summary(j.id),
                        pace=paces.get(j.id),
                    )
                    for j in jobs
                ]
            }
        )
        return
    if not jobs:
        err.print("No jobs yet: `capitolmail queue SLUG` creates one.")
        return
    paces = store.current_paces(j.id for j in jobs if j.state == JobState.SENDING)
    out.print(jobs_table(jobs, current, ZoneInfo(workspace.settings.timezone), paces))
    for j in jobs:
        failures = store.failure_summary(j.id)
        if failures and (job is not None or messages):
            out.print()
            out.print(f"Job {j.id}: problems by reason")
            for reason, count in failures:
                out.print(f"  {count:>6}  {reason}")
        if messages:
            out.print()
            out.print(f"Job {j.id} ({j.letter_slug}): {counts_text(j.counts)}")
            out.print(messages_table(store.list_messages(j.id)))


@click.command("pause")
@click.argument("job", type=JobNumber())
@pass_workspace
def pause_command(workspace: Workspace, job: int) -> None:
    """Stop sending JOB; what is not yet sent stays queued."""
    info = workspace.store.pause_job(job, reason="paused by an operator", now=now())
    if info.state == JobState.PAUSED:
        err.print(f"Job {job} paused.")
    else:
        err.print(f"Job {job} is {info.state}; it sends nothing more, so it was left as it is.")


@click.command("resume")
@click.argument("job", type=JobNumber())
@pass_workspace
def resume_command(workspace: Workspace, job: int) -> None:
    """Continue sending a paused JOB."""
    current = now()
    was = workspace.store.get_job(job).state
    info = workspace.store.resume_job(job, now=current)
    if was == JobState.PAUSED:
        err.print(f"Job {job} resumed: {info.state}.")
    else:
        err.print(f"Job {job} was not paused; it is {info.state}.")
    grace = workspace.settings.worker.grace_period
    if info.state == JobState.SCHEDULED and info.scheduled_at is not None:
        if info.scheduled_at + grace < current:
            err.print(
                f"Its time passed more than the grace period ago, so the worker will mark it "
                f'missed; give it a new time with "capitolmail send {job} --at WHEN".'
            )
        elif info.scheduled_at <= current:
            err.print("Its time has passed; a running worker starts it at once.")


@click.command("cancel")
@click.argument("job", type=JobNumber())
@pass_workspace
def cancel_command(workspace: Workspace, job: int) -> None:
    """Cancel JOB: unsent messages become cancelled and are never sent."""
    workspace.store.cancel_job(job, now=now())
    info = workspace.store.get_job(job)
    err.print(f"Job {job} cancelled: {counts_text(info.counts)}.")


@click.command("requeue")
@click.argument("job", type=JobNumber())
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
    sending = workspace.store.get_job(job).counts.get(MessageState.SENDING, 0)
    if sending:
        # A worker may yet record them as unknown or failed; requeued now, a live
        # worker's message would go twice, so they are left for the next round.
        err.print(
            f"{sending} message{'s are' if sending != 1 else ' is'} still `sending`: a worker "
            f"may be sending {'them' if sending != 1 else 'it'}, or died; start a worker (it "
            "recovers them: unknown if handed over, else queued) or wait, then requeue again."
        )
        if count == 0:
            click.get_current_context().exit(1)
