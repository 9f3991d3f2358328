"""What every command shares: the error-printing group, the workspace, typed options.

Errors from the core arrive as CapitolmailError and are printed by
CapitolmailGroup, once, as `Error: …` on stderr with exit code 1; tracebacks
only under --debug. That is the one place every error is printed, so it is where
secrets are redacted and control characters escaped: a value quoted in an error
(an address with CR/LF in it, a relay's reply) stays on the error's one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from capitolmail.errors import CapitolmailError, InputError
from capitolmail.printable import printable
from capitolmail.rate import Rate, parse_rate
from capitolmail.redaction import redact
from capitolmail.rejections import summary_lines, tally
from capitolmail.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


class CapitolmailGroup(click.Group):
    """Turns CapitolmailError into one readable line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            # click's own usage errors quote the value given (`'1\nx' is not a valid integer`).
            error.message = error_line(error.message)
            raise
        except CapitolmailError as error:
            if ctx.find_root().params.get("debug"):
                raise
            if isinstance(error, InputError):
                for line in _input_error_lines(error, ctx.find_root().obj):
                    click.echo(f"Error: {error_line(line)}", err=True)
            else:
                click.echo(f"Error: {error_line(str(error))}", err=True)
            ctx.exit(1)
        finally:
            state = ctx.find_root().obj
            if isinstance(state, CommandState) and state.workspace is not None:
                state.workspace.close()


def _input_error_lines(error: InputError, state: object) -> list[str]:
    """Every problem; or, when an import wrote them all to a report, the first few,
    the count by cause and where the report is."""
    if error.report_path is None:
        return [str(problem) for problem in error.problems]
    shown = str(error.report_path)
    if isinstance(state, CommandState) and state.workspace is not None:
        shown = state.workspace.display(error.report_path)
    rows = len({problem.line for problem in error.problems})
    return [
        *summary_lines(tally(error.problems)),
        f"Nothing was imported. The {rows} rejected row{'s' * (rows != 1)} (with line, field "
        f"and reason) are in {shown}.",
    ]


def error_line(text: str) -> str:
    """An error as it may be printed: secrets redacted, control characters escaped."""
    return printable(redact(text))


class CommandState:
    """The root options, and the workspace opened lazily by the first command that needs it."""

    def __init__(self, root: Path, debug: bool) -> None:
        self.root = root
        self.debug = debug
        self.workspace: Workspace | None = None

    def open(self) -> Workspace:
        if self.workspace is None:
            self.workspace = Workspace.open(self.root)
        return self.workspace


def pass_workspace(func: F) -> F:
    """Open the workspace (settings now, the database on first use) for a command."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_root().obj
        return func(state.open(), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def now() -> datetime:
    return datetime.now(UTC)


class RateType(click.ParamType):
    """`--rate 120/min` into a Rate, with the accepted forms in the error."""

    name = "rate"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Rate:
        if isinstance(value, Rate):
            return value
        try:
            return parse_rate(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)
