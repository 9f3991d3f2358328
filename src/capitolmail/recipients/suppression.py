"""The suppression list's rules: who may no longer be mailed, however we learned it.

The rows live in the outbox database (`outbox/suppressions.py`), where the queue
and the sender read them. Every suppression is made by `suppression()` here,
whoever asks: `suppress add`, a suppression CSV, the unsubscribe page and a
provider's bounce or spam report (`tracking/`). One path, so an address
a person typed, one a provider reported and one from a link are keyed alike,
and none that is not an address reaches the list.

Addresses are normalised by email-validator before they are keyed, as supporter
and office addresses are, so "Jane@Example.ORG " suppresses the message to
"jane@example.org". A suppression CSV is checked whole before anything is
written, as offices.csv is: these lists are short and every row matters.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from capitolmail.csv_files import CsvReader
from capitolmail.errors import CapitolmailError, InputError, Problem, did_you_mean
from capitolmail.outbox import Store, Suppression, SuppressionReason
from capitolmail.recipients.addresses import normalised_address
from capitolmail.recipients.column_names import EMAIL_ALIASES, choose_columns
from capitolmail.text_files import SAVE_AS_CSV_UTF8, read_text

COLUMNS = ("email", "reason", "detail")
REASONS = tuple(reason.value for reason in SuppressionReason)


def parse_reason(text: str) -> SuppressionReason:
    """A reason from its value in any case; ValueError naming the choices otherwise."""
    try:
        return SuppressionReason(text.strip().lower())
    except ValueError:
        hint = did_you_mean(text, REASONS)
        raise ValueError(
            f'unknown reason "{text}"{hint}; use one of {", ".join(REASONS)}'
        ) from None


def suppression(
    address: str, reason: SuppressionReason | str, at: datetime, detail: str | None = None
) -> Suppression:
    """The entry for `address`, validated and normalised; ValueError saying why not.

    Normalising here, not in the store, keeps email-validator out of the outbox,
    and lets each caller say in its own terms (a CSV row, an event) what was wrong.
    """
    email = normalised_address(address)
    kind = reason if isinstance(reason, SuppressionReason) else parse_reason(reason)
    return Suppression(email, kind, at, detail or None)


def suppress(
    store: Store, address: str, reason: str, now: datetime, *, detail: str | None = None
) -> str:
    """Suppress one address (again: the reason and time are updated); returns it normalised."""
    try:
        entry = suppression(address, reason, now, detail)
    except ValueError as err:
        raise CapitolmailError(str(err)) from None
    store.add_suppressions([entry])
    return entry.email


def unsuppress(store: Store, address: str) -> bool:
    """Remove an address from the list; False when it was not on it.

    An address that does not validate is removed as typed, so a malformed one
    that reached the list (from a provider's event, say) can still be taken off.
    """
    try:
        email = normalised_address(address)
    except ValueError:
        email = address
    return store.remove_suppression(email)


@dataclass(frozen=True, slots=True)
class SuppressionImport:
    read: int  # data rows
    written: int  # distinct addresses added or updated
    delimiter_note: str | None = None  # "columns separated by ';'" when not commas


def import_suppressions(
    store: Store, path: Path, now: datetime, *, display_path: str | None = None
) -> SuppressionImport:
    """Suppress every address in a CSV with columns email[,reason][,detail].

    `reason` defaults to manual. Every bad row is reported at once and nothing is
    written until the file is clean.
    """
    display = display_path or str(path)
    missing = "file not found; check the path"
    text = read_text(path, display, missing=missing, hint=SAVE_AS_CSV_UTF8)
    reader = CsvReader(io.StringIO(text, newline=""), display)
    if reader.header is None:
        message = 'no header; the first line must be "email" (and may add reason,detail)'
        raise InputError([Problem(display, message)])
    aliases = {"email": EMAIL_ALIASES, "reason": (), "detail": ()}
    columns = choose_columns(
        reader.header.values, aliases, {}, display=display, line=reader.header.line
    )
    if "email" not in columns.used:
        hint = did_you_mean("email", reader.header.values)
        message = f'missing column "email"{hint}; the header must be email[,reason][,detail]'
        raise InputError([Problem(display, message, reader.header.line, "email")])
    entries: list[Suppression] = []
    problems: list[Problem] = []
    read = 0
    for row in reader:
        read += 1
        values = (value.strip() for value in row.values)
        cells = {name: value for name, value in zip(columns.fields, values, strict=False) if name}
        try:
            email = normalised_address(cells.get("email", ""))
        except ValueError as err:
            problems.append(
                Problem(display, f"{err}; correct it or delete the row", row.line, "email")
            )
            continue
        try:
            reason = parse_reason(cells.get("reason") or SuppressionReason.MANUAL.value)
        except ValueError as err:
            problems.append(Problem(display, str(err), row.line, "reason"))
            continue
        entries.append(suppression(email, reason, now, cells.get("detail")))
    if problems:
        raise InputError(problems)
    written = store.add_suppressions(entries)
    return SuppressionImport(read, written, reader.delimiter_note)
