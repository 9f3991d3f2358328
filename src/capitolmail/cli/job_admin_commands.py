"""Commands that watch and steer jobs: `status`, `pause`, `resume`, `cancel`, `requeue`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from capitolmail.cli.context import JobNumber, now, pass_workspace
from capitolmail.cli.ports import JobAdministration
from capitolmail.display import err, jobs_table, messages_table, out, print_json
from capitolmail.job_view import counts_text, job_json
from capitolmail.outbox import JobState, MessageState
from capitolmail.reports.summary import figures_json, summary_lines
from capitolmail.sending.starting import resume
from capitolmail.signon.review import count_json, count_line, sign_on_slugs
from capitolmail.workspace import Workspace


@click.command("status")
@click.argument("job", type=JobNumber(), required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--messages", is_flag=True, help="List every message with its state.")
@pass_workspace
def status_command(workspace: Workspace, job: int | None, as_json: bool, messages: bool) -> None:
    """Show jobs: state, progress, counts by state, schedule, pace and time left."""
    store: JobAdministration = workspace.store
    current = now()
    jobs = [store.get_job(job)] if job is not None else store.list_jobs()
    replies = workspace.store.replies_by_job(j.id for j in jobs)
    if as_json:
        paces = store.current_paces(j.id for j in jobs if j.state == JobState.SENDING)
        print_json(
            {
                "jobs": [
                    {
                        **job_json(
                            j,
                            store.list_messages(j.id) if messages else None,
                            now=current,
                            failures=store.failure_summary(j.id),
                            pace=paces.get(j.id),
                        ),
                        # The delivery report's summary: every figure `report` shows.
                        "report": figures_json(store.job_figures(j.id)),
                        # From the inbound mailbox: answered by a person, by a machine.
                        "replies": replies[j.id],
                    }
                    for j in jobs
                ],
                **({"sign_on": sign_on} if (sign_on := _sign_on_json(workspace)) else {}),
            }
        )
        return
    if job is None:
        for slug in _signed_letters(workspace):
            err.print(f"{slug}: {count_line(workspace.store, slug)}")
    if not jobs:
        err.print("No jobs yet: `capitolmail queue SLUG` creates one.")
        return
    paces = store.current_paces(j.id for j in jobs if j.state == JobState.SENDING)
    out.print(jobs_table(jobs, current, ZoneInfo(workspace.settings.timezone), paces))
    for j in jobs:
        if job is not None:
            out.print()
            out.print(f"Job {j.id}: summary (`capitolmail report {j.id}` for every message)")
            for line in summary_lines(store.job_figures(j.id), j.kind):
                out.print(f"  {line}")
        elif any((answered := replies[j.id]).values()):
            out.print(
                f"Job {j.id}: {answered['replied']} replied, "
                f"{answered['auto_replied']} answered by an auto-reply (inbox sync)"
            )
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


def _signed_letters(workspace: Workspace) -> list[str]:
    """Sign-on letters that have any signature: the ones whose counts say something."""
    store = workspace.store
    return [
        slug for slug in sign_on_slugs(workspace.root) if any(store.signature_counts(slug).values())
    ]


def _sign_on_json(workspace: Workspace) -> dict[str, dict[str, int]]:
    return {slug: count_json(workspace.store, slug) for slug in _signed_letters(workspace)}


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
    grace = workspace.settings.worker.grace_period
    resumed = resume(workspace.store, job, now=now(), grace=grace)
    if resumed.was_paused:
        err.print(f"Job {job} resumed: {resumed.job.state}.")
    else:
        err.print(f"Job {job} was not paused; it is {resumed.job.state}.")
    if resumed.late == "missed":
        err.print(
            f"Its time passed more than the grace period ago, so the worker will mark it "
            f'missed; give it a new time with "capitolmail send {job} --at WHEN".'
        )
    elif resumed.late == "now":
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
