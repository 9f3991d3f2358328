"""Checking one row of recipients/targets.csv: every problem with it, each at its field.

A target (the White House, a department, a governor, a committee's staff
director) is typed in by hand or pasted from a website, and every one of its
cells reaches a letter or a header: the name and email go to the To header, the
title, salutation and address into the body of a letter a senior official reads.
So each cell is one line of plain text of a readable length, and a cell that a
spreadsheet would run as a formula is refused rather than carried along (the
file has a few dozen rows a person wrote; a formula in one is a mistake or an
attack, never a name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from capitolmail.csv_files import needs_guard
from capitolmail.recipients.cells import email_cell, one_line_cells

# (field or None, message): how a check reports what is wrong with the row.
Report = Callable[[str | None, str], None]

ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{5,30}")
_TAG_SEPARATORS = str.maketrans({"|": ";"})
ADDRESS_SEPARATOR = "|"

# The longest value each cell may hold: a name fits a header line, an address a few lines.
MAX_LENGTHS = {
    "id": 64,
    "name": 200,
    "title": 200,
    "organization": 200,
    "salutation": 200,
    "email": 254,
    "address": 500,
    "tags": 500,
    "contact_url": 2000,
    "phone": 40,
}


@dataclass(frozen=True, slots=True)
class Target:
    """One recipient outside Congress; `line` is where its row starts, for later errors."""

    id: str
    name: str
    title: str
    organization: str
    email: str | None
    salutation: str
    address_lines: tuple[str, ...]
    tags: tuple[str, ...]
    contact_url: str | None
    phone: str | None
    line: int


def check_target(cells: Mapping[str, str], line: int, problem: Report) -> Target | None:
    """The row as a Target, or None after reporting every problem with it."""
    reported: set[str | None] = set()

    def report(field: str | None, message: str) -> None:
        # One problem per cell: the first says what to fix; a second would repeat it.
        if field not in reported:
            reported.add(field)
            problem(field, message)

    present = {name: value for name, value in cells.items() if name in MAX_LENGTHS}
    for name, value in present.items():
        if len(value) > MAX_LENGTHS[name]:
            report(name, f"is {len(value)} characters long; keep it under {MAX_LENGTHS[name]}")
        elif name != "phone" and needs_guard(value):
            report(
                name,
                f'starts with "{value.lstrip()[:1]}", which a spreadsheet runs as a formula; '
                "remove it",
            )
    one_line_cells(present, list(present), report)
    target_id = _check_id(cells["id"], report)
    if not cells["name"]:
        report("name", "empty; fill in who the letter is to, such as The President")
    email = email_cell(cells["email"], report, whose="target's") if cells["email"] else None
    tags = _tags(cells.get("tags", ""), report)
    url = _contact_url(cells.get("contact_url", ""), report)
    phone = _phone(cells.get("phone", ""), report)
    if reported or target_id is None:
        return None
    return Target(
        id=target_id,
        name=cells["name"],
        title=cells["title"],
        organization=cells["organization"],
        email=email,
        salutation=cells["salutation"] or f"Dear {cells['name']}:",
        address_lines=address_lines(cells["address"]),
        tags=tags,
        contact_url=url,
        phone=phone or None,
        line=line,
    )


def address_lines(text: str) -> tuple[str, ...]:
    """ "1600 Pennsylvania Avenue NW | Washington, DC 20500" as its postal lines."""
    return tuple(part.strip() for part in text.split(ADDRESS_SEPARATOR) if part.strip())


def _check_id(text: str, problem: Report) -> str | None:
    if not text:
        problem("id", "empty; give the target a short id, such as white-house")
        return None
    if not ID_PATTERN.fullmatch(text):
        problem(
            "id",
            f'"{_shown(text)}" is not an id: use lower-case letters, digits and hyphens, '
            "such as white-house or state-department",
        )
        return None
    return text


def _tags(text: str, problem: Report) -> tuple[str, ...]:
    """Tags separated by ";" or "|", each an id-like word, without repeats, in order."""
    parts = [part.strip() for part in text.translate(_TAG_SEPARATORS).split(";")]
    tags = tuple(dict.fromkeys(part for part in parts if part))
    for tag in tags:
        if not ID_PATTERN.fullmatch(tag):
            problem(
                "tags",
                f'"{_shown(tag)}" is not a tag: use lower-case letters, digits and hyphens, '
                'separated by ";", such as executive;state-department',
            )
            break
    return tags


def _contact_url(text: str, problem: Report) -> str | None:
    """A contact form's address: absolute https, ASCII, no spaces (it is printed as a link)."""
    if not text:
        return None
    try:
        parsed = urlsplit(text)
    except ValueError:
        parsed = None
    if (
        parsed is None
        or parsed.scheme != "https"
        or not parsed.hostname
        or not text.isascii()
        or any(ch.isspace() for ch in text)
        or parsed.username is not None
    ):
        problem(
            "contact_url",
            f'"{_shown(text)}" is not an https address such as https://www.whitehouse.gov/contact/',
        )
        return None
    return text


def _phone(text: str, problem: Report) -> str:
    if text and not _PHONE.fullmatch(text):
        problem("phone", f'"{_shown(text)}" is not a phone number such as 202-456-1111')
        return ""
    return text


def _shown(text: str) -> str:
    """A value quoted in an error, with control characters escaped to keep it one line."""
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
