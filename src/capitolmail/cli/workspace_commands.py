"""Commands that set up a workspace: init, demo, config."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import now, pass_workspace
from capitolmail.cli.steps import drain, prepare, queue_prepared
from capitolmail.display import err, out, print_json
from capitolmail.letters.definition import letter_slugs
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
    init_workspace(directory)
    workspace = Workspace.open(directory)
    try:
        slug = letter_slugs(workspace.root)[0]
        prepared = prepare(workspace, slug)
        result = queue_prepared(workspace, prepared, dry_run=False, allow_resend=False)
        assert result.job_id is not None
        workspace.store.schedule_job(result.job_id, at=now(), now=now())
        summary = drain(workspace, once=True)
        outbox = workspace.outbox_dir / str(result.job_id)
        err.print(
            f"Sent {summary.sent} messages for job {result.job_id} into {outbox}/ "
            f"(failed: {summary.failed})."
        )
        out.print(str(outbox))
    finally:
        workspace.close()


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
