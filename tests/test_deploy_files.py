"""The shipped deployment files run commands capitolmail accepts.

A typo in a unit's ExecStart or a compose `command` is found only at 2 a.m. on a
server; each command line is parsed here by capitolmail's own command line.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from capitolmail.cli import main

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _unit_commands() -> list[list[str]]:
    commands = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        (line,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(), flags=re.MULTILINE)
        program, *args = shlex.split(line)
        assert program.endswith("/capitolmail"), unit.name
        commands.append(args)
    return commands


def _compose_commands() -> list[list[str]]:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return [service["command"] for service in services.values() if "command" in service]


@pytest.mark.parametrize("args", [*_unit_commands(), *_compose_commands()], ids=" ".join)
def test_each_deployment_command_is_one_capitolmail_accepts(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert args[2] in {"worker", "serve"}


def test_there_is_a_worker_and_a_serve_unit_and_service() -> None:
    assert {args[2] for args in _unit_commands()} == {"worker", "serve"}
    assert {args[2] for args in _compose_commands()} == {"worker", "serve"}
