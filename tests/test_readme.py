"""The README's first two commands are the project's contract with a new user and with CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README.md must open with a ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_demo_then_the_tests() -> None:
    demo, tests = _readme_commands()[:2]
    assert "capitolmail demo" in demo
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    tests = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests.replace("pip install", "pip install --quiet") in ci.splitlines()
