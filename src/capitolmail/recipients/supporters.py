"""Supporters: importing recipients/supporters.csv (or any CRM export) into the outbox database.

Supporter lists are large (hundreds of thousands of rows) and never clean, so the
import differs from `contacts import` on purpose: it streams the file and writes
it in batches, so a million rows need no more memory than a thousand; and a bad
row does not stop the others. Every rejected row goes to a report CSV with its
line, field and reason beside its original values, ready to fix and import again.
Only a broken file (a missing column, bytes that are not UTF-8, a runaway quote)
is refused as a whole, before anything is written: the file is read once for
structure, then once to import.

Addresses are validated and normalised by email-validator (no DNS lookups) and
keyed by `outbox.email_key` of the normalised form, the same key messages and
the suppression list use. Two rows with one key are merged (the later row's
values win, tags are unioned); a re-import updates rows instead of adding them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from capitolmail.csv_files import CsvReader
from capitolmail.errors import InputError, Problem, did_you_mean
from capitolmail.outbox import SupporterRecord, UpsertCounts
from capitolmail.recipients.column_names import SUPPORTER_ALIASES, ColumnChoice, choose_columns
from capitolmail.recipients.supporter_rows import SupporterRow, check_row
from capitolmail.rejections import RejectedRowsReport, Tally
from capitolmail.text_files import SAVE_AS_CSV_UTF8, not_utf8

REQUIRED_COLUMNS = ("email", "first_name", "last_name", "postal_code", "consent")
OPTIONAL_COLUMNS = ("state", "district", "tags")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# Rows per upsert (and per transaction): small enough that the sender, sharing a
# SQLite file, waits a few milliseconds at most between batches.
BATCH = 1000
# Warnings kept in memory for the summary.
KEPT_PROBLEMS = 10


@dataclass(frozen=True, slots=True)
class SupporterImport:
    """What an import did. `read` = new + updated + merged + rejected.

    `new` rows were not in the database, `updated` ones were (from an earlier
    import), `merged` ones repeated an address already read from this file.
    """

    read: int
    new: int
    updated: int
    merged: int
    rejected: int
    report_path: Path | None
    ignored_columns: tuple[str, ...] = ()
    # (our column, the file's name for it) where they differ, and the delimiter if not ",".
    renamed_columns: tuple[tuple[str, str], ...] = ()
    delimiter_note: str | None = None
    # The first few problems, for the terminal, and every problem counted by cause;
    # the report holds every row.
    first_problems: tuple[Problem, ...] = ()
    problem_causes: tuple[tuple[str, int], ...] = ()
    # Rows imported whose members of Congress are not known from the row (a ZIP not in
    # the crosswalk, or one across a state line): their alerts cannot name everyone.
    warned: int = 0
    first_warnings: tuple[Problem, ...] = ()

    @property
    def imported(self) -> int:
        """Distinct supporters written: new plus updated."""
        return self.new + self.updated


class SupporterBatches(Protocol):
    """What an import needs of the outbox (`outbox.Store` provides it): one call per
    batch, each its own transaction, so a long file never holds the database."""

    def upsert_supporters(
        self, records: Sequence[SupporterRecord], *, import_id: str, now: datetime
    ) -> UpsertCounts: ...


def import_supporters(
    store: SupporterBatches,
    path: Path,
    report_path: Path,
    now: datetime,
    *,
    display_path: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    column_map: Mapping[str, str] | None = None,
) -> SupporterImport:
    """Import the supporters in `path`, upserting by normalised address.

    Rejected rows are written to `report_path` (created only when a row is
    rejected). `on_batch(rows_read)` is called after each batch is written, for a
    progress display. Raises InputError, with nothing written, when a required
    column is missing or the file is not valid UTF-8 CSV.
    """
    display = display_path or str(path)
    structure, columns = _check_file(path, display, column_map or {})
    assert structure.header is not None  # checked
    header, fields = structure.header.values, columns.fields
    import_id = str(uuid.uuid4())
    counts = _Counts()
    batch: list[SupporterRecord] = []

    def flush() -> None:
        counts.written(store.upsert_supporters(batch, import_id=import_id, now=now))
        batch.clear()
        if on_batch is not None:
            on_batch(counts.read)

    with _open(path, display) as handle, RejectedRowsReport(report_path, header) as report:
        for record in _reader(handle, display):
            row = SupporterRow(record.line, record.values)
            counts.read += 1
            supporter = check_row(row, fields, display, now)
            if supporter is None:
                counts.reject(row)
                report.write(row.line, row.values, row.problems)
            else:
                counts.accept(row)
                batch.append(supporter)
                if len(batch) >= BATCH:
                    flush()
        if batch:
            flush()
    return counts.summary(report_path if counts.rejected else None, columns, structure)


@dataclass(slots=True)
class _Counts:
    """What an import has done so far; `summary` turns it into a SupporterImport."""

    read: int = 0
    new: int = 0
    updated: int = 0
    merged: int = 0
    rejected: int = 0
    warned: int = 0
    problems: Tally = field(default_factory=Tally)
    first_warnings: list[Problem] = field(default_factory=list)

    def written(self, counts: UpsertCounts) -> None:
        self.new += counts.new
        self.updated += counts.updated
        self.merged += counts.merged

    def reject(self, row: SupporterRow) -> None:
        self.rejected += 1
        self.problems.add(row.problems)

    def accept(self, row: SupporterRow) -> None:
        if row.warnings:
            self.warned += 1
            self.first_warnings.extend(row.warnings[: KEPT_PROBLEMS - len(self.first_warnings)])

    def summary(
        self, report_path: Path | None, columns: ColumnChoice, structure: CsvReader
    ) -> SupporterImport:
        return SupporterImport(
            read=self.read,
            new=self.new,
            updated=self.updated,
            merged=self.merged,
            rejected=self.rejected,
            report_path=report_path,
            ignored_columns=columns.ignored,
            renamed_columns=columns.renamed,
            delimiter_note=structure.delimiter_note,
            first_problems=tuple(self.problems.first),
            problem_causes=self.problems.by_cause(),
            warned=self.warned,
            first_warnings=tuple(self.first_warnings),
        )


# -- reading the file ------------------------------------------------------------------------


def _open(path: Path, display: str) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError([Problem(display, "file not found; check the path")]) from None
    except OSError as err:
        raise InputError([Problem(display, f"cannot read it: {err.strerror}")]) from err


def _lines(handle: IO[bytes], display: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, decoded one at a time so that bytes
    that are not UTF-8 are reported on their own line."""
    offset = 0
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            problem = not_utf8(
                raw, err, display, hint=SAVE_AS_CSV_UTF8, first_line=number, offset=offset
            )
            raise InputError([problem]) from None
        offset += len(raw)
        yield number, text


def _reader(handle: IO[bytes], display: str) -> CsvReader:
    """The file's header and rows; comment, blank and ",,," lines skipped, as in offices.csv."""
    return CsvReader((text for _, text in _lines(handle, display)), display)


def _check_file(
    path: Path, display: str, column_map: Mapping[str, str]
) -> tuple[CsvReader, ColumnChoice]:
    """The header and its columns, after reading the whole file once for structure:
    nothing is written from a file that would fail half-way."""
    with _open(path, display) as handle:
        reader = _reader(handle, display)
        if reader.header is None:
            expected = ",".join(COLUMNS)
            raise InputError([Problem(display, f"no header; the first line must be {expected}")])
        choice = _check_header(reader.header.values, display, reader.header.line, column_map)
        for _ in reader:
            pass
    return reader, choice


def _check_header(
    header: list[str], display: str, line: int, column_map: Mapping[str, str]
) -> ColumnChoice:
    choice = choose_columns(header, SUPPORTER_ALIASES, column_map, display=display, line=line)
    problems: list[Problem] = []
    for name in REQUIRED_COLUMNS:
        if name not in choice.used:
            hint = did_you_mean(name, choice.ignored) if choice.ignored else ""
            message = (
                f'missing column "{name}"{hint}; the header needs {",".join(REQUIRED_COLUMNS)} '
                f"(and may have {','.join(OPTIONAL_COLUMNS)}), or name it with "
                f'--map {name}="…"; nothing was imported'
            )
            problems.append(Problem(display, message, line, name))
    if problems:
        raise InputError(problems)
    return choice
