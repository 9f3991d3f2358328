"""`report`: what happened to each copy of a job, as CSV, HTML or PDF."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import click

from capitolmail.cli.context import JobNumber, now, pass_workspace
from capitolmail.config.names import STATE_DIR
from capitolmail.display import err
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import load_letter
from capitolmail.recipients.atomic_write import replace_file
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.reports.csv_report import csv_pieces
from capitolmail.reports.html_report import html_pieces, render_html
from capitolmail.reports.model import build_report
from capitolmail.reports.pdf_report import html_to_pdf
from capitolmail.workspace import Workspace


@click.command("report")
@click.argument("job", type=JobNumber())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "html", "pdf"]),
    default="csv",
    show_default=True,
    help="csv: one row per message; html and pdf add the summary and charts.",
)
@click.option(
    "--for-partners",
    is_flag=True,
    help="Leave out staff and supporter addresses and internal error details: safe to forward.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE (default: stdout for csv and html, "
    ".capitolmail/reports/job-JOB.pdf for pdf).",
)
@click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 byte-order mark, for Excel.")
@pass_workspace
def report_command(
    workspace: Workspace,
    job: int,
    fmt: str,
    for_partners: bool,
    output: Path | None,
    bom: bool,
) -> None:
    """Report on JOB: each office or supporter, its state, times and reason, and a summary."""
    store = workspace.store
    info = store.get_job(job)
    report = build_report(
        store,
        workspace_roster(workspace.root),
        job,
        committees=_letter_committees(workspace, info.letter_slug),
        now=now(),
        for_partners=for_partners,
    )
    if fmt == "csv":
        _deliver(csv_pieces(report, bom=bom), output, workspace, job, fmt, for_partners)
        return
    zone = ZoneInfo(workspace.settings.timezone)
    organisation = workspace.settings.organisation.name
    if fmt == "html":
        pieces = html_pieces(report, zone=zone, organisation=organisation)
        _deliver(pieces, output, workspace, job, fmt, for_partners)
        return
    html = render_html(report, zone=zone, organisation=organisation)
    _deliver([html_to_pdf(html)], output, workspace, job, fmt, for_partners)


def _letter_committees(workspace: Workspace, slug: str) -> list[str]:
    """The letter's audience committees, for each office's role; none if the letter is gone."""
    try:
        return list(load_letter(workspace.root, slug).definition.audience.committees)
    except CapitolmailError:
        return []


def _deliver(
    pieces: Iterable[str | bytes],
    output: Path | None,
    workspace: Workspace,
    job: int,
    fmt: str,
    partners: bool,
) -> None:
    """Write the report as it is made: to stdout, or to a file that appears whole.

    A file is written beside its name and moved into place at the end (keeping the
    mode of the one it replaces), so a report that fails part-way (a full disk, the
    database gone) leaves no half of one.
    """
    if output is None and fmt == "pdf":
        folder = workspace.root / STATE_DIR / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"job-{job}{'-partners' if partners else ''}.pdf"
    if output is None:
        # A reader that stops early (`report 1 | head`): click ends the command quietly.
        _write(pieces, sys.stdout.buffer)
        sys.stdout.flush()
        return
    try:
        if output.exists() and not output.is_file():
            # -o /dev/stdout, a named pipe: written as it is, never replaced by a file.
            with output.open("wb") as out:
                size = _write(pieces, out)
        else:
            size = replace_file(output, lambda out: _write(pieces, out))
    except OSError as error:
        raise CapitolmailError(
            f"{output}: cannot write the report ({error.strerror or error})"
        ) from None
    err.print(f"Wrote {workspace.display(output.resolve())} ({size:,} bytes).")


def _write(pieces: Iterable[str | bytes], out: BinaryIO) -> int:
    """Every piece, UTF-8 encoded, in writes of about 64 KiB; the bytes written.

    The pieces are closed however this ends, so a failed write closes the outbox's
    cursor at once rather than whenever the generator is collected.
    """
    size = 0
    buffer: list[bytes] = []
    held = 0
    try:
        for piece in pieces:
            data = piece.encode("utf-8") if isinstance(piece, str) else piece
            buffer.append(data)
            held += len(data)
            if held >= 65_536:
                out.write(b"".join(buffer))
                size, buffer, held = size + held, [], 0
        out.write(b"".join(buffer))
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    return size + held
