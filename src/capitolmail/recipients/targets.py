"""Recipients beyond Congress: recipients/targets.csv, read when a letter names them.

Like recipients/offices.csv, the file lives in the workspace (and in the team's
git) and is read whole, and checked whole, each time a letter that names a target
is checked, previewed or queued; there is no import step, because a few dozen rows
typed by hand are easier to review as a file than as database rows. A joint
letter's `[audience]` names targets by id or tag beside its offices; an alert's
`[alert]` table names the targets its supporters are asked to contact.

Column names are matched as supporter exports are (column_names.py): "Organisation",
"Postal Address" and "Email Address" are accepted, a column the file does not know
is refused with a suggestion, so a typo never drops every salutation.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from capitolmail.csv_files import CsvReader
from capitolmail.errors import InputError, Problem, did_you_mean
from capitolmail.recipients.cells import row_cells
from capitolmail.recipients.column_names import EMAIL_ALIASES, choose_columns
from capitolmail.recipients.target_rows import Target, check_target
from capitolmail.text_files import SAVE_AS_CSV_UTF8, read_text
from capitolmail.workspace_paths import workspace_file

__all__ = ["TARGETS_FILE", "Target", "TargetBook", "load_targets", "workspace_targets"]

TARGETS_FILE = Path("recipients") / "targets.csv"
TARGETS_DISPLAY = TARGETS_FILE.as_posix()
REQUIRED = ("id", "name", "title", "organization", "email", "salutation", "address", "tags")
OPTIONAL = ("contact_url", "phone")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("target id", "target"),
    "name": ("full name",),
    "title": ("position", "job title"),
    "organization": ("organisation", "agency", "department", "office"),
    "email": EMAIL_ALIASES,
    "salutation": ("greeting", "dear"),
    "address": ("postal address", "mailing address", "street address"),
    "tags": ("tag", "groups"),
    "contact_url": ("contact form", "contact page", "url", "web form"),
    "phone": ("telephone", "phone number"),
}


@dataclass(frozen=True, slots=True)
class TargetBook:
    """Every target of the file in file order, found by id or by tag."""

    targets: tuple[Target, ...]
    display: str

    def get(self, target_id: str) -> Target | None:
        wanted = target_id.strip().casefold()
        return next((t for t in self.targets if t.id == wanted), None)

    @property
    def tags(self) -> list[str]:
        return list(dict.fromkeys(tag for t in self.targets for tag in t.tags))

    def select(
        self, ids: Sequence[str], tags: Sequence[str], *, source: str, section: str
    ) -> list[Target]:
        """The targets `ids` and `tags` name, once each, in file order.

        Every unknown id or tag is a problem at `source` (the letter file), with the
        closest known one suggested: a target missing from a letter is not noticed
        until the office that should have had it calls.
        """
        problems: list[Problem] = []
        known_ids = [t.id for t in self.targets]
        for wanted in ids:
            if self.get(wanted) is None:
                problems.append(
                    Problem(
                        source,
                        _unknown("target", wanted, known_ids, self.display),
                        field=f"{section}.targets",
                    )
                )
        known_tags = self.tags
        for tag in tags:
            if tag.strip().casefold() not in known_tags:
                message = _unknown("target tag", tag, known_tags, self.display)
                problems.append(Problem(source, message, field=f"{section}.target_tags"))
        if problems:
            raise InputError(problems)
        id_set = {wanted.strip().casefold() for wanted in ids}
        tag_set = {tag.strip().casefold() for tag in tags}
        return [t for t in self.targets if t.id in id_set or tag_set.intersection(t.tags)]


def _unknown(what: str, wanted: str, known: Iterable[str], display: str) -> str:
    known = list(known)
    hint = did_you_mean(wanted.strip().casefold(), known)
    listing = ", ".join(known[:8]) + (", …" if len(known) > 8 else "") if known else "none"
    return f'unknown {what} "{wanted}"{hint}; {display} has: {listing}'


def workspace_targets(root: Path) -> TargetBook:
    """The workspace's recipients/targets.csv, checked (a link out of it is refused)."""
    return load_targets(workspace_file(root, TARGETS_FILE), display_path=TARGETS_DISPLAY)


def load_targets(path: Path, *, display_path: str) -> TargetBook:
    """Every target in file order, or an InputError naming every bad row and field."""
    missing = (
        "file not found; a letter that names targets needs it (columns: "
        f"{','.join(REQUIRED)}; see the README's Recipients beyond Congress)"
    )
    text = read_text(path, display_path, missing=missing, hint=SAVE_AS_CSV_UTF8)
    reader = CsvReader(io.StringIO(text, newline=""), display_path)
    if reader.header is None:
        message = f"no header; the first line must be {','.join(REQUIRED)}"
        raise InputError([Problem(display_path, message)])
    fields = _fields(reader.header.values, display_path, reader.header.line)
    problems: list[Problem] = []
    targets: list[Target] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for record in reader:

        def problem(field: str | None, message: str, line: int = record.line) -> None:
            problems.append(Problem(display_path, message, line, field))

        cells = row_cells(record.values, fields, problem)
        target = None if cells is None else check_target(cells, record.line, problem)
        if target is None:
            continue
        if target.id in seen_ids:
            problem("id", f'"{target.id}" is also the id on line {seen_ids[target.id]}')
            continue
        key = (target.email or "").casefold()
        if key and key in seen_emails:
            problem("email", f"same email as line {seen_emails[key]}; one row per address")
            continue
        seen_ids[target.id] = record.line
        if key:
            seen_emails[key] = record.line
        targets.append(target)
    if problems:
        raise InputError(problems)
    return TargetBook(tuple(targets), display_path)


def _fields(header: Sequence[str], display: str, line: int) -> list[str]:
    """Our name for each column; every unknown, unnamed or missing column is a problem."""
    choice = choose_columns(header, ALIASES, {}, display=display, line=line)
    expected = ",".join(REQUIRED)
    problems: list[Problem] = []
    for name in choice.ignored:
        if not name:
            message = f"a column has no name (a trailing comma?); the header must be {expected}"
            problems.append(Problem(display, message, line))
        else:
            hint = did_you_mean(name, [*REQUIRED, *OPTIONAL])
            message = (
                f'unknown column "{name}"{hint}; the header must be {expected} '
                f"(optional: {', '.join(OPTIONAL)})"
            )
            problems.append(Problem(display, message, line))
    for name in REQUIRED:
        if name not in choice.used:
            message = f'missing column "{name}"; the header must be {expected}'
            problems.append(Problem(display, message, line, name))
    if problems:
        raise InputError(problems)
    return choice.fields
