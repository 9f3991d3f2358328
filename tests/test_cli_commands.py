"""The top-level commands are imported when asked for: the table lists every one,
and a quick command does not load what only sending, rendering or the web need."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import capitolmail.cli
from capitolmail.cli import COMMANDS, main

from .conftest import Invoke


def _commands_defined_in_the_cli_modules() -> dict[str, click.Command]:
    """Every command object of capitolmail.cli's modules that no group holds."""
    found: dict[int, click.Command] = {}
    for info in pkgutil.iter_modules(capitolmail.cli.__path__):
        module = importlib.import_module(f"capitolmail.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value is not main:
                found[id(value)] = value
    held = {
        id(sub)
        for command in found.values()
        if isinstance(command, click.Group)
        for sub in command.commands.values()
    }
    return {c.name or "": c for key, c in found.items() if key not in held}


def test_the_table_names_every_command_once_under_its_own_name() -> None:
    defined = _commands_defined_in_the_cli_modules()
    assert sorted(COMMANDS) == sorted(defined)
    context = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is defined[name], name
        assert command.name == name
    assert main.get_command(context, "no-such-command") is None


def test_the_help_lists_every_command() -> None:
    shown = CliRunner().invoke(main, ["--help"], terminal_width=200).output
    listed = [line.split()[0] for line in shown.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    assert "Render every message of SLUG now and store it; prints the job id." in shown


def test_status_loads_neither_the_send_loop_nor_a_provider(workspace: Path, cli: Invoke) -> None:
    assert cli("status").exit_code == 0  # the outbox made (and migrated) first
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from capitolmail.cli import main\n"
        f"result = CliRunner().invoke(main, ['--workspace', {str(workspace)!r}, 'status'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = ['aiohttp', 'sendgrid', 'capitolmail.sending.sender',\n"
        "         'capitolmail.providers.smtp', 'capitolmail.letters.pipeline',\n"
        "         'weasyprint', 'jinja2', 'alembic']\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
