"""Steps several commands share: prepare and queue a letter, run the sender, report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from capitolmail.alerts import AlertQueueResult, PreparedAlert, prepare_alert, queue_alert
from capitolmail.cli.context import now
from capitolmail.display import err, progress_bar
from capitolmail.letters.example_values import refuse_in_alert, refuse_in_letter, screen_alert
from capitolmail.logs import LogFormat
from capitolmail.outbox import StartedJobs
from capitolmail.progress import SendProgress
from capitolmail.providers import create_provider
from capitolmail.queueing import PreparedLetter, QueueResult, prepare_letter, queue_letter
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.sending.sender import RetryPolicy, SendOptions, SendSummary, send_due
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.worker")


def prepare(workspace: Workspace, slug: str) -> PreparedLetter:
    settings = workspace.settings
    return prepare_letter(
        workspace.root,
        slug,
        roster=workspace_roster(workspace.root),
        contacts_path=workspace.contacts_path,
        organisation=settings.organisation,
        sender=settings.sender,
    )


def prepare_alert_letter(workspace: Workspace, slug: str) -> PreparedAlert:
    settings = workspace.settings
    secret = settings.unsubscribe_secret
    return prepare_alert(
        workspace.root,
        slug,
        roster=workspace_roster(workspace.root),
        organisation=settings.organisation,
        sender=settings.sender,
        web=settings.web,
        unsubscribe_secret=secret.get_secret_value() if secret else None,
    )


def queue_alert_letter(
    workspace: Workspace, prepared: PreparedAlert, *, dry_run: bool, allow_resend: bool
) -> AlertQueueResult:
    refuse_in_alert(workspace.settings, prepared.letter)
    total = workspace.store.count_supporters()
    with progress_bar("Rendering alerts", total) as advance:
        return queue_alert(
            workspace.store,
            prepared,
            roster=workspace_roster(workspace.root),
            now=now(),
            dry_run=dry_run,
            allow_resend=allow_resend,
            resend_period=workspace.settings.resend_period,
            progress=advance,
            screen=screen_alert(workspace.settings),
        )


def report_alert(result: AlertQueueResult, *, dry_run: bool) -> None:
    states = len([state for state in result.by_state if state != "unknown"])
    sendable = result.messages - result.suppressed
    lead = "Dry run" if dry_run else f"Queued job {result.job_id}"
    err.print(
        f"{lead}: {result.messages} alerts to supporters in {states} states and territories "
        f"({sendable} to send, {result.suppressed} suppressed)"
        + ("; nothing stored." if dry_run else ".")
    )
    for note in alert_notes(result):
        err.print(note)
    if not dry_run:
        err.print(f"Send it with: capitolmail send {result.job_id}")


def alert_notes(result: AlertQueueResult) -> list[str]:
    """What `check` and `queue` say about alerts that cannot name every member."""

    def people(count: int) -> str:
        return f"{count} supporter{'s' * (count != 1)}"

    notes = []
    if result.senators_unknown:
        notes.append(
            f"Note: {people(result.senators_unknown)} without a known state (a ZIP not in the "
            "crosswalk, or one across a state line): their senators and representative are "
            "unknown, so their alert names nobody and points to senate.gov and house.gov; add "
            "their state (and district) to the supporters file and import it again."
        )
    if result.representative_unknown:
        notes.append(
            f"Note: {people(result.representative_unknown)} without a known representative (a "
            "ZIP split between districts, or no ZIP): their alert names the senators and asks "
            "them to look the representative up."
        )
    if result.vacant_seats:
        notes.append(
            f"Note: {people(result.vacant_seats)} in vacant seats (a Senate or House seat with "
            "nobody in the legislators data): their alert says the seat is vacant."
        )
    return notes


def queue_prepared(
    workspace: Workspace, prepared: PreparedLetter, *, dry_run: bool, allow_resend: bool
) -> QueueResult:
    refuse_example_values(workspace, prepared)
    with progress_bar("Rendering", len(prepared.recipients)) as advance:
        return queue_letter(
            workspace.store,
            prepared,
            organisation=workspace.settings.organisation,
            now=now(),
            dry_run=dry_run,
            allow_resend=allow_resend,
            resend_period=workspace.settings.resend_period,
            progress=advance,
        )


def refuse_example_values(workspace: Workspace, prepared: PreparedLetter) -> None:
    """`letters check` and `queue` refuse the worked example's values on a real provider."""
    refuse_in_letter(
        workspace.settings, prepared, contacts_path=workspace.display(workspace.contacts_path)
    )


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


def report_prepared(prepared: PreparedLetter) -> None:
    for duplicate in prepared.signers.duplicates:
        err.print(f"Note: {duplicate}")
    for office in prepared.offices_without_contacts:
        err.print(
            f"Note: no contact for {office.full_name} ({office.bioguide}); this office gets nothing"
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
