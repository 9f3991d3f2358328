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
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Protocol

from capitolmail.csv_files import CsvReader
from capitolmail.errors import InputError, InvalidZip, Problem, did_you_mean
from capitolmail.message import control_character
from capitolmail.outbox import SupporterRecord, UpsertCounts, email_key
from capitolmail.recipients.addresses import normalised_address
from capitolmail.recipients.column_names import SUPPORTER_ALIASES, ColumnChoice, choose_columns
from capitolmail.recipients.states import STATE_NAMES, normalise_state, state_name
from capitolmail.recipients.zipcodes import district_numbers, districts_for_zip
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

_YES = frozenset({"yes", "y", "true", "t", "1"})
_NO = frozenset({"no", "n", "false", "f", "0", ""})
_AT_LARGE = frozenset({"al", "at-large", "at large", "atlarge"})
_TAG_SEPARATORS = str.maketrans({"|": ";"})

# problem(field, message): how a check reports what is wrong with the row.
_Complain = Callable[[str | None, str], None]


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


@dataclass(slots=True)
class _Row:
    line: int
    values: list[str]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


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
    read = new = updated = merged = rejected = warned = 0
    batch: list[SupporterRecord] = []
    problems = Tally()
    first_warnings: list[Problem] = []

    def flush() -> None:
        nonlocal new, updated, merged
        counts = store.upsert_supporters(batch, import_id=import_id, now=now)
        new, updated, merged = new + counts.new, updated + counts.updated, merged + counts.merged
        batch.clear()
        if on_batch is not None:
            on_batch(read)

    with _open(path, display) as handle, RejectedRowsReport(report_path, header) as report:
        for record in _reader(handle, display):
            row = _Row(record.line, record.values)
            read += 1
            record = _check_row(row, fields, display, now)
            if record is None:
                rejected += 1
                report.write(row.line, row.values, row.problems)
                problems.add(row.problems)
            else:
                if row.warnings:
                    warned += 1
                    first_warnings.extend(row.warnings[: KEPT_PROBLEMS - len(first_warnings)])
                batch.append(record)
                if len(batch) >= BATCH:
                    flush()
        if batch:
            flush()
    return SupporterImport(
        read=read,
        new=new,
        updated=updated,
        merged=merged,
        rejected=rejected,
        report_path=report_path if rejected else None,
        ignored_columns=columns.ignored,
        renamed_columns=columns.renamed,
        delimiter_note=structure.delimiter_note,
        first_problems=tuple(problems.first),
        problem_causes=problems.by_cause(),
        warned=warned,
        first_warnings=tuple(first_warnings),
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


# -- checking one row -------------------------------------------------------------------------


def _check_row(row: _Row, fields: list[str], display: str, now: datetime) -> SupporterRecord | None:
    """The row as a record, or None with `row.problems` saying why."""

    def problem(name: str | None, message: str) -> None:
        row.problems.append(Problem(display, message, row.line, name))

    def warn(name: str | None, message: str) -> None:
        row.warnings.append(Problem(display, message, row.line, name))

    if len(row.values) != len(fields):
        problem(
            None,
            f"row has {len(row.values)} fields but the header has {len(fields)}; "
            "quote values that contain commas",
        )
        return None
    cells = {name: value.strip() for name, value in zip(fields, row.values, strict=True) if name}

    email = None
    if not cells["email"]:
        problem("email", "empty; fill in the supporter's address or delete the row")
    else:
        try:
            email = normalised_address(cells["email"])
        except ValueError as err:
            problem("email", f"{err}; correct it")
    for name in ("first_name", "last_name"):
        if "\r" in cells[name] or "\n" in cells[name]:
            problem(name, "contains a line break; put it on one line")
        elif found := control_character(cells[name]):
            problem(name, f"contains a control character, {found}; remove it")

    consent, consent_at = _check_consent(cells["consent"], now, problem)
    before = len(row.problems)
    postal_code, candidates = _check_postal_code(cells["postal_code"], problem)
    state = _check_state(cells.get("state", ""), problem)
    district = None
    if len(row.problems) == before:  # locate only from a valid ZIP and state
        state, district = _locate(
            state, cells.get("district", ""), postal_code, candidates, problem, warn
        )
    if row.problems or email is None:
        return None
    return SupporterRecord(
        email=email,
        email_key=email_key(email),
        first_name=cells["first_name"],
        last_name=cells["last_name"],
        postal_code=postal_code,
        state=state,
        district=district,
        consent=consent,
        consent_at=consent_at,
        tags=_tags(cells.get("tags", "")),
    )


def _check_postal_code(text: str, problem: _Complain) -> tuple[str | None, list[tuple[str, int]]]:
    """The ZIP as stored ("02134" or "02134-1234") and its district candidates."""
    if not text:
        return None, []
    try:
        candidates = districts_for_zip(text)
    except InvalidZip as err:
        problem("postal_code", f"{err}; correct it")
        return None, []
    digits = text.replace("-", "")
    return (f"{digits[:5]}-{digits[5:]}" if len(digits) == 9 else digits), candidates


def _check_state(text: str, problem: _Complain) -> str | None:
    if not text:
        return None
    code = normalise_state(text)
    if code is None:
        hint = did_you_mean(text, [*STATE_NAMES, *STATE_NAMES.values()])
        problem("state", f'unknown state "{text}"{hint}; use a USPS code such as NY')
    return code


def _check_consent(text: str, now: datetime, problem: _Complain) -> tuple[bool, datetime | None]:
    """An opt-in date (consent since then) or a yes/no flag; empty means no consent.

    A date is midnight UTC of that day; a time without an offset is taken as UTC.
    """
    folded = text.casefold()
    if folded in _YES:
        return True, None
    if folded in _NO:
        return False, None
    try:
        if len(text) == 10:
            at = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        else:
            at = datetime.fromisoformat(text)
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except ValueError:
        problem(
            "consent",
            f'"{text}" is neither an opt-in date (such as 2025-03-01) nor yes/no; correct it',
        )
        return False, None
    if at > now:
        problem("consent", f'opt-in date "{text}" is in the future; correct it')
        return False, None
    return True, at


def _locate(
    state: str | None,
    district_text: str,
    postal_code: str | None,
    candidates: list[tuple[str, int]],
    problem: _Complain,
    warn: _Complain,
) -> tuple[str | None, int | None]:
    """State and district: as given, else from the ZIP when it settles them, else None.

    A given state must agree with a known ZIP (states do not move). A given
    district is kept even when the crosswalk disagrees: a newer map may be right.
    A row whose state stays unknown is imported with a warning: it is not wrong,
    but an alert to that supporter can name no senator and no representative.
    """
    zip_states = sorted({code for code, _ in candidates})
    if state is not None and zip_states and state not in zip_states:
        problem(
            "state",
            f"ZIP {postal_code} is in {' or '.join(zip_states)}, not {state}; "
            "correct the ZIP or the state",
        )
        return None, None
    if state is None and len(zip_states) == 1:
        state = zip_states[0]
    if state is None and postal_code is None:
        problem("postal_code", "empty; fill in the supporter's ZIP code (or their state)")
        return None, None
    if state is None:
        where = (
            f"lies in {' and '.join(zip_states)}"
            if zip_states
            else "is not in the ZIP-to-district crosswalk"
        )
        warn(
            "postal_code",
            f"ZIP {postal_code} {where}, so this supporter's senators and representative are "
            "unknown and an alert names nobody; fill in the state (and district) column",
        )
    if not district_text:
        in_state = [number for code, number in candidates if code == state]
        if state is not None and not in_state and len(district_numbers(state)) > 1:
            warn(
                "postal_code",
                f"ZIP {postal_code} is not in the ZIP-to-district crosswalk for {state}, so "
                "this supporter's representative is unknown; fill in the district column",
            )
        return state, in_state[0] if len(in_state) == 1 else None
    if state is None:
        problem("district", "a district needs a state; fill in the state column")
        return None, None
    numbers = district_numbers(state)
    if district_text.casefold() in _AT_LARGE and len(numbers) == 1:
        return state, 0
    if not district_text.isdigit():
        problem("district", f'"{district_text}" is not a district number; correct it')
        return None, None
    district = int(district_text)
    if district not in numbers:
        if len(numbers) == 1:
            message = f"{state_name(state)} has one at-large seat, district 0; write 0"
        else:
            message = f"{state_name(state)} has districts 1 to {numbers[-1]}, not {district}"
        problem("district", f"{message} or leave it empty")
        return None, None
    return state, district


def _tags(text: str) -> tuple[str, ...]:
    """Tags separated by ";" or "|", trimmed, without empties or repeats, in order."""
    parts = (part.strip() for part in text.translate(_TAG_SEPARATORS).split(";"))
    return tuple(dict.fromkeys(part for part in parts if part))
