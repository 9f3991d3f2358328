"""`capitolmail targets list`: the recipients beyond Congress, as letters will read them."""

from __future__ import annotations

import click
from rich.table import Table

from capitolmail.cli.context import pass_workspace
from capitolmail.display import err, out, print_json
from capitolmail.recipients.targets import TARGETS_DISPLAY, workspace_targets
from capitolmail.workspace import Workspace


@click.group("targets")
def targets_group() -> None:
    """Recipients beyond Congress (recipients/targets.csv)."""


@targets_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_workspace
def targets_list_command(workspace: Workspace, as_json: bool) -> None:
    """Check recipients/targets.csv and list its targets.

    The file is read when a letter names a target (there is no import step), so
    this is the way to see that an edit reads as meant before a letter uses it.
    """
    book = workspace_targets(workspace.root)
    if as_json:
        print_json(
            [
                {
                    "id": t.id,
                    "name": t.name,
                    "title": t.title,
                    "organization": t.organization,
                    "email": t.email,
                    "salutation": t.salutation,
                    "address_lines": list(t.address_lines),
                    "tags": list(t.tags),
                    "contact_url": t.contact_url,
                    "phone": t.phone,
                }
                for t in book.targets
            ]
        )
        return
    table = Table()
    for column in ("id", "name", "title", "organization", "email", "tags"):
        table.add_column(column)
    for t in book.targets:
        table.add_row(t.id, t.name, t.title, t.organization, t.email or "", ", ".join(t.tags))
    out.print(table)
    err.print(f"{len(book.targets)} targets in {TARGETS_DISPLAY}.")
