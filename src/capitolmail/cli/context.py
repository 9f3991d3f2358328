"""What every command shares: the error-printing group, the workspace, typed options.

Errors from the core arrive as CapitolmailError and are printed by
CapitolmailGroup, once, as `Error: …` on stderr with exit code 1; tracebacks
only under --debug. That is the one place every error is printed, so it is where
secrets are redacted and control characters escaped: a value quoted in an error
(an address with CR/LF in it, a relay's reply) stays on the error's one line."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from capitolmail.errors import CapitolmailError, InputError
from capitolmail.printable import printable
from capitolmail.redaction import redact
from capitolmail.rejections import summary_lines, tally
from capitolmail.timing.rate import Rate, parse_rate

if TYPE_CHECKING:
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
            # Imported here: the settings and the outbox are not needed to print help.
            from capitolmail.workspace import Workspace

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


# jobs.id is a 32-bit INTEGER in PostgreSQL; a larger number cannot name a job.
MAX_JOB_ID = 2**31 - 1
# Longer digit strings are out of every range here, and int() of thousands of digits is slow.
_MAX_DIGITS = 20
_WHOLE = re.compile(r"[+-]?[0-9]+")


def _label(param: click.Parameter | None) -> str:
    """How an error names the parameter: --limit, or JOB."""
    if isinstance(param, click.Option):
        return param.opts[0]
    if param is not None and param.name:
        return param.name.upper()
    return "value"


def _shown(value: object) -> str:
    """A value as an error may quote it: one line, short."""
    text = str(value).encode("unicode_escape").decode("ascii")
    return text if len(text) <= 40 else f"{text[:37]}..."


class WholeNumber(click.ParamType):
    """An integer argument or option, range-checked before any database sees it.

    A failure is a CapitolmailError, so it is one `Error:` line and exit 1, like
    every other input error (click's own usage errors stay exit 2): never the
    OverflowError SQLite raises for an id past 64 bits.
    """

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        label = _label(param)
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not _WHOLE.fullmatch(text):
                raise CapitolmailError(f'{label}: "{_shown(value)}" is not a whole number')
            number = int(text) if len(text) <= _MAX_DIGITS else self.high + 1
        if not self.low <= number <= self.high:
            raise self.out_of_range(label, str(value).strip())
        return number

    def out_of_range(self, label: str, text: str) -> CapitolmailError:
        return CapitolmailError(
            f"{label}: {_shown(text)} is out of range; give a whole number from "
            f"{self.low} to {self.high}"
        )


class JobNumber(WholeNumber):
    """A job id: a number that cannot be one is a job that does not exist."""

    name = "job"

    def __init__(self) -> None:
        super().__init__(1, MAX_JOB_ID)

    def out_of_range(self, label: str, text: str) -> CapitolmailError:
        return CapitolmailError(f'no job {_shown(text)}; "capitolmail status" lists the jobs')


class Seconds(click.ParamType):
    """A finite number of seconds in [low, high]: `nan` and `inf` pass click's FloatRange."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        label = _label(param)
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise CapitolmailError(
                f'{label}: "{_shown(value)}" is not a number of seconds'
            ) from None
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise CapitolmailError(
                f"{label}: {_shown(value)} is out of range; give seconds from "
                f"{self.low:g} to {self.high:g}"
            )
        return number
