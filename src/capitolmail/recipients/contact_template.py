"""A contacts file to start from: one row per office and role, with the office's details.

Congress publishes no staff email addresses, so a team fills offices.csv from its
own records or a commercial directory's export. Typing bioguide ids is where that
goes wrong; the template has them, with the member's name, office phone and
address beside each empty email and name, so only the contact has to be filled in.
`contacts import` reads the filled file as it is (it ignores the member, phone and
address columns); rows left empty are reported so none is forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from capitolmail.csv_files import rows_text
from capitolmail.errors import CapitolmailError
from capitolmail.recipients.atomic_write import replace_files
from capitolmail.recipients.contacts import COLUMNS, INFO_COLUMNS
from capitolmail.recipients.legislators import Legislator

COMMENT = (
    "# offices.csv: staff contacts in legislators' offices, one row per person.\n"
    "# Fill in email and name; delete rows for roles an office does not have; then run\n"
    "# `capitolmail contacts import` on this file.\n"
)


def parse_roles(text: str) -> list[str]:
    """ "Defense LA,Chief of Staff" as a list, trimmed, without empties or repeats."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def template_text(legislators: Sequence[Legislator], roles: Sequence[str]) -> str:
    rows: list[list[object]] = [[*COLUMNS, *INFO_COLUMNS]]
    for legislator in legislators:
        for role in roles:
            details = (legislator.full_name, legislator.phone, legislator.address)
            rows.append([legislator.bioguide, "", "", role, *details])
    return COMMENT + rows_text(rows)


def write_template(
    path: Path, legislators: Sequence[Legislator], roles: Sequence[str], *, force: bool
) -> int:
    """Write the template to `path`; refuses to replace a file unless `force`. Row count."""
    if not roles:
        raise CapitolmailError('no roles given; use --roles "Chief of Staff,Defense LA"')
    if path.exists() and not force:
        raise CapitolmailError(f"{path} already exists; choose another file or add --force")
    if path.is_dir():
        raise CapitolmailError(f"{path} is a folder; give a file name such as offices.csv")
    try:
        replace_files({path: template_text(legislators, roles).encode()})
    except OSError as err:
        raise CapitolmailError(f"cannot write {path}: {err.strerror or err}") from err
    return len(legislators) * len(roles)
