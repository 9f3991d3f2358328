"""Commands for the reference data: legislators and office contacts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from capitolmail.cli.context import now, pass_workspace
from capitolmail.config.names import STATE_DIR
from capitolmail.csv_files import rows_text
from capitolmail.display import err, legislator_rows, legislators_table, out, print_json
from capitolmail.recipients.committee_names import resolve_committee
from capitolmail.recipients.congress import stale_data_warning
from capitolmail.recipients.contact_template import parse_roles, write_template
from capitolmail.recipients.contacts import import_contacts
from capitolmail.recipients.legislators import WORKSPACE_FOLDER, workspace_roster
from capitolmail.recipients.refresh import unsent_job_lines, update_lines, update_roster
from capitolmail.recipients.targeting import select_legislators
from capitolmail.rejections import summary_lines, tally
from capitolmail.workspace import Workspace
from capitolmail.workspace_paths import workspace_file


@click.group("legislators")
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
@click.option(
    "--committee",
    help='Committee: a thomas id (SSFR, SSFR09), an acronym (SFRC) or a name ("Senate '
    'Foreign Relations").',
)
@click.option("--party", "parties", multiple=True, help="Party (repeatable).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="csv and json are for spreadsheets and scripts.",
)
@pass_workspace
def legislators_list_command(
    workspace: Workspace,
    states: tuple[str, ...],
    chambers: tuple[str, ...],
    committee: str | None,
    parties: tuple[str, ...],
    output: str,
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
    key = resolve_committee(roster, committee) if committee else None
    if output == "table":
        out.print(legislators_table(selected, key))
    else:
        header, rows = legislator_rows(selected, key)
        if output == "csv":
            sys.stdout.write(rows_text([header, *rows]))
        else:
            print_json([dict(zip(header, row, strict=True)) for row in rows])
    err.print(f"{len(selected)} legislators (data: {roster.source})")
    warning = stale_data_warning(roster, now().date())
    if warning:
        err.print(warning)


@legislators_group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_workspace
def legislators_import_command(workspace: Workspace, path: Path) -> None:
    """Load a newer congress-legislators checkout (a folder) or legislators-current.yaml.

    Everything is validated before anything is written. Then it reports who left,
    who arrived, which committees changed, and the office contacts of members no
    longer serving: those are never sent to, and letters note them.
    """
    destination = workspace_file(workspace.root, WORKSPACE_FOLDER)
    today = now().date()
    update = update_roster(
        workspace.root,
        path,
        destination,
        contacts_path=workspace.contacts_path,
        contacts_shown=workspace.display(workspace.contacts_path),
        today=today,
    )
    for line in update_lines(update, shown_destination=workspace.display(destination), today=today):
        err.print(line)
    departed = update.roster.departed
    if departed:
        for line in unsent_job_lines(workspace.store.unsent_to_offices(departed)):
            err.print(line)


@click.group("contacts")
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
    """Validate FILE and make it the workspace's office contacts.

    Commas, semicolons or tabs between columns are all read (Excel uses ";" in many
    locales). When rows are bad and nothing is imported, they are listed in a report
    under .capitolmail/reports/.
    """
    report = (
        workspace.root / STATE_DIR / "reports" / f"contacts-rejected-{now():%Y%m%dT%H%M%SZ}.csv"
    )
    result = import_contacts(
        file,
        workspace.contacts_path,
        workspace_roster(workspace.root),
        skip_invalid=skip_invalid,
        display_path=str(file),
        refusal_report=report,
    )
    note = f" ({result.delimiter_note})" if result.delimiter_note else ""
    err.print(
        f"Wrote {result.written} contacts to {workspace.display(workspace.contacts_path)}{note}."
    )
    if result.rejected:
        for line in summary_lines(tally(result.problems), prefix="Skipped: "):
            err.print(line)
        err.print(
            f"{result.rejected} rejected rows (with line, field and reason) are in "
            f"{workspace.display(result.rejects_path)}."
        )


@contacts_group.command("template")
@click.option("--committee", "committees", multiple=True, help="Committee (repeatable).")
@click.option("--state", "states", multiple=True, help="State code or name (repeatable).")
@click.option(
    "--chamber", "chambers", multiple=True, type=click.Choice(["senate", "house"]), help="Chamber."
)
@click.option("--party", "parties", multiple=True, help="Party (repeatable).")
@click.option("--everyone", is_flag=True, help="Every current legislator.")
@click.option("--roles", required=True, help='Roles, comma-separated: "Defense LA,Chief of Staff".')
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="The CSV to write."
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@pass_workspace
def contacts_template_command(
    workspace: Workspace,
    committees: tuple[str, ...],
    states: tuple[str, ...],
    chambers: tuple[str, ...],
    parties: tuple[str, ...],
    everyone: bool,
    roles: str,
    output: Path,
    force: bool,
) -> None:
    """Write a contacts CSV to fill in: one row per office and role of the audience.

    Each row has the member's bioguide id, name, office phone and address, and an
    empty email and name. The audience options are those of a letter's [audience].
    """
    selected = select_legislators(
        workspace_roster(workspace.root),
        chambers=chambers,
        states=states,
        committees=committees,
        parties=parties,
        everyone=everyone,
        source="command line",
    )
    written = write_template(output, selected, parse_roles(roles), force=force)
    err.print(
        f"Wrote {written} rows ({len(selected)} offices) to {workspace.display(output)}; fill "
        "in email and name, then run `capitolmail contacts import` on it."
    )
