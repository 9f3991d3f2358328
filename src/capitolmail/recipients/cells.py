"""Checks one cell of an imported row the same way in every file that has it.

Offices, supporters and (later) other recipient files all carry an address and
a few names that reach headers; each check reports through the reader's own
`problem(field, message)` so every file names its line and field alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from capitolmail.message import control_character
from capitolmail.recipients.addresses import normalised_address

Report = Callable[[str | None, str], None]  # (field or None for the whole row, message)


def row_cells(
    values: Sequence[str], fields: Sequence[str], problem: Report
) -> dict[str, str] | None:
    """The row's cells by column name, stripped; None after reporting a row whose field
    count is not the header's (an unquoted comma shifts every cell after it). Columns
    without a name (ignored ones) are left out."""
    if len(values) != len(fields):
        problem(
            None,
            f"row has {len(values)} fields but the header has {len(fields)}; "
            "quote values that contain commas",
        )
        return None
    return {name: value.strip() for name, value in zip(fields, values, strict=True) if name}


def email_cell(value: str, problem: Report, *, whose: str) -> str | None:
    """The normalised address in `value`, or None after reporting why it is not one."""
    if not value:
        problem("email", f"empty; fill in the {whose} address or delete the row")
        return None
    try:
        return normalised_address(value)
    except ValueError as err:
        problem("email", f"{err}; correct it")
        return None


def one_line_cells(
    cells: Mapping[str, str],
    names: Iterable[str],
    problem: Report,
    *,
    max_length: int | None = None,
) -> None:
    """Report a line break, a control character or (past `max_length`) an over-long value
    in each of `names`: they reach headers and letters. Without `max_length` a long name is
    the composer's to cut (to 200 in a header), not a problem of its row."""
    for name in names:
        value = cells[name]
        if "\r" in value or "\n" in value:
            problem(name, "contains a line break; put it on one line")
        elif found := control_character(value):
            problem(name, f"contains a control character, {found}; remove it")
        elif max_length is not None and len(value) > max_length:
            problem(name, f"is {len(value)} characters long; keep it under {max_length}")
