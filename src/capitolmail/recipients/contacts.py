"""Office staff contacts: recipients/offices.csv, one row per person in an office.

Congress publishes no staff email addresses, so every team keeps its own list.
The file is checked as a whole before it is used or replaced: every bad row is
reported with its real line number (comment lines on top included), so a
spreadsheet export is fixed in one pass, and an import that would lose rows
writes nothing unless the user asked for the bad rows to be set aside.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from capitolmail.csv_files import CsvReader, CsvWriter
from capitolmail.errors import CapitolmailError, InputError, Problem, did_you_mean
from capitolmail.recipients.atomic_write import replace_files
from capitolmail.recipients.cells import email_cell, one_line_cells, row_cells
from capitolmail.recipients.import_record import Departure
from capitolmail.recipients.legislators import Roster
from capitolmail.rejections import REPORT_COLUMNS, RejectedRowsReport, report_row
from capitolmail.text_files import SAVE_AS_CSV_UTF8, read_text

COLUMNS = ("bioguide", "email", "name", "role")
# Written by `contacts template` for the person filling the file in; read and ignored.
INFO_COLUMNS = ("member", "office_phone", "office_address")
# The outbox keeps a message's contact role in 100 characters (messages.contact_role).
ROLE_LENGTH = 100
DEFAULT_COMMENT = "# offices.csv: staff contacts in legislators' offices, one row per person."


@dataclass(frozen=True, slots=True)
class OfficeContact:
    """One staff member; `line` is where the row starts in the file, for later errors."""

    bioguide: str
    email: str
    name: str
    role: str
    line: int


@dataclass(frozen=True, slots=True)
class ContactImport:
    """What an import wrote; `problems` are the rows set aside under skip_invalid."""

    written: int
    rejected: int
    rejects_path: Path | None
    problems: tuple[Problem, ...] = ()
    delimiter_note: str | None = None  # "columns separated by ';'" when not commas


@dataclass(frozen=True, slots=True)
class DepartedContact:
    """A contact row of a member `legislators import` found gone: kept, never sent to."""

    contact: OfficeContact
    departure: Departure


@dataclass(frozen=True, slots=True)
class ContactSheet:
    """The usable contacts, and the rows of members no longer serving, in file order."""

    contacts: list[OfficeContact]
    departed: list[DepartedContact]


@dataclass(slots=True)
class _Row:
    line: int
    values: list[str]
    contact: OfficeContact | None = None
    departed: DepartedContact | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class _Sheet:
    comments: list[str]
    header: list[str]
    rows: list[_Row]
    delimiter_note: str | None = None


def load_contacts(path: Path, roster: Roster, *, display_path: str) -> list[OfficeContact]:
    """Every usable contact in file order, or an InputError listing every bad row."""
    return load_contact_sheet(path, roster, display_path=display_path).contacts


def load_contact_sheet(path: Path, roster: Roster, *, display_path: str) -> ContactSheet:
    """The usable contacts and those of members who left, or an InputError listing
    every bad row.

    A row of a member the roster records as departed is not an error: after an
    election a whole contacts file would otherwise refuse every letter until it
    is cleaned up. Such rows are returned apart, so letters skip them and say so.
    """
    sheet = _read(
        path,
        roster,
        display_path,
        missing_hint="run `capitolmail contacts import`",
        keep_departed=True,
    )
    problems = [problem for row in sheet.rows for problem in row.problems]
    if problems:
        raise InputError(problems)
    return ContactSheet(
        [row.contact for row in sheet.rows if row.contact is not None],
        [row.departed for row in sheet.rows if row.departed is not None],
    )


def import_contacts(
    source: Path,
    destination: Path,
    roster: Roster,
    *,
    skip_invalid: bool,
    display_path: str,
    refusal_report: Path | None = None,
) -> ContactImport:
    """Make `source` the workspace's contacts, in canonical form.

    With bad rows, nothing is written unless `skip_invalid`; then the good rows are
    written and the bad ones go to `<stem>.rejects.csv` beside `destination`, with
    their original columns plus line, field and reason, ready to fix and re-import.
    Without it, the bad rows go to `refusal_report` (when given) so a long list of
    problems can be read there. A source with no good row at all is refused, since
    it would empty the list.
    """
    sheet = _read(source, roster, display_path, missing_hint="check the path")
    problems = tuple(problem for row in sheet.rows for problem in row.problems)
    if problems and not skip_invalid:
        raise InputError(problems, report_path=_report_refusal(sheet, refusal_report))
    good = [row.contact for row in sheet.rows if row.contact is not None]
    if not good:
        message = "no valid contact rows" if problems else "no contact rows after the header"
        raise InputError([Problem(display_path, f"{message}; nothing was written")] + [*problems])
    comments = sheet.comments or _leading_comments(destination) or [DEFAULT_COMMENT]
    files = {destination: _contacts_csv(comments, good).encode()}
    rejects_path = None
    bad = [row for row in sheet.rows if row.problems]
    if bad:
        rejects_path = destination.with_name(f"{destination.stem}.rejects.csv")
        files[rejects_path] = _rejects_csv(sheet.header, bad).encode()
    try:
        replace_files(files)
    except OSError as err:
        raise CapitolmailError(f"cannot write {destination}: {err.strerror or err}") from err
    return ContactImport(len(good), len(bad), rejects_path, problems, sheet.delimiter_note)


def _read(
    path: Path, roster: Roster, display: str, *, missing_hint: str, keep_departed: bool = False
) -> _Sheet:
    missing = f"file not found; {missing_hint}"
    text = read_text(path, display, missing=missing, hint=SAVE_AS_CSV_UTF8)
    return _parse(text, roster, display, keep_departed=keep_departed)


def _parse(text: str, roster: Roster, display: str, *, keep_departed: bool = False) -> _Sheet:
    # StringIO with newline="" splits on \n, \r\n and \r only, as csv counts lines.
    reader = CsvReader(io.StringIO(text, newline=""), display)
    if reader.header is None:
        raise InputError(
            [Problem(display, f"no header; the first line must be {','.join(COLUMNS)}")]
        )
    header = [name.strip() for name in reader.header.values]
    _check_header(header, display, reader.header.line)
    rows: list[_Row] = []
    seen: dict[tuple[str, str], int] = {}
    for record in reader:
        row = _Row(record.line, record.values)
        rows.append(_check_row(row, header, roster, display, seen, keep_departed=keep_departed))
    return _Sheet(reader.comments, header, rows, reader.delimiter_note)


def _check_header(header: list[str], display: str, line: int) -> None:
    problems: list[Problem] = []
    expected = ",".join(COLUMNS)
    for name in dict.fromkeys(header):
        if not name:
            message = f"a column has no name (a trailing comma?); the header must be {expected}"
            problems.append(Problem(display, message, line))
        elif name in INFO_COLUMNS or name in REPORT_COLUMNS:
            continue  # a template's details; a rejects report's line, field and reason
        elif name not in COLUMNS:
            hint = did_you_mean(name, COLUMNS)
            message = f'unknown column "{name}"{hint}; the header must be {expected}'
            problems.append(Problem(display, message, line, name or None))
        elif header.count(name) > 1:
            problems.append(Problem(display, f'column "{name}" appears twice', line, name))
    for name in COLUMNS:
        if name not in header:
            message = f'missing column "{name}"; the header must be {expected}'
            problems.append(Problem(display, message, line, name))
    if problems:
        raise InputError(problems)


def _check_row(
    row: _Row,
    header: list[str],
    roster: Roster,
    display: str,
    seen: dict[tuple[str, str], int],
    *,
    keep_departed: bool,
) -> _Row:
    """Check one row; a departed member's row is kept apart (`keep_departed`, when
    reading the workspace's file) or refused (when importing a new one)."""

    def problem(field: str | None, message: str) -> None:
        row.problems.append(Problem(display, message, row.line, field))

    cells = row_cells(row.values, header, problem)
    if cells is None:
        return row
    bioguide = cells["bioguide"].upper()
    legislator = roster.get(bioguide) if bioguide else None
    departure = roster.departure(bioguide) if bioguide and legislator is None else None
    if not bioguide:
        problem("bioguide", "empty; fill in the member's bioguide id, such as S000033")
    elif departure is not None:
        if not keep_departed:
            problem(
                "bioguide",
                f"{departure.describe()} is no longer serving (gone from the legislators "
                f"data imported {departure.noticed}); delete the row",
            )
        else:
            email = email_cell(cells["email"], problem, whose="staff member's")
            if email is not None and not row.problems:
                contact = OfficeContact(bioguide, email, cells["name"], cells["role"], row.line)
                row.departed = DepartedContact(contact, departure)
            return row
    elif legislator is None:
        problem(
            "bioguide",
            f'unknown bioguide id "{cells["bioguide"]}": not a current legislator '
            f"({roster.source}); check it with `capitolmail legislators list` or delete the row",
        )
    email = email_cell(cells["email"], problem, whose="staff member's")
    one_line_cells(cells, ("name",), problem)
    one_line_cells(cells, ("role",), problem, max_length=ROLE_LENGTH)
    if not cells["role"]:
        problem("role", "empty; fill in the role, such as Chief of Staff, or delete the row")
    if row.problems or legislator is None or email is None:
        return row  # a rejected row cannot make a later, valid one a duplicate
    key = (legislator.bioguide, email.casefold())
    if key in seen:
        problem("email", f"same office and email as line {seen[key]}; delete one of them")
    else:
        seen[key] = row.line
        row.contact = OfficeContact(
            legislator.bioguide, email, cells["name"], cells["role"], row.line
        )
    return row


def _leading_comments(path: Path) -> list[str]:
    """The comment lines on top of an existing contacts file, kept across imports."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    comments = []
    for line in io.StringIO(text, newline=""):
        if not line.startswith("#"):
            break
        comments.append(line.rstrip("\r\n"))
    return comments


def _contacts_csv(comments: list[str], contacts: list[OfficeContact]) -> str:
    out = io.StringIO()
    out.write("".join(f"{comment}\n" for comment in comments))
    writer = CsvWriter(out)
    writer.writerow(COLUMNS)
    writer.writerows((c.bioguide, c.email, c.name, c.role) for c in contacts)
    return out.getvalue()


def _rejects_csv(header: list[str], rows: list[_Row]) -> str:
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.writerow([*header, *REPORT_COLUMNS])
    for row in rows:
        writer.writerow(report_row(len(header), row.line, row.values, row.problems))
    return out.getvalue()


def _report_refusal(sheet: _Sheet, path: Path | None) -> Path | None:
    """Write the rows that made an import refuse to `path`; the path, or None."""
    if path is None:
        return None
    with RejectedRowsReport(path, sheet.header) as report:
        for row in sheet.rows:
            if row.problems:
                report.write(row.line, row.values, row.problems)
    return path if report.written else None
