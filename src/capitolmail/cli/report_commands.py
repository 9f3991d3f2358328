"""`report`: what happened to each copy of a job, as CSV, HTML or PDF."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from capitolmail.cli.context import JobNumber, now, pass_workspace
from capitolmail.config.names import STATE_DIR
from capitolmail.display import err
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import load_letter
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.reports.csv_report import write_csv
from capitolmail.reports.html_report import render_html
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
        buffer = io.StringIO()
        write_csv(report, buffer, bom=bom)
        _deliver(buffer.getvalue().encode("utf-8"), output, workspace, job, fmt, for_partners)
        return
    html = render_html(
        report,
        zone=ZoneInfo(workspace.settings.timezone),
        organisation=workspace.settings.organisation.name,
    )
    data = html.encode("utf-8") if fmt == "html" else html_to_pdf(html)
    _deliver(data, output, workspace, job, fmt, for_partners)


def _letter_committees(workspace: Workspace, slug: str) -> list[str]:
    """The letter's audience committees, for each office's role; none if the letter is gone."""
    try:
        return list(load_letter(workspace.root, slug).definition.audience.committees)
    except CapitolmailError:
        return []


def _deliver(
    data: bytes, output: Path | None, workspace: Workspace, job: int, fmt: str, partners: bool
) -> None:
    if output is None and fmt == "pdf":
        folder = workspace.root / STATE_DIR / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"job-{job}{'-partners' if partners else ''}.pdf"
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as error:
        raise CapitolmailError(f"{output}: cannot write the report ({error.strerror})") from None
    err.print(f"Wrote {workspace.display(output.resolve())} ({len(data):,} bytes).")
