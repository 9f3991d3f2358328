"""Checking one row of a supporter import: every problem with it, and every warning.

Kept apart from the import itself (supporters.py reads the file, batches and
writes) because these are the rules a CRM export meets: address, name, consent,
ZIP, state and district, each reported as `file:line: field: message`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from capitolmail.errors import InvalidZip, Problem, did_you_mean
from capitolmail.outbox import SupporterRecord, email_key
from capitolmail.recipients.cells import email_cell, one_line_cells, row_cells
from capitolmail.recipients.states import STATE_NAMES, normalise_state, state_name
from capitolmail.recipients.zipcodes import district_numbers, districts_for_zip

_YES = frozenset({"yes", "y", "true", "t", "1"})
_NO = frozenset({"no", "n", "false", "f", "0", ""})
_AT_LARGE = frozenset({"al", "at-large", "at large", "atlarge"})
_TAG_SEPARATORS = str.maketrans({"|": ";"})

# problem(field, message): how a check reports what is wrong with the row.
_Complain = Callable[[str | None, str], None]


@dataclass(slots=True)
class SupporterRow:
    """One CSV row and what its checks found: problems reject it, warnings do not."""

    line: int
    values: list[str]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def check_row(
    row: SupporterRow, fields: list[str], display: str, now: datetime
) -> SupporterRecord | None:
    """The row as a record, or None with `row.problems` saying why."""

    def problem(name: str | None, message: str) -> None:
        row.problems.append(Problem(display, message, row.line, name))

    def warn(name: str | None, message: str) -> None:
        row.warnings.append(Problem(display, message, row.line, name))

    cells = row_cells(row.values, fields, problem)
    if cells is None:
        return None

    email = email_cell(cells["email"], problem, whose="supporter's")
    one_line_cells(cells, ("first_name", "last_name"), problem)

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
    return _district(state, district_text, postal_code, candidates, problem, warn)


def _district(
    state: str | None,
    district_text: str,
    postal_code: str | None,
    candidates: list[tuple[str, int]],
    problem: _Complain,
    warn: _Complain,
) -> tuple[str | None, int | None]:
    """The district as given, else from the ZIP's candidates in `state` when just one."""
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
