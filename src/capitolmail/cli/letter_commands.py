"""Commands for letters: list, check, preview, and the PDF packet."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import pass_workspace
from capitolmail.config.names import STATE_DIR
from capitolmail.display import err, out, progress_bar
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import letter_slugs, load_letter
from capitolmail.letters.pdf_packet import write_packet
from capitolmail.letters.pipeline import check_letter, load, preview_letter
from capitolmail.message import OutgoingMessage
from capitolmail.workspace import Workspace


@click.group("letters")
def letters_group() -> None:
    """Letters in letters/SLUG/: list, check, preview, pdf."""


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
    type=click.Choice(["text", "html", "eml", "pdf"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --format pdf: the file to write [default: the attachment's name, here].",
)
@pass_workspace
def letters_preview_command(
    workspace: Workspace, slug: str, to: str | None, fmt: str, output: Path | None
) -> None:
    """Show the message one recipient of SLUG would get (an office, or a supporter's email).

    `--format pdf` writes the PDF that recipient's message carries, byte for byte.
    """
    message = preview_letter(workspace, load(workspace, slug), to)
    if fmt == "pdf":
        _write_pdf(message, slug, output)
    elif output is not None:
        raise CapitolmailError("-o/--output is for --format pdf; redirect the output instead")
    else:
        _show(message, slug, fmt)


@letters_group.command("pdf")
@click.argument("slug")
@click.option(
    "--combined",
    is_flag=True,
    help="Also write one PDF to print: an index page, then every office's letter.",
)
@click.option(
    "-o",
    "--output",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into [default: .capitolmail/pdf/SLUG/].",
)
@pass_workspace
def letters_pdf_command(
    workspace: Workspace, slug: str, combined: bool, folder: Path | None
) -> None:
    """Write the hand-delivery packet of SLUG: one PDF per office (and --combined)."""
    kind = load(workspace, slug)
    target = folder if folder is not None else workspace.root / STATE_DIR / "pdf" / slug
    packet = write_packet(kind, target, combined=combined)
    if packet.shared:
        err.print(f"Wrote the letter's one shared PDF to {packet.office_files[0]}.")
    else:
        err.print(f"Wrote {packet.offices} office PDFs to {target}/.")
    if packet.combined is not None:
        err.print(f"Combined, with an index page: {packet.combined}")
    out.print(str(packet.combined or target))


def _write_pdf(message: OutgoingMessage, slug: str, output: Path | None) -> None:
    pdfs = [a for a in message.attachments if a.content_type == "application/pdf"]
    if not pdfs:
        raise CapitolmailError(
            f"{slug} has no PDF: add a [pdf] table to its letter.toml (README: The PDF letter)"
        )
    path = output if output is not None else Path(pdfs[0].filename)
    try:
        path.write_bytes(pdfs[0].content)
    except OSError as error:
        raise CapitolmailError(f"cannot write {path}: {error.strerror}") from None
    err.print(f"Wrote {path} ({len(pdfs[0].content):,} bytes) for {message.to_email}.")
    out.print(str(path))


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
        for attachment in message.attachments:
            click.echo(
                f"[attached: {attachment.filename}, {attachment.content_type}, "
                f"{len(attachment.content):,} bytes; see it with --format pdf]"
            )
