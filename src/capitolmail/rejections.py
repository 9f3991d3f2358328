"""Rejected rows: the report file that lists them all, and the dozen lines the terminal shows.

A CRM export with one systematic mistake rejects hundreds of rows for one cause;
printing a line per row buries the cause and the way out. The terminal gets the
first few problems (each still `file:line: field: message`), the count by cause,
and the path of the report, which has every rejected row with its original
values plus line, field and reason, ready to fix and import again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from capitolmail.csv_files import CsvWriter
from capitolmail.errors import CapitolmailError, Problem

SHOWN = 10
REPORT_COLUMNS = ("line", "field", "reason")
_QUOTED = re.compile(r'"[^"]*"')
_NUMBER = re.compile(r"\d+")


def cause(problem: Problem) -> str:
    """The problem without what differs from row to row: quoted values and numbers."""
    message = _NUMBER.sub("N", _QUOTED.sub('"…"', problem.message))
    return f"{problem.field}: {message}" if problem.field else message


class Tally:
    """The first SHOWN problems and a count of every problem by cause."""

    def __init__(self) -> None:
        self.first: list[Problem] = []
        self.causes: Counter[str] = Counter()

    def add(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            if len(self.first) < SHOWN:
                self.first.append(problem)
            self.causes[cause(problem)] += 1

    @property
    def total(self) -> int:
        return sum(self.causes.values())

    def by_cause(self) -> tuple[tuple[str, int], ...]:
        return tuple(self.causes.most_common())


def tally(problems: Iterable[Problem]) -> Tally:
    counted = Tally()
    counted.add(problems)
    return counted


def summary_lines(counted: Tally, *, prefix: str = "") -> list[str]:
    """The first problems, then (when some were left out) how many more and the causes."""
    lines = [f"{prefix}{problem}" for problem in counted.first]
    hidden = counted.total - len(counted.first)
    if hidden > 0:
        lines.append(f"… and {hidden} more problem{'s' * (hidden != 1)}. Problems by cause:")
        lines += [f"  {count} × {text}" for text, count in counted.by_cause()]
    return lines


def report_row(width: int, line: int, values: Sequence[str], problems: Sequence[Problem]) -> list:
    """A rejected row as the report has it: its values (padded or cut to the header),
    then line, the fields at fault and the reasons."""
    cells: list[object] = [*(list(values) + [""] * width)[:width]]
    fields = "; ".join(dict.fromkeys(p.field for p in problems if p.field))
    reason = "; ".join(p.message for p in problems)
    return [*cells, line, fields, reason]


class RejectedRowsReport:
    """The report CSV, written as rows are rejected; the file is created on the first."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self._header = list(header)
        self._handle: IO[str] | None = None
        self._writer: CsvWriter | None = None

    def write(self, line: int, values: Sequence[str], problems: Sequence[Problem]) -> None:
        if self._writer is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("w", encoding="utf-8", newline="")
            except OSError as err:
                raise CapitolmailError(
                    f"cannot write the report {self.path}: {err.strerror or err}"
                ) from err
            self._writer = CsvWriter(self._handle)
            self._writer.writerow([*self._header, *REPORT_COLUMNS])
        self._writer.writerow(report_row(len(self._header), line, values, problems))

    @property
    def written(self) -> bool:
        return self._writer is not None

    def __enter__(self) -> RejectedRowsReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
