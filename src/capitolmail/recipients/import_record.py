"""What `legislators import` remembers beside the snapshot: when, and who left.

Upstream drops a member from legislators-current.yaml the day they leave, so
the snapshot alone cannot tell a departed member's bioguide id from a typo in
offices.csv. The import compares the old data with the new and records every
member who is gone in recipients/legislators/imported.json (kept in git with the
workspace, so a colleague's checkout knows too). Contacts of those members are
then skipped with a note instead of failing the whole contacts file, and a
member who comes back (re-elected after a gap) leaves the list again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from capitolmail.errors import InputError, Problem

RECORD_FILE = "imported.json"
_VERSION = 1
# A record is a few hundred entries at most (a whole Congress leaving is 535).
MAX_RECORD_BYTES = 2_000_000


@dataclass(frozen=True, slots=True)
class Departure:
    """A member who was in an earlier snapshot of this workspace and is not in the current one."""

    bioguide: str
    name: str
    # "Sen. TX", "Rep. CA-14": where they served, for the person reading the note.
    seat: str
    # The day the import that found them gone ran.
    noticed: str

    def describe(self) -> str:
        return f"{self.name} ({self.bioguide}, {self.seat})"


@dataclass(frozen=True, slots=True)
class ImportRecord:
    imported_on: date
    source: str
    departed: tuple[Departure, ...] = ()

    def departures(self) -> dict[str, Departure]:
        return {entry.bioguide: entry for entry in self.departed}

    def to_bytes(self) -> bytes:
        data = {
            "version": _VERSION,
            "imported_on": self.imported_on.isoformat(),
            "source": self.source,
            "departed": [asdict(entry) for entry in self.departed],
        }
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_record(folder: Path) -> ImportRecord | None:
    """The folder's record, None when there is none; InputError naming the file and
    entry when it was edited into something unreadable."""
    path = folder / RECORD_FILE
    display = str(path)
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise InputError([Problem(display, "is too large to be an import record")])
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        message = f"cannot be read ({err}); run `capitolmail legislators import` again"
        raise InputError([Problem(display, message)]) from None
    return _parse(data, display)


def _parse(data: Any, display: str) -> ImportRecord:
    def refuse(message: str, field: str | None = None) -> InputError:
        return InputError([Problem(display, message, field=field)])

    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise refuse("not an import record of this version; run `legislators import` again")
    try:
        imported_on = date.fromisoformat(str(data.get("imported_on")))
    except ValueError:
        raise refuse("imported_on must be a date (YYYY-MM-DD)", "imported_on") from None
    entries = data.get("departed")
    if not isinstance(entries, list):
        raise refuse("departed must be a list", "departed")
    departed = []
    for index, entry in enumerate(entries):
        fields = ("bioguide", "name", "seat", "noticed")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise refuse(f"departed entry {index + 1} needs {', '.join(fields)}", "departed")
        departed.append(Departure(**{f: entry[f] for f in fields}))
    return ImportRecord(imported_on, str(data.get("source", "")), tuple(departed))


def updated_departures(
    earlier: Mapping[str, Departure],
    gone: Iterable[Departure],
    serving: Iterable[str],
) -> tuple[Departure, ...]:
    """Everyone recorded as gone before or now, less whoever serves again, by id."""
    now_serving = set(serving)
    merged = dict(earlier)
    for entry in gone:
        merged.setdefault(entry.bioguide, entry)
    return tuple(entry for key, entry in sorted(merged.items()) if key not in now_serving)
