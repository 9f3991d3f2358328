"""Steps several commands share: prepare and queue a letter, run the sender, report."""

from __future__ import annotations

import threading

from capitolmail.cli.context import now
from capitolmail.display import err, progress_bar
from capitolmail.providers import create_provider
from capitolmail.queueing import PreparedLetter, QueueResult, prepare_letter, queue_letter
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.sender import RetryPolicy, SendOptions, SendSummary, send_due
from capitolmail.workspace import Workspace


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


def queue_prepared(
    workspace: Workspace, prepared: PreparedLetter, *, dry_run: bool, allow_resend: bool
) -> QueueResult:
    with progress_bar("Rendering", len(prepared.recipients)) as advance:
        return queue_letter(
            workspace.store,
            prepared,
            organisation=workspace.settings.organisation,
            now=now(),
            dry_run=dry_run,
            allow_resend=allow_resend,
            progress=advance,
        )


def drain(
    workspace: Workspace,
    *,
    once: bool = True,
    stop: threading.Event | None = None,
    poll: float = 2.0,
) -> SendSummary:
    settings = workspace.settings
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
        poll_seconds=poll,
    )
    return send_due(workspace.store, provider, options=options, stop=stop, once=once)


def report_prepared(prepared: PreparedLetter) -> None:
    for duplicate in prepared.signers.duplicates:
        err.print(f"Note: {duplicate}")
    for office in prepared.offices_without_contacts:
        err.print(
            f"Note: no contact for {office.full_name} ({office.bioguide}); this office gets nothing"
        )


def report_summary(summary: SendSummary) -> None:
    parts = [f"sent {summary.sent}", f"failed {summary.failed}", f"retrying {summary.retried}"]
    if summary.stopped_early:
        parts.append("stopped before the queue was empty")
    if summary.recovered:
        parts.append(f"{summary.recovered} marked unknown after a worker died")
    err.print("Worker: " + ", ".join(parts) + ".")
    for job in summary.paused_jobs:
        err.print(f"Job {job} paused: the provider refused the credentials (see status).")
    for job in summary.finished_jobs:
        err.print(f"Job {job} done.")
