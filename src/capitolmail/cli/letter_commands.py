"""Commands for letters: list, check, preview."""

from __future__ import annotations

import dataclasses

import click

from capitolmail.alerts import preview_alert
from capitolmail.cli.context import pass_workspace
from capitolmail.cli.steps import (
    alert_notes,
    prepare,
    prepare_alert_letter,
    queue_alert_letter,
    refuse_example_values,
    report_prepared,
)
from capitolmail.display import err, out, progress_bar
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import letter_slugs, load_letter
from capitolmail.message import OutgoingMessage
from capitolmail.queueing import render_messages
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.workspace import Workspace


@click.group("letters")
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
        except CapitolmailError as error:  # one bad letter must not hide the others
            out.print(f"{slug}\t(invalid: {error})")


@letters_group.command("check")
@click.argument("slug")
@pass_workspace
def letters_check_command(workspace: Workspace, slug: str) -> None:
    """Validate SLUG and render every message without storing anything."""
    if load_letter(workspace.root, slug).definition.is_alert:
        alert = prepare_alert_letter(workspace, slug)
        result = queue_alert_letter(workspace, alert, dry_run=True, allow_resend=True)
        err.print(
            f"OK: {slug} renders {result.messages} alerts "
            f"({result.suppressed} to suppressed addresses)."
        )
        for note in alert_notes(result):
            err.print(note)
        return
    prepared = prepare(workspace, slug)
    refuse_example_values(workspace, prepared)
    with progress_bar("Rendering", len(prepared.recipients)) as advance:
        count = sum(
            1
            for _ in render_messages(
                prepared, organisation=workspace.settings.organisation, progress=advance
            )
        )
    report_prepared(prepared)
    err.print(f"OK: {slug} renders {count} messages to {len(prepared.offices)} offices.")


@letters_group.command("preview")
@click.argument("slug")
@click.option("--to", "to", help="Bioguide id or contact email (a supporter's email for an alert).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml"]),
    default="text",
    show_default=True,
)
@pass_workspace
def letters_preview_command(workspace: Workspace, slug: str, to: str | None, fmt: str) -> None:
    """Show the message one recipient of SLUG would get (an office, or a supporter's email)."""
    if load_letter(workspace.root, slug).definition.is_alert:
        alert = prepare_alert_letter(workspace, slug)
        queued = preview_alert(
            workspace.store, alert, roster=workspace_roster(workspace.root), email=to
        )
        _show(queued.message, slug, fmt)
        return
    prepared = prepare(workspace, slug)
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
    _show(queued.message, slug, fmt)


def _show(message: OutgoingMessage, slug: str, fmt: str) -> None:
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
        for name, value in message.headers:
            click.echo(f"{name}: {value}")
        click.echo(f"Subject: {message.subject}\n")
        click.echo(message.text)
