"""Fixtures shared by the whole suite: real workspaces in tmp_path and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from capitolmail.cli import main
from capitolmail.workspace import init_workspace

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read CAPITOLMAIL_* variables; a developer's own must not leak into tests."""
    import os

    for name in list(os.environ):
        if name.startswith("CAPITOLMAIL_") and name != "CAPITOLMAIL_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the worked example, exactly as `capitolmail init` writes it."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def cli(workspace: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--workspace", str(workspace), *args], catch_exceptions=False)

    return invoke
