"""Commands for the reference data: legislators and office contacts."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import pass_workspace
from capitolmail.display import err, legislators_table, out
from capitolmail.recipients.committee_names import resolve_committee
from capitolmail.recipients.contacts import import_contacts
from capitolmail.recipients.legislators import (
    WORKSPACE_FOLDER,
    import_legislators,
    workspace_roster,
)
from capitolmail.recipients.targeting import select_legislators
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
    key = resolve_committee(roster, committee) if committee else None
    out.print(legislators_table(selected, key))
    err.print(f"{len(selected)} legislators (data: {roster.source})")


@legislators_group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_workspace
def legislators_import_command(workspace: Workspace, path: Path) -> None:
    """Load a newer legislators-current.yaml (or a folder of congress-legislators files)."""
    destination = workspace_file(workspace.root, WORKSPACE_FOLDER)
    roster = import_legislators(path, destination)
    err.print(f"Imported {len(roster)} legislators into {workspace.display(destination)}/")


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
