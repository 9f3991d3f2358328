"""The `capitolmail` command: parse, call one core function, print. Nothing else.

Errors from the core arrive as CapitolmailError and are printed here, once, as
`Error: …` on stderr with exit code 1; tracebacks only under --debug.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from capitolmail import __version__
from capitolmail.display import (
    counts_text,
    err,
    job_json,
    jobs_table,
    legislators_table,
    messages_table,
    out,
    print_json,
    progress_bar,
)
from capitolmail.errors import CapitolmailError, InputError
from capitolmail.letters.definition import letter_slugs, load_letter
from capitolmail.providers import create_provider
from capitolmail.queueing import PreparedLetter, prepare_letter, queue_letter, render_messages
from capitolmail.rate import Rate, parse_rate
from capitolmail.recipients.contacts import import_contacts
from capitolmail.recipients.legislators import import_legislators, workspace_roster
from capitolmail.recipients.targeting import select_legislators
from capitolmail.sender import RetryPolicy, SendOptions, SendSummary, send_due
from capitolmail.workspace import Workspace, init_workspace

F = TypeVar("F", bound=Callable[..., Any])


class CapitolmailGroup(click.Group):
    """Turns CapitolmailError into one readable line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CapitolmailError as error:
            if ctx.find_root().params.get("debug"):
                raise
            if isinstance(error, InputError):
                for problem in error.problems:
                    click.echo(f"Error: {problem}", err=True)
            else:
                click.echo(f"Error: {error}", err=True)
            ctx.exit(1)
        finally:
            state = ctx.find_root().obj
            if isinstance(state, _State) and state.workspace is not None:
                state.workspace.close()


class _State:
    def __init__(self, root: Path, debug: bool) -> None:
        self.root = root
        self.debug = debug
        self.workspace: Workspace | None = None

    def open(self) -> Workspace:
        if self.workspace is None:
            self.workspace = Workspace.open(self.root)
        return self.workspace


def pass_workspace(func: F) -> F:
    """Open the workspace (settings now, the database on first use) for a command."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_root().obj
        return func(state.open(), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(UTC)


class RateType(click.ParamType):
    """`--rate 120/min` into a Rate, with the accepted forms in the error."""

    name = "rate"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Rate:
        if isinstance(value, Rate):
            return value
        try:
            return parse_rate(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


@click.group(cls=CapitolmailGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current folder",
    help="The workspace folder (where capitolmail.toml is).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="capitolmail")
@click.pass_context
def main(ctx: click.Context, workspace: Path, debug: bool) -> None:
    """Send joint letters to Congress and action alerts to supporters.

    Letters are rendered once into a persistent outbox, then sent by a worker
    through the configured provider (by default, .eml files on disk).
    """
    ctx.obj = _State(workspace, debug)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- workspace --------------------------------------------------------------


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Create a workspace in DIRECTORY with a worked example letter."""
    written = init_workspace(directory)
    err.print(f"Created a workspace in {directory} ({len(written)} files).")
    err.print(f"Next: cd {directory} && capitolmail letters check block-arms-sale")


@main.command("demo")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def demo_command(directory: Path) -> None:
    """Create a workspace in DIRECTORY, queue its example letter and send it to .eml files."""
    init_workspace(directory)
    workspace = Workspace.open(directory)
    try:
        slug = letter_slugs(workspace.root)[0]
        prepared = _prepare(workspace, slug)
        result = _queue(workspace, prepared, dry_run=False, allow_resend=False)
        assert result.job_id is not None
        workspace.store.schedule_job(result.job_id, at=_now(), now=_now())
        summary = _drain(workspace, once=True)
        outbox = workspace.outbox_dir / str(result.job_id)
        err.print(
            f"Sent {summary.sent} messages for job {result.job_id} into {outbox}/ "
            f"(failed: {summary.failed})."
        )
        out.print(str(outbox))
    finally:
        workspace.close()


@main.group("config")
def config_group() -> None:
    """Show the effective settings."""


@config_group.command("show")
@pass_workspace
def config_show_command(workspace: Workspace) -> None:
    """Print the effective settings as JSON (secrets masked)."""
    data = workspace.settings.model_dump(mode="json")
    data["database_url"] = workspace.settings.database_url_for(workspace.root)
    print_json(data)


# --- legislators and contacts -----------------------------------------------


@main.group("legislators")
def legislators_group() -> None:
    """The congress-legislators data: list members, import a newer snapshot."""


@legislators_group.command("list")
@click.option("--state", "states", multiple=True, help="State code or name (repeatable).")
@click.option(
    "--chamber",
    "chambers",
    multiple=True,
    type=click.Choice(["senate", "house"]),
    help="Chamber (repeatable).",
)
@click.option("--committee", help="Committee or subcommittee id, e.g. SSFR or SSFR09.")
@click.option("--party", "parties", multiple=True, help="Party (repeatable).")
@pass_workspace
def legislators_list_command(
    workspace: Workspace,
    states: tuple[str, ...],
    chambers: tuple[str, ...],
    committee: str | None,
    parties: tuple[str, ...],
) -> None:
    """List current legislators, filtered by state, chamber, committee or party."""
    roster = workspace_roster(workspace.root)
    selected = select_legislators(
        roster,
        chambers=chambers,
        states=states,
        committees=[committee] if committee else [],
        parties=parties,
        everyone=not (states or chambers or committee or parties),
        source="command line",
    )
    out.print(legislators_table(selected, committee))
    err.print(f"{len(selected)} legislators (data: {roster.source})")


@legislators_group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_workspace
def legislators_import_command(workspace: Workspace, path: Path) -> None:
    """Load a newer legislators-current.yaml (or a folder of congress-legislators files)."""
    destination = workspace.root / "recipients" / "legislators"
    roster = import_legislators(path, destination)
    err.print(f"Imported {len(roster)} legislators into {workspace.display(destination)}/")


@main.group("contacts")
def contacts_group() -> None:
    """Office staff contacts (recipients/offices.csv)."""


@contacts_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Write the valid rows and put the others in a rejects CSV, instead of refusing.",
)
@pass_workspace
def contacts_import_command(workspace: Workspace, file: Path, skip_invalid: bool) -> None:
    """Validate FILE and make it the workspace's office contacts."""
    result = import_contacts(
        file,
        workspace.contacts_path,
        workspace_roster(workspace.root),
        skip_invalid=skip_invalid,
        display_path=str(file),
    )
    err.print(f"Wrote {result.written} contacts to {workspace.display(workspace.contacts_path)}.")
    if result.rejected:
        for problem in result.problems:
            err.print(f"Skipped: {problem}")
        err.print(f"{result.rejected} rejected rows are in {result.rejects_path}.")


# --- letters ----------------------------------------------------------------


@main.group("letters")
def letters_group() -> None:
    """Letters in letters/SLUG/: list, check, preview."""


@letters_group.command("list")
@pass_workspace
def letters_list_command(workspace: Workspace) -> None:
    """List the letters in this workspace."""
    slugs = letter_slugs(workspace.root)
    if not slugs:
        err.print("No letters yet: add letters/SLUG/letter.toml.")
    for slug in slugs:
        try:
            letter = load_letter(workspace.root, slug)
            out.print(f"{slug}\t{letter.definition.kind}\t{letter.definition.description}")
        except InputError as error:
            out.print(f"{slug}\t(invalid: {error})")


@letters_group.command("check")
@click.argument("slug")
@pass_workspace
def letters_check_command(workspace: Workspace, slug: str) -> None:
    """Validate SLUG and render every message without storing anything."""
    prepared = _prepare(workspace, slug)
    with progress_bar("Rendering", len(prepared.recipients)) as advance:
        count = sum(
            1
            for _ in render_messages(
                prepared, organisation=workspace.settings.organisation, progress=advance
            )
        )
    _report_prepared(prepared)
    err.print(f"OK: {slug} renders {count} messages to {len(prepared.offices)} offices.")


@letters_group.command("preview")
@click.argument("slug")
@click.option("--to", "to", help="Bioguide id (or contact email) to preview for.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml"]),
    default="text",
    show_default=True,
)
@pass_workspace
def letters_preview_command(workspace: Workspace, slug: str, to: str | None, fmt: str) -> None:
    """Show the message one recipient of SLUG would get."""
    prepared = _prepare(workspace, slug)
    recipients = prepared.recipients
    if to:
        wanted = to.strip().casefold()
        recipients = tuple(
            r
            for r in recipients
            if r.legislator.bioguide.casefold() == wanted or r.contact.email.casefold() == wanted
        )
        if not recipients:
            raise CapitolmailError(
                f'"{to}" is not among the recipients of {slug}; '
                "`capitolmail letters check` lists the offices"
            )
    single = dataclasses.replace(prepared, recipients=recipients[:1])
    queued = next(render_messages(single, organisation=workspace.settings.organisation))
    message = queued.message
    if fmt == "eml":
        click.echo(message.to_bytes().decode("utf-8"), nl=False)
    elif fmt == "html":
        if message.html is None:
            raise CapitolmailError(f"{slug} has no HTML body; use --format text")
        click.echo(message.html)
    else:
        click.echo(f"From: {message.from_name} <{message.from_email}>")
        click.echo(f"To: {message.to_name} <{message.to_email}>")
        if message.reply_to:
            click.echo(f"Reply-To: {message.reply_to}")
        click.echo(f"Subject: {message.subject}\n")
        click.echo(message.text)


# --- queue, send, worker ----------------------------------------------------


@main.command("queue")
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
    prepared = _prepare(workspace, slug)
    result = _queue(workspace, prepared, dry_run=dry_run, allow_resend=allow_resend)
    chambers = ", ".join(f"{n} {c}" for c, n in result.offices_by_chamber.items())
    _report_prepared(prepared)
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


@main.command("send")
@click.argument("job", type=int)
@click.option("--rate", type=RateType(), help="Cap this job's pace, e.g. 120/min or 5/s.")
@pass_workspace
def send_command(workspace: Workspace, job: int, rate: Rate | None) -> None:
    """Mark JOB due now; a running `capitolmail worker` (or `worker --once`) sends it."""
    if rate is not None:
        workspace.store.set_job_options(job, rate=str(rate))
    info = workspace.store.schedule_job(job, at=_now(), now=_now())
    pace = f" at most {rate}" if rate else ""
    err.print(
        f"Job {info.id} ({info.letter_slug}) is due now: {info.total} messages{pace}. "
        "Run `capitolmail worker --once` to send them."
    )


@main.command("worker")
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
        summary = _drain(workspace, once=once, stop=stop, poll=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _report_summary(summary)


@main.command("status")
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


@main.command("pause")
@click.argument("job", type=int)
@pass_workspace
def pause_command(workspace: Workspace, job: int) -> None:
    """Stop sending JOB; what is not yet sent stays queued."""
    workspace.store.pause_job(job, reason="paused by an operator", now=_now())
    err.print(f"Job {job} paused.")


@main.command("resume")
@click.argument("job", type=int)
@pass_workspace
def resume_command(workspace: Workspace, job: int) -> None:
    """Continue sending a paused JOB."""
    workspace.store.resume_job(job, now=_now())
    err.print(f"Job {job} resumed.")


@main.command("cancel")
@click.argument("job", type=int)
@pass_workspace
def cancel_command(workspace: Workspace, job: int) -> None:
    """Cancel JOB: unsent messages become cancelled and are never sent."""
    workspace.store.cancel_job(job, now=_now())
    info = workspace.store.get_job(job)
    err.print(f"Job {job} cancelled: {counts_text(info.counts)}.")


@main.command("requeue")
@click.argument("job", type=int)
@click.option("--unknown", is_flag=True, help="Requeue messages whose outcome is unknown.")
@click.option("--failed", is_flag=True, help="Requeue messages that failed.")
@pass_workspace
def requeue_command(workspace: Workspace, job: int, unknown: bool, failed: bool) -> None:
    """Send JOB's unknown or failed messages again: an operator's decision."""
    states = [s for s, chosen in (("unknown", unknown), ("failed", failed)) if chosen]
    if not states:
        raise click.UsageError("say which messages to requeue: --unknown and/or --failed")
    count = workspace.store.requeue(job, states, now=_now())
    err.print(f"Requeued {count} messages of job {job}.")


# --- helpers for the commands above -----------------------------------------


def _prepare(workspace: Workspace, slug: str) -> PreparedLetter:
    settings = workspace.settings
    return prepare_letter(
        workspace.root,
        slug,
        roster=workspace_roster(workspace.root),
        contacts_path=workspace.contacts_path,
        organisation=settings.organisation,
        sender=settings.sender,
    )


def _queue(workspace: Workspace, prepared: PreparedLetter, *, dry_run: bool, allow_resend: bool):
    with progress_bar("Rendering", len(prepared.recipients)) as advance:
        return queue_letter(
            workspace.store,
            prepared,
            organisation=workspace.settings.organisation,
            now=_now(),
            dry_run=dry_run,
            allow_resend=allow_resend,
            progress=advance,
        )


def _drain(
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


def _report_prepared(prepared: PreparedLetter) -> None:
    for duplicate in prepared.signers.duplicates:
        err.print(f"Note: {duplicate}")
    for office in prepared.offices_without_contacts:
        err.print(
            f"Note: no contact for {office.full_name} ({office.bioguide}); this office gets nothing"
        )


def _report_summary(summary: SendSummary) -> None:
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
