"""`legislators import`: replace the workspace's snapshot and say what changed.

A new Congress, a resignation or a special election changes who a letter
reaches. The import validates the new files before anything is written, then
compares them with the data they replace: who left (recorded, see
import_record.py), who arrived, which committees appeared, went or changed
members; and which rows of recipients/offices.csv belong to members no longer
serving. Those rows stay in the file (staff delete them when they are ready) but
are never sent to: every joint letter skips them with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from capitolmail.errors import InputError
from capitolmail.recipients.committees import Committee
from capitolmail.recipients.congress import (
    data_congress,
    newest_term_start,
    ordinal,
    stale_data_warning,
)
from capitolmail.recipients.contacts import DepartedContact, load_contact_sheet
from capitolmail.recipients.import_record import (
    RECORD_FILE,
    Departure,
    ImportRecord,
    updated_departures,
)
from capitolmail.recipients.legislators import (
    Legislator,
    Roster,
    load_roster,
    read_snapshot,
    workspace_roster,
    write_snapshot,
)

# Names shown in a line that sums up a long list ("Arrived (62): A, B, C, D, E, …").
_SHOWN = 5


@dataclass(frozen=True, slots=True)
class RosterUpdate:
    roster: Roster
    previous: Roster
    left: tuple[Departure, ...]
    arrived: tuple[Legislator, ...]
    committees_added: tuple[Committee, ...]
    committees_removed: tuple[Committee, ...]
    committees_changed: tuple[Committee, ...]
    departed_contacts: tuple[DepartedContact, ...] = ()
    contacts_shown: str = "recipients/offices.csv"
    # Why offices.csv could not be checked against the new data, if it could not.
    contacts_problem: str | None = None
    notes: tuple[str, ...] = field(default=())


def update_roster(
    root: Path,
    source: Path,
    destination: Path,
    *,
    contacts_path: Path,
    contacts_shown: str,
    today: date,
) -> RosterUpdate:
    """Import `source` into `destination` (the workspace's recipients/legislators/)."""
    try:
        previous = workspace_roster(root)
    except InputError:  # the data being replaced is broken: compare with the packaged one
        previous = load_roster()
    texts, new = read_snapshot(source, destination)
    serving = {leg.bioguide for leg in new}
    gone = tuple(_departure(leg, today) for leg in previous if leg.bioguide not in serving)
    record = ImportRecord(
        imported_on=today,
        source=str(source),
        departed=updated_departures(previous.departed, gone, serving),
    )
    extra = {destination / RECORD_FILE: record.to_bytes()}
    written = write_snapshot(destination, texts, new, extra)
    roster = written.with_record(record)
    departed, problem = _contacts_of_departed(roster, contacts_path, contacts_shown)
    added, removed, changed = _committee_changes(previous, roster)
    return RosterUpdate(
        roster=roster,
        previous=previous,
        left=gone,
        arrived=tuple(leg for leg in roster if leg.bioguide not in previous),
        committees_added=added,
        committees_removed=removed,
        committees_changed=changed,
        departed_contacts=departed,
        contacts_shown=contacts_shown,
        contacts_problem=problem,
        notes=_older_note(previous, roster),
    )


def _departure(legislator: Legislator, today: date) -> Departure:
    return Departure(
        bioguide=legislator.bioguide,
        name=legislator.full_name,
        seat=f"{legislator.short_title} {legislator.district_label}",
        noticed=today.isoformat(),
    )


def _contacts_of_departed(
    roster: Roster, path: Path, shown: str
) -> tuple[tuple[DepartedContact, ...], str | None]:
    if not path.is_file():
        return (), None
    try:
        sheet = load_contact_sheet(path, roster, display_path=shown)
    except InputError as err:
        count = len(err.problems)
        more = f" (and {count - 1} more problems)" if count > 1 else ""
        return (), f"{err.problems[0]}{more}"
    return tuple(sheet.departed), None


def _committee_changes(
    previous: Roster, roster: Roster
) -> tuple[tuple[Committee, ...], tuple[Committee, ...], tuple[Committee, ...]]:
    """Committees added, removed, and those whose members are not the same people."""
    before, after = previous.committees, roster.committees
    added = tuple(after[key] for key in sorted(after) if key not in before)
    removed = tuple(before[key] for key in sorted(before) if key not in after)
    old_members, new_members = _members(previous), _members(roster)
    changed = tuple(
        after[key]
        for key in sorted(after)
        if key in before and old_members.get(key, set()) != new_members.get(key, set())
    )
    return added, removed, changed


def _members(roster: Roster) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for legislator in roster:
        for seat in legislator.committees:
            members.setdefault(seat.key, set()).add(legislator.bioguide)
    return members


def _older_note(previous: Roster, roster: Roster) -> tuple[str, ...]:
    """A note when the new data looks older than what it replaced (a wrong checkout)."""
    old, new = newest_term_start(previous), newest_term_start(roster)
    if old is not None and new is not None and new < old:
        return (
            f"Note: the imported data looks older than what it replaced (newest term start "
            f"{new.isoformat()}, before {old.isoformat()}); check the checkout is up to date",
        )
    return ()


def update_lines(update: RosterUpdate, *, shown_destination: str, today: date) -> list[str]:
    """What `legislators import` prints, in order."""
    roster = update.roster
    congress = data_congress(roster)
    newest = newest_term_start(roster)
    about = ", ".join(
        part
        for part in (
            f"the {ordinal(congress)} Congress" if congress else "",
            f"newest term start {newest.isoformat()}" if newest else "",
        )
        if part
    )
    lines = [
        f"Imported {len(roster)} legislators and {len(roster.committees)} committees and "
        f"subcommittees into {shown_destination}/" + (f" ({about})." if about else ".")
    ]
    lines.extend(update.notes)
    if update.left:
        lines.append(f"Left since the previous data ({len(update.left)}):")
        lines.extend(f"  {departure.describe()}" for departure in update.left)
    else:
        lines.append("Left since the previous data: none.")
    lines.append(
        _listing(
            "Arrived",
            [
                f"{leg.full_name} ({leg.bioguide}, {leg.short_title} {leg.district_label})"
                for leg in update.arrived
            ],
            limit=_SHOWN,
        )
    )
    lines.append(_committee_line(update))
    lines.extend(_contact_lines(update))
    warning = stale_data_warning(roster, today)
    if warning:
        lines.append(warning)
    return lines


def unsent_job_lines(unsent: dict[int, int]) -> list[str]:
    """Jobs queued before the import that still hold messages to offices of members no
    longer serving: those go out unless the job is cancelled, so say how to stop them."""
    return [
        f"Warning: job {job} has {count} unsent message{'s' * (count != 1)} to offices of "
        f"members no longer serving; they go out unless you run `capitolmail cancel {job}` "
        "and queue the letter again"
        for job, count in unsent.items()
    ]


def _listing(label: str, items: list[str], *, limit: int) -> str:
    if not items:
        return f"{label}: none."
    shown = items[:limit]
    more = ", …" if len(shown) < len(items) else ""
    return f"{label} ({len(items)}): {', '.join(shown)}{more}."


def _committee_line(update: RosterUpdate) -> str:
    def keys(committees: tuple[Committee, ...]) -> str:
        names = [f"{c.key} {c.name}" for c in committees[:_SHOWN]]
        return ", ".join(names) + (", …" if len(committees) > _SHOWN else "")

    parts = []
    if update.committees_added:
        parts.append(f"{len(update.committees_added)} added ({keys(update.committees_added)})")
    if update.committees_removed:
        removed = update.committees_removed
        parts.append(f"{len(removed)} removed ({keys(removed)})")
    if update.committees_changed:
        changed = update.committees_changed
        parts.append(f"{len(changed)} with changed members ({keys(changed)})")
    return "Committees: " + ("; ".join(parts) if parts else "no change") + "."


def _contact_lines(update: RosterUpdate) -> list[str]:
    if update.contacts_problem:
        return [
            f"Note: {update.contacts_shown} could not be checked against the new data: "
            f"{update.contacts_problem}"
        ]
    rows = update.departed_contacts
    if not rows:
        return [f"Office contacts: every member in {update.contacts_shown} is serving."]
    lines = [
        f"Office contacts of members no longer serving ({len(rows)}); they are not sent to, "
        "and letters note them until you delete the rows:"
    ]
    lines.extend(
        f"  {update.contacts_shown}:{row.contact.line}: {row.departure.describe()}: "
        f"{row.contact.email}"
        f" ({row.contact.role})"
        for row in rows
    )
    return lines
