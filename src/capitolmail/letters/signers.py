"""The co-signing organisations of a joint letter, from the letter's `signers.csv`.

Sign-on lists are collected by hand from forms, emails and spreadsheets, so the same
organisation arrives spelled two ways ("The Center for Victims of Torture", "Center for
Victims of Torture "). A Hill office that sees one name twice stops trusting the list,
so duplicates are folded here, once, and each dropped row is reported back to the
person who keeps the CSV. The final order is the one coalition letters use: lead
organisations first, then national, then state and local, each alphabetical.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from capitolmail.csv_files import CsvReader
from capitolmail.errors import InputError, Problem, did_you_mean
from capitolmail.message import has_line_break
from capitolmail.recipients.states import STATE_NAMES, normalise_state
from capitolmail.text_files import SAVE_AS_CSV_UTF8, read_text

COLUMNS = ("organisation", "signatory", "title", "state")
_HEADER_HINT = "the first row after any # comments must be: " + ",".join(COLUMNS)
# Letters and digits of any script; everything else is punctuation or spacing.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Signer:
    """One co-signing organisation, its text already normalised (NFC, single spaces).

    `state` is a USPS code, or None for a national organisation; `line` is the CSV line
    the row started on, kept so later messages can point back at the file.
    """

    organisation: str
    signatory: str | None = None
    title: str | None = None
    state: str | None = None
    line: int = 0
    # Where a signer not from the CSV came from ("sign-on signature 12"); None for a CSV row.
    source: str | None = None

    @property
    def is_national(self) -> bool:
        return self.state is None

    @property
    def state_name(self) -> str | None:
        return None if self.state is None else STATE_NAMES.get(self.state, self.state)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A row dropped because an earlier row names the same organisation.

    Reported rather than silently merged: the dropped row may carry the signatory the
    coalition actually wanted, and only the person keeping the list can tell.
    """

    path: str
    line: int
    organisation: str
    kept_line: int
    kept_organisation: str
    # Set when a row is a sign-on signature rather than a CSV line ("sign-on signature 12").
    source: str | None = None
    kept_source: str | None = None

    def __str__(self) -> str:
        where = self.source or f"{self.path}:{self.line}"
        kept = f"({self.kept_source})" if self.kept_source else f"on line {self.kept_line}"
        what = "signature was merged into it" if self.source else "row was dropped"
        return (
            f'{where}: "{self.organisation}" is the same organisation as '
            f'"{self.kept_organisation}" {kept}; this {what}'
        )


@dataclass(frozen=True, slots=True)
class SignerList:
    """The signers in their final order, plus the three groups that order is made of.

    Templates take the groups (`signer_block` prints a heading per group); everything
    else iterates the list.
    """

    signers: tuple[Signer, ...]
    lead: tuple[Signer, ...]
    national: tuple[Signer, ...]
    state_and_local: tuple[Signer, ...]
    duplicates: tuple[Duplicate, ...] = ()

    def __iter__(self) -> Iterator[Signer]:
        return iter(self.signers)

    def __len__(self) -> int:
        return len(self.signers)


def organisation_key(name: str) -> str:
    """The identity of an organisation's name, for finding the same one spelled twice.

    Case, accents, punctuation, spacing, "&" against "and" and a leading "The" all vary
    between sign-on forms without naming a different organisation.
    """
    return "".join(_words(name))


def _sort_key(signer: Signer) -> tuple[str, str, int]:
    """Alphabetical as a reader expects it: "The Center…" sorts under C, "Éire" under E."""
    return (" ".join(_words(signer.organisation)), signer.organisation.casefold(), signer.line)


def _words(name: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _WORD.findall(plain.replace("&", " and "))
    if len(words) > 1 and words[0] == "the":
        del words[0]
    return words


def _clean(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def load_signers(
    path: Path,
    *,
    display_path: str,
    lead: Sequence[str] = (),
    lead_source: str = "letter.toml",
    signed: Sequence[Signer] = (),
    sign_on: bool = False,
) -> SignerList:
    """Read, check, de-duplicate and order the signers; raise InputError listing every problem.

    `lead` holds the lead organisations' names as letter.toml gives them; they are matched
    with the same key as duplicates, so "the aclu" need not be typed exactly. `signed`
    are the approved sign-on signatures, after the CSV's rows: the same key folds them
    with the CSV and with each other, and the same order places them. A `sign_on`
    letter may have no CSV (or one with no rows): its signers come from the form.
    """
    reader = _Reader(display_path, rows_required=not sign_on)
    rows: list[Signer] = []
    if not (sign_on and not path.is_file()):
        rows = reader.read(_read_lines(path, display_path))
    problems = reader.problems
    kept, duplicates = _fold_duplicates((*rows, *signed), display_path)
    lead_signers = _lead_signers(lead, kept, problems, display_path, lead_source)
    if problems:
        raise InputError(problems)
    rest = sorted((s for s in kept.values() if s not in lead_signers), key=_sort_key)
    national = tuple(s for s in rest if s.is_national)
    state_and_local = tuple(s for s in rest if not s.is_national)
    return SignerList(
        signers=(*lead_signers, *national, *state_and_local),
        lead=tuple(lead_signers),
        national=national,
        state_and_local=state_and_local,
        duplicates=tuple(duplicates),
    )


def _fold_duplicates(
    signers: Sequence[Signer], display_path: str
) -> tuple[dict[str, Signer], list[Duplicate]]:
    """The first signer of each organisation key, and every later one as a Duplicate."""
    kept: dict[str, Signer] = {}
    duplicates: list[Duplicate] = []
    for signer in signers:
        key = organisation_key(signer.organisation)
        first = kept.get(key)
        if first is None:
            kept[key] = signer
            continue
        duplicates.append(
            Duplicate(
                display_path,
                signer.line,
                signer.organisation,
                first.line,
                first.organisation,
                source=signer.source,
                kept_source=first.source,
            )
        )
    return kept, duplicates


def _lead_signers(
    lead: Sequence[str],
    kept: dict[str, Signer],
    problems: list[Problem],
    display_path: str,
    lead_source: str,
) -> list[Signer]:
    """The signers letter.toml names as leads, in its order; a name matching none is a
    problem (with the nearest name), added to `problems`."""
    found: list[Signer] = []
    for raw in lead:
        name = _clean(raw)
        signer = kept.get(organisation_key(name))
        if signer is None:
            hint = did_you_mean(name, [s.organisation for s in kept.values()])
            problems.append(
                Problem(
                    path=lead_source,
                    field="lead_signers",
                    message=f'lead signer "{name}" is not in {display_path}{hint}',
                )
            )
        elif signer not in found:
            found.append(signer)
    return found


def _read_lines(path: Path, display_path: str) -> list[str]:
    """The file's lines with their endings, split only at real line endings.

    `newline=""` keeps a quoted value's embedded line break inside its line for the csv
    module to see (and for us to refuse), instead of translating it away.
    """
    missing = "file not found; create it or fix the signers path in letter.toml"
    text = read_text(path, display_path, missing=missing, hint=SAVE_AS_CSV_UTF8)
    return list(io.StringIO(text, newline=""))


class _Reader:
    """Parses the rows after the comments, collecting every problem rather than stopping."""

    def __init__(self, path: str, *, rows_required: bool = True) -> None:
        self.path = path
        self.rows_required = rows_required
        self.problems: list[Problem] = []

    def problem(self, line: int | None, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(self.path, message, line, field))

    def read(self, lines: list[str]) -> list[Signer]:
        reader = CsvReader(lines, self.path)
        if reader.header is None:
            self.problem(None, f"no signers; {_HEADER_HINT}")
            return []
        columns = self.header(reader.header.values, reader.header.line)
        if columns is None:
            return []
        signers: list[Signer] = []
        seen_rows = False
        for record in reader:
            seen_rows = True
            signer = self.row(record.values, columns, record.line)
            if signer is not None:
                signers.append(signer)
        if not seen_rows and self.rows_required:
            self.problem(None, "no signers; add one organisation per row under the header")
        return signers

    def header(self, cells: list[str], line: int) -> list[str | None] | None:
        """Column names by position (None for an unusable column), or None without organisation."""
        columns: list[str | None] = []
        for number, cell in enumerate(cells, start=1):
            name = _clean(cell).lower()
            if has_line_break(cell):
                self.problem(line, "a line break inside a column name is not allowed")
            elif not name:
                self.problem(line, f"column {number} has no name; name it or delete it")
            elif name not in COLUMNS:
                self.problem(
                    line,
                    f'unknown column "{cell.strip()}"{did_you_mean(name, COLUMNS)}; '
                    f"the columns are {', '.join(COLUMNS)}",
                )
            elif name in columns:
                self.problem(line, f'column "{name}" appears twice; delete one')
            else:
                columns.append(name)
                continue
            columns.append(None)
        if "organisation" not in columns:
            self.problem(line, f'missing column "organisation"; {_HEADER_HINT}')
            return None
        return columns

    def row(self, row: list[str], columns: list[str | None], line: int) -> Signer | None:
        """One Signer, or None after recording why the row cannot be one."""
        if len(row) != len(columns):
            self.problem(
                line,
                f"row has {len(row)} values but the header has {len(columns)} columns; "
                'put values that contain a comma in double quotes (")',
            )
            return None
        before = len(self.problems)
        values: dict[str, str] = {}
        for column, cell in zip(columns, row, strict=True):
            if has_line_break(cell):
                message = (
                    'a line break inside a value is not allowed; check for an unclosed quote (")'
                )
                self.problem(line, message, column)
            elif column is not None:
                values[column] = _clean(cell)
        organisation = values.get("organisation")
        if organisation == "":
            message = 'column "organisation" is empty; fill it in or delete the row'
            self.problem(line, message, "organisation")
        state = self.state(values.get("state"), line)
        if len(self.problems) > before or not organisation:
            return None
        return Signer(
            organisation=organisation,
            signatory=values.get("signatory") or None,
            title=values.get("title") or None,
            state=state,
            line=line,
        )

    def state(self, value: str | None, line: int) -> str | None:
        if not value:
            return None
        code = normalise_state(value)
        if code is None:
            names = [*STATE_NAMES, *STATE_NAMES.values()]
            self.problem(
                line,
                f'unknown state "{value}"{did_you_mean(value, names)}; use a USPS code such as '
                '"OR" or the state\'s name, or leave it empty for a national organisation',
                "state",
            )
        return code
