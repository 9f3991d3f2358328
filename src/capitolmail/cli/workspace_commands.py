"""Commands that set up a workspace: init, demo, config."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import pass_workspace
from capitolmail.cli.steps import drain
from capitolmail.demo import run_demo
from capitolmail.display import err, out, print_json, progress_bar
from capitolmail.redaction import mask_url_passwords
from capitolmail.workspace import Workspace, init_workspace


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Create a workspace in DIRECTORY with a worked example letter."""
    written = init_workspace(directory)
    err.print(f"Created a workspace in {directory} ({len(written)} files).")
    err.print(f"Next: cd {directory} && capitolmail letters check block-arms-sale")


@click.command("demo")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def demo_command(directory: Path) -> None:
    """Create a workspace in DIRECTORY, queue its example letter and send it to .eml files."""
    run = run_demo(
        directory, send=lambda workspace: drain(workspace, once=True), progress_bar=progress_bar
    )
    err.print(run.summary)
    out.print(str(run.outbox))


@click.group("config")
def config_group() -> None:
    """Show the effective settings."""


@config_group.command("show")
@pass_workspace
def config_show_command(workspace: Workspace) -> None:
    """Print the effective settings as JSON (secrets masked, and database_url's password)."""
    data = workspace.settings.model_dump(mode="json")
    data["database_url"] = mask_url_passwords(workspace.settings.database_url_for(workspace.root))
    print_json(data)
