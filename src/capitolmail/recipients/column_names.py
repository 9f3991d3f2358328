"""Column names as CRMs and spreadsheets export them, matched to the names we use.

Action Network exports `first_name`, `zip_code`; Mailchimp `Email Address`,
`First Name`, `OPTIN_TIME`; EveryAction and hand-made sheets `Email`, `Zip Code`,
`ZIP`, `Postal Code`. A supporter export should import as it comes, so names are
compared by their letters and digits only (case, spaces, `_`, `-`, `/` ignored)
against a short table of the common spellings, and `--map email="Email Address"`
names a column the table does not know. The import says which columns it used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from capitolmail.errors import InputError, Problem, did_you_mean

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")

# Other spellings; names that differ from ours only in case, spaces or `_` ("First Name",
# "zip_code" is not one: it says zip, not postal) match without being listed.
EMAIL_ALIASES = ("email address", "primary email", "preferred email")
SUPPORTER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": EMAIL_ALIASES,
    "first_name": ("first", "given name"),
    "last_name": ("last", "surname", "family name"),
    "postal_code": ("zip", "zip code", "zip5", "postcode", "zip/postal code", "zip or postal"),
    "consent": ("opt in", "opted in", "opt-in date", "optin_time", "consent date"),
    "state": ("state/province", "state code", "state abbreviation", "can2_state_abbreviated"),
    "district": ("congressional district", "cd"),
    "tags": ("tag",),
}


def column_key(name: str) -> str:
    """A name reduced to what identifies it: "Zip Code", "zip_code" and "ZIPCODE" agree."""
    return _NOT_ALNUM.sub("", name.casefold())


@dataclass(frozen=True, slots=True)
class ColumnChoice:
    """Which header column feeds which of our columns.

    `fields` has our name for each header position, "" for a column not used;
    `renamed` lists (ours, theirs) where the file's name differs, for the summary.
    """

    fields: list[str]
    ignored: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]

    @property
    def used(self) -> frozenset[str]:
        return frozenset(name for name in self.fields if name)


def choose_columns(
    header: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str],
    *,
    display: str,
    line: int,
) -> ColumnChoice:
    """Match `header` to the columns in `aliases` (our name -> other spellings).

    A column named exactly as ours wins over an alias; two aliases for one column
    are refused, since guessing could import the wrong addresses. `overrides`
    (from --map) come first. Raises InputError naming every problem.
    """
    names = [name.strip() for name in header]
    fields = [""] * len(names)
    found: list[tuple[str | None, str]] = []
    found += _apply_overrides(names, fields, aliases, overrides)
    found += _apply_aliases(names, fields, aliases, overrides)
    if found:
        raise InputError([Problem(display, message, line, field) for field, message in found])
    pairs = list(zip(names, fields, strict=True))
    ignored = tuple(dict.fromkeys(name for name, field in pairs if not field))
    renamed = tuple((field, name) for name, field in pairs if field and name != field)
    return ColumnChoice(fields, ignored, renamed)


def _apply_overrides(
    names: list[str],
    fields: list[str],
    aliases: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str],
) -> list[tuple[str | None, str]]:
    """Place the --map columns in `fields`; the (field, message) of each that cannot be."""
    problems: list[tuple[str | None, str]] = []
    for ours, theirs in overrides.items():
        matches = [i for i, name in enumerate(names) if column_key(name) == column_key(theirs)]
        if ours not in aliases:
            problems.append((None, f"--map {ours}=…: unknown column{did_you_mean(ours, aliases)}"))
        elif not matches:
            hint = did_you_mean(theirs, names)
            problems.append((ours, f'--map {ours}="{theirs}": the header has no such column{hint}'))
        else:
            fields[matches[0]] = ours
    return problems


def _apply_aliases(
    names: list[str],
    fields: list[str],
    aliases: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str],
) -> list[tuple[str | None, str]]:
    """Place every other column by its exact name, else by one alias; the ambiguities."""
    problems: list[tuple[str | None, str]] = []
    exact = {column_key(ours): ours for ours in aliases}
    spelled = {column_key(alias): ours for ours, names_ in aliases.items() for alias in names_}
    for ours in aliases:
        if ours in overrides:
            continue
        exact_at = [i for i, n in enumerate(names) if exact.get(column_key(n)) == ours]
        alias_at = [i for i, n in enumerate(names) if spelled.get(column_key(n)) == ours]
        if len(exact_at) > 1:
            problems.append((ours, f'column "{ours}" appears twice; delete one'))
        elif exact_at:
            fields[exact_at[0]] = ours
        elif len(alias_at) > 1:
            both = " and ".join(f'"{names[i]}"' for i in alias_at)
            problems.append(
                (ours, f'{both} could both be {ours}; choose one with --map {ours}="…"')
            )
        elif alias_at:
            fields[alias_at[0]] = ours
    return problems


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """`--map email="Email Address"` options as {ours: theirs}; ValueError when malformed."""
    mapping: dict[str, str] = {}
    for item in items:
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip().lower(), theirs.strip().strip("\"'").strip()
        if not sep or not ours or not theirs:
            raise ValueError(f'"{item}" is not COLUMN=NAME, such as email="Email Address"')
        mapping[ours] = theirs
    return mapping
