"""CSV as people's spreadsheets make and open it: the one reader and the one writer.

Every CSV capitolmail reads (offices, signers, supporters, suppressions) goes through
`CsvReader` and every CSV it writes (the rewritten offices.csv, rejected-rows reports,
`legislators list --format csv`, `contacts template`) through `CsvWriter`, so the two
rules below hold everywhere at once.

Reading: Excel writes `;` between columns where the decimal separator is a comma, and
"Unicode text" exports use tabs. The delimiter is taken from the header line (the one
of `,` `;` tab that splits it into the most columns, comma on a tie), or from Excel's
`sep=;` first line. Comment and blank lines above the header are kept aside, and each
row carries the line it starts on, so errors point at the file as the user sees it.

Writing: a cell that starts with `=`, `+`, `-` or `@` (also after spaces), or with a
tab or carriage return, is a formula to Excel and LibreOffice: a name such as
`=HYPERLINK(...)` in a report would run when a staffer opens it. Such a cell is
written with a leading `'` (OWASP's CSV-injection advice), which spreadsheets show
as text. So that what was read stays recoverable, the reader takes that one `'` off
again: a cell read as `'` followed by a formula start (or by another such guarded
value) is read without the quote. Round trip: reading what we wrote gives the
original value exactly. defusedcsv does the writing half, but it also rewrites `|`
inside the cell, which a reader cannot tell from the user's own text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from capitolmail.errors import InputError, Problem

DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tabs"}
_FORMULA_STARTS = ("=", "+", "-", "@")
_ALWAYS_GUARDED = ("\t", "\r")
_GUARD = "'"
_SEP_LINE = re.compile(r"^sep=(.)\r?\n?$", re.IGNORECASE)


# -- the guard --------------------------------------------------------------------------------


def needs_guard(value: str) -> bool:
    """True when a spreadsheet could take `value` for a formula, or when it already
    looks like a guarded cell (so that the reader's unguarding gives it back whole).

    A cell that starts with a letter or a digit, as most do, is answered at once: none
    of the characters that start a guard is one (a report writes millions of cells)."""
    if not value or value[0].isalnum():
        return False
    rest = value.lstrip(_GUARD)
    return rest.startswith(_ALWAYS_GUARDED) or rest.lstrip().startswith(_FORMULA_STARTS)


def guard_cell(value: object) -> str:
    """The cell as it is safe to write: `'=SUM(1+1)` for `=SUM(1+1)`; None is empty."""
    text = "" if value is None else str(value)
    return _GUARD + text if needs_guard(text) else text


def unguard_cell(text: str) -> str:
    """The value a guarded cell stands for; any other cell unchanged."""
    if text.startswith(_GUARD) and needs_guard(text[1:]):
        return text[1:]
    return text


# -- writing ----------------------------------------------------------------------------------


class CsvWriter:
    """csv.writer with every cell guarded; lines end in \\n, as the tool's files always have."""

    def __init__(self, handle: IO[str]) -> None:
        self._writer = csv.writer(handle, lineterminator="\n")
        # csv quotes a cell holding "\n" (the line terminator) but not one holding a
        # bare "\r", which a reader then takes for a line end: such rows are quoted whole.
        self._quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[object]) -> None:
        cells = [guard_cell(value) for value in row]
        writer = self._quoted if any("\r" in cell for cell in cells) else self._writer
        writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One record: `line` is where it starts in the file (a quoted value may span lines)."""

    line: int
    values: list[str]

    @property
    def blank(self) -> bool:
        """An empty line, or the ",,," rows spreadsheets leave behind."""
        return not any(value.strip() for value in self.values)


class CsvReader:
    """The header and then the non-blank rows of a CSV given as lines with their endings.

    Lines are consumed lazily, so a million-row supporter file streams. Raises
    InputError at the line where the csv module gives up (a runaway quote).
    """

    def __init__(self, lines: Iterable[str], display: str) -> None:
        self.display = display
        self.comments: list[str] = []
        self.delimiter = ","
        self._lines = iter(lines)
        self._line = 0  # lines consumed so far
        self.header: CsvRow | None = None
        first = self._skip_preamble()
        if first is not None:
            self._records = self._parse(first)
            self.header = next(self._records, None)

    @property
    def delimiter_note(self) -> str | None:
        """ "columns separated by ';'" when the file does not use commas, for the summary."""
        if self.delimiter == ",":
            return None
        return f"columns separated by {_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}"

    def __iter__(self) -> Iterator[CsvRow]:
        if self.header is None:
            return
        for row in self._records:
            if not row.blank:
                yield row

    def _next_line(self) -> str | None:
        text = next(self._lines, None)
        if text is not None:
            self._line += 1
        return text

    def _skip_preamble(self) -> str | None:
        """The header's first line, after `#` comments, blank lines and a `sep=` line."""
        while (text := self._next_line()) is not None:
            if text.lstrip().startswith("#"):
                self.comments.append(text.rstrip("\r\n"))
            elif text.strip():
                match = _SEP_LINE.match(text)
                if match is None:
                    self.delimiter = detect_delimiter(text)
                    return text
                self.delimiter = match.group(1)
        return None

    def _parse(self, first: str) -> Iterator[CsvRow]:
        start_offset = self._line - 1  # lines before the header

        def rest() -> Iterator[str]:
            yield first
            while (text := self._next_line()) is not None:
                yield text

        reader = csv.reader(rest(), delimiter=self.delimiter)
        end = 0
        while True:
            start = start_offset + end + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                message = f"not valid CSV ({err}); fix this line and try again"
                raise InputError([Problem(self.display, message, start)]) from err
            end = reader.line_num
            yield CsvRow(start, [unguard_cell(value) for value in values])


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the most columns; comma on a tie."""
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        try:
            count = len(next(csv.reader([header_line], delimiter=delimiter), []))
        except csv.Error:
            continue
        if count > best_count:
            best, best_count = delimiter, count
    return best


def rows_text(rows: Sequence[Sequence[object]]) -> str:
    """Rows as CSV text through the guarded writer (for small files written at once)."""
    out = io.StringIO()
    CsvWriter(out).writerows(rows)
    return out.getvalue()
