"""The `capitolmail` command: parse, call one core function, print. Nothing else.

The commands live in one module per area; this module builds the group.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from capitolmail import __version__
from capitolmail.cli.audience_commands import supporters_group, suppress_group
from capitolmail.cli.context import CapitolmailGroup, CommandState
from capitolmail.cli.data_commands import contacts_group, legislators_group
from capitolmail.cli.inbox_commands import inbox_group
from capitolmail.cli.job_admin_commands import (
    cancel_command,
    pause_command,
    requeue_command,
    resume_command,
    status_command,
)
from capitolmail.cli.job_commands import queue_command, send_command
from capitolmail.cli.letter_commands import letters_group
from capitolmail.cli.proof_commands import proof_command
from capitolmail.cli.report_commands import report_command
from capitolmail.cli.signer_commands import signers_group
from capitolmail.cli.target_commands import targets_group
from capitolmail.cli.web_commands import serve_command
from capitolmail.cli.worker_commands import worker_command
from capitolmail.cli.workers_command import workers_command
from capitolmail.cli.workspace_commands import config_group, demo_command, init_command
from capitolmail.logs import log_handler, quiet_libraries


@click.group(cls=CapitolmailGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current folder",
    help="The workspace folder (where capitolmail.toml is).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="capitolmail")
@click.pass_context
def main(ctx: click.Context, workspace: Path, debug: bool) -> None:
    """Send joint letters to Congress and action alerts to supporters.

    Letters are rendered once into a persistent outbox, then sent by a worker
    through the configured provider (by default, .eml files on disk).
    """
    ctx.obj = CommandState(workspace, debug)
    # No-op when a handler is already set (a test's log capture): theirs stays.
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[log_handler()])
    quiet_libraries(debug=debug)


for _command in (
    init_command,
    demo_command,
    config_group,
    legislators_group,
    contacts_group,
    supporters_group,
    targets_group,
    suppress_group,
    letters_group,
    signers_group,
    queue_command,
    send_command,
    worker_command,
    workers_command,
    status_command,
    pause_command,
    resume_command,
    cancel_command,
    requeue_command,
    report_command,
    proof_command,
    serve_command,
    inbox_group,
):
    main.add_command(_command)
