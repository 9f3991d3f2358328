"""Commands for letters: list, check, preview."""

from __future__ import annotations

import click

from capitolmail.cli.context import pass_workspace
from capitolmail.display import err, out, progress_bar
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import letter_slugs, load_letter
from capitolmail.letters.pipeline import check_letter, load, preview_letter
from capitolmail.message import OutgoingMessage
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
    kind = load(workspace, slug)
    for line in check_letter(workspace, kind, progress_bar=progress_bar):
        err.print(line)


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
    _show(preview_letter(workspace, load(workspace, slug), to), slug, fmt)


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
        if message.cc:
            click.echo(f"Cc: {', '.join(message.cc)}")
        if message.bcc:
            click.echo(f"Bcc (envelope only, never in the headers): {', '.join(message.bcc)}")
        if message.reply_to:
            click.echo(f"Reply-To: {message.reply_to}")
        for name, value in message.headers:
            click.echo(f"{name}: {value}")
        click.echo(f"Subject: {message.subject}\n")
        click.echo(message.text)
