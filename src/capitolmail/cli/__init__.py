"""The `capitolmail` command: parse, call one core function, print. Nothing else.

The commands live in one module per area; this module builds the group. A
command's module is imported only when that command runs (or the group's help
lists them all): each pulls in what its work needs (the outbox and SQLAlchemy,
the renderer, a provider's client), and a user typing `capitolmail status` in a
terminal should not wait for SendGrid's client, the IMAP reader and the PDF
renderer to load.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import click

from capitolmail import __version__
from capitolmail.cli.context import CapitolmailGroup, CommandState
from capitolmail.logs import log_handler, quiet_libraries

# Every command: its name, and the module of capitolmail.cli and the name it has there.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("workspace_commands", "init_command"),
    "demo": ("workspace_commands", "demo_command"),
    "config": ("workspace_commands", "config_group"),
    "legislators": ("data_commands", "legislators_group"),
    "contacts": ("data_commands", "contacts_group"),
    "supporters": ("audience_commands", "supporters_group"),
    "targets": ("target_commands", "targets_group"),
    "suppress": ("audience_commands", "suppress_group"),
    "letters": ("letter_commands", "letters_group"),
    "signers": ("signer_commands", "signers_group"),
    "queue": ("job_commands", "queue_command"),
    "send": ("job_commands", "send_command"),
    "worker": ("worker_commands", "worker_command"),
    "workers": ("workers_command", "workers_command"),
    "status": ("job_admin_commands", "status_command"),
    "pause": ("job_admin_commands", "pause_command"),
    "resume": ("job_admin_commands", "resume_command"),
    "cancel": ("job_admin_commands", "cancel_command"),
    "requeue": ("job_admin_commands", "requeue_command"),
    "report": ("report_commands", "report_command"),
    "proof": ("proof_commands", "proof_command"),
    "serve": ("web_commands", "serve_command"),
    "inbox": ("inbox_commands", "inbox_group"),
}


class LazyGroup(CapitolmailGroup):
    """The top-level group: a command is imported the first time it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command: Any = getattr(importlib.import_module(f"capitolmail.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
