"""Commands for who alerts go to: supporters, and the suppression list nobody is emailed on."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from capitolmail.cli.context import WholeNumber, now, pass_workspace
from capitolmail.config.names import STATE_DIR
from capitolmail.display import err, out, print_json, progress_bar
from capitolmail.errors import CapitolmailError
from capitolmail.outbox import SuppressionReason
from capitolmail.recipients.column_names import parse_mapping
from capitolmail.recipients.supporters import SupporterImport, import_supporters
from capitolmail.recipients.suppression import import_suppressions, suppress, unsuppress
from capitolmail.workspace import Workspace


@click.group("supporters")
def supporters_group() -> None:
    """Supporters who receive action alerts."""


@supporters_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write rejected rows "
    "[default: .capitolmail/reports/supporters-rejected-TIME.csv].",
)
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar='COLUMN="NAME"',
    help='Read our COLUMN from the file\'s column NAME, e.g. --map email="Email Address" '
    "(repeatable).",
)
@pass_workspace
def supporters_import_command(
    workspace: Workspace, file: Path, report: Path | None, mappings: tuple[str, ...]
) -> None:
    """Import (or update) supporters from FILE; rejected rows go to a report CSV.

    Columns: email, first_name, last_name, postal_code, consent, and optionally
    state, district and tags (separated by ; or |). Common CRM names are matched
    (Email Address, First Name, Zip Code, zip_code, ZIP ...); --map names others.
    Commas, semicolons or tabs between columns are all read.
    """
    try:
        column_map = parse_mapping(mappings)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    started = now()
    if report is None:
        name = f"supporters-rejected-{started:%Y%m%dT%H%M%SZ}.csv"
        report = workspace.root / STATE_DIR / "reports" / name
    with progress_bar("Importing supporters", _data_lines(file)) as advance:
        result = import_supporters(
            workspace.store,
            file,
            report,
            started,
            display_path=workspace.display(file),
            on_batch=advance,
            column_map=column_map,
        )
    _print_import(workspace, file, result)


def _data_lines(file: Path) -> int:
    """About how many rows the file has (a quoted line break counts twice): for the bar."""
    lines = 0
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            lines += chunk.count(b"\n")
    return max(lines - 1, 1)


def _print_import(workspace: Workspace, file: Path, result: SupporterImport) -> None:
    merged = f"{result.merged} duplicate{'s' * (result.merged != 1)} merged"
    note = f" ({result.delimiter_note})" if result.delimiter_note else ""
    err.print(
        f"Read {result.read} rows from {workspace.display(file)}{note}: {result.new} new, "
        f"{result.updated} updated, {merged}, {result.rejected} rejected."
    )
    if result.renamed_columns:
        used = ", ".join(f'{ours} from "{theirs}"' for ours, theirs in result.renamed_columns)
        err.print(f"Columns used: {used}.")
    if result.ignored_columns:
        err.print(f"Ignored columns: {', '.join(result.ignored_columns)}.")
    for problem in result.first_problems:
        err.print(f"Rejected: {problem}")
    shown_rows = len({problem.line for problem in result.first_problems})
    if result.rejected > shown_rows:
        err.print(f"… and {result.rejected - shown_rows} more rejected rows. Problems by cause:")
        for text, count in result.problem_causes:
            err.print(f"  {count} × {text}")
    for warning in result.first_warnings:
        err.print(f"Warning: {warning}")
    if result.warned > len(result.first_warnings):
        err.print(f"… and {result.warned - len(result.first_warnings)} more warnings.")
    if result.warned:
        who = f"{result.warned} imported supporter{'s' * (result.warned != 1)}"
        err.print(
            f"Warning: {who} cannot be matched to all their members of Congress; alerts to "
            "them say so and `letters check` counts them."
        )
    if result.report_path is not None:
        err.print(
            f"Rejected rows (with line, field and reason) are in "
            f"{workspace.display(result.report_path)}; fix them there and import that file."
        )


@supporters_group.command("list")
@click.option("--limit", type=WholeNumber(1, 1_000_000), default=20, show_default=True)
@pass_workspace
def supporters_list_command(workspace: Workspace, limit: int) -> None:
    """List supporters in the order they were first imported."""
    table = Table()
    for column in ("id", "email", "name", "zip", "state", "district", "consent", "tags"):
        table.add_column(column, justify="right" if column == "id" else "left")
    shown = workspace.store.list_supporters(limit=limit)
    for supporter in shown:
        consent = "no"
        if supporter.consent:
            consent = supporter.consent_at.date().isoformat() if supporter.consent_at else "yes"
        table.add_row(
            str(supporter.id),
            supporter.email,
            f"{supporter.first_name} {supporter.last_name}".strip(),
            supporter.postal_code or "",
            supporter.state or "",
            "" if supporter.district is None else str(supporter.district),
            consent,
            ", ".join(supporter.tags),
        )
    out.print(table)
    err.print(f"{len(shown)} of {workspace.store.count_supporters()} supporters")


@click.group("suppress")
def suppress_group() -> None:
    """The suppression list: addresses that are never emailed."""


@suppress_group.command("add")
@click.argument("email")
@click.option(
    "--reason",
    type=click.Choice([reason.value for reason in SuppressionReason]),
    default=SuppressionReason.MANUAL.value,
    show_default=True,
)
@click.option("--detail", help="A note kept with the entry, e.g. a ticket number.")
@pass_workspace
def suppress_add_command(workspace: Workspace, email: str, reason: str, detail: str | None) -> None:
    """Never email EMAIL again (adding it again updates the reason and time)."""
    address = suppress(workspace.store, email, reason, now(), detail=detail)
    err.print(f"Suppressed {address} ({reason}).")


@suppress_group.command("remove")
@click.argument("email")
@pass_workspace
def suppress_remove_command(workspace: Workspace, email: str) -> None:
    """Take EMAIL off the suppression list."""
    if not unsuppress(workspace.store, email):
        raise CapitolmailError(
            f'{email} is not on the suppression list; "capitolmail suppress list" shows it'
        )
    err.print(f"Removed {email} from the suppression list.")


@suppress_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_workspace
def suppress_import_command(workspace: Workspace, file: Path) -> None:
    """Suppress every address in FILE (columns: email, optional reason and detail)."""
    result = import_suppressions(workspace.store, file, now(), display_path=workspace.display(file))
    note = f", {result.delimiter_note}" if result.delimiter_note else ""
    err.print(
        f"Suppressed {result.written} addresses from {workspace.display(file)} "
        f"({result.read} rows{note})."
    )


@suppress_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_workspace
def suppress_list_command(workspace: Workspace, as_json: bool) -> None:
    """List suppressed addresses with the reason and since when."""
    entries = workspace.store.list_suppressions()
    if as_json:
        print_json(
            [
                {
                    "email": entry.email,
                    "reason": entry.reason.value,
                    "suppressed_at": entry.at.isoformat(),
                    "detail": entry.detail,
                }
                for entry in entries
            ]
        )
        return
    table = Table()
    for column in ("email", "reason", "since", "detail"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry.email,
            entry.reason.value,
            entry.at.strftime("%Y-%m-%d %H:%M UTC"),
            entry.detail or "",
        )
    out.print(table)
    err.print(f"{len(entries)} suppressed addresses")
