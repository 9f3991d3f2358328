"""What `check` and `queue` say about an alert run: counts, and who it cannot name.

Kept apart from the alert kind because it is about telling staff what to fix
in their supporters file, not about building messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from capitolmail.outbox import QueuedMessage
from capitolmail.recipients.constituents import Delegation


class Represented(Protocol):
    """What the tally reads of a recipient: who represents them. The alert kind's
    Supporter is one; naming only this keeps the report from importing the kind."""

    @property
    def delegation(self) -> Delegation: ...


@dataclass
class AlertTally:
    slug: str
    messages: int = 0
    suppressed: int = 0
    representative_unknown: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    senators_unknown: int = 0
    vacant_seats: int = 0

    def count(self, recipient: Represented, queued: QueuedMessage) -> None:
        """Tally the alerts that cannot name everyone, each under one reason: no state
        known (nobody named), a vacant seat, or a representative the ZIP does not settle."""
        delegation = recipient.delegation
        self.messages += 1
        self.suppressed += queued.suppressed is not None
        if not delegation.state_known:
            self.senators_unknown += 1
        elif delegation.vacant:
            self.vacant_seats += 1
        if delegation.state_known and not delegation.district_known and not delegation.house_vacant:
            self.representative_unknown += 1
        state = delegation.state or "unknown"
        self.by_state[state] = self.by_state.get(state, 0) + 1

    def queue_lines(self, job_id: int | None, *, dry_run: bool) -> list[str]:
        states = len([state for state in self.by_state if state != "unknown"])
        sendable = self.messages - self.suppressed
        lead = "Dry run" if dry_run else f"Queued job {job_id}"
        lines = [
            f"{lead}: {self.messages} alerts to supporters in {states} states and territories "
            f"({sendable} to send, {self.suppressed} suppressed)"
            + ("; nothing stored." if dry_run else "."),
            *self.notes(),
        ]
        if not dry_run:
            lines.append(f"Send it with: capitolmail send {job_id}")
        return lines

    def check_lines(self) -> list[str]:
        return [
            f"OK: {self.slug} renders {self.messages} alerts "
            f"({self.suppressed} to suppressed addresses).",
            *self.notes(),
        ]

    def notes(self) -> list[str]:
        """The alerts that cannot name every member, and what to do about them."""

        def people(count: int) -> str:
            return f"{count} supporter{'s' * (count != 1)}"

        notes = []
        if self.senators_unknown:
            notes.append(
                f"Note: {people(self.senators_unknown)} without a known state (a ZIP not in the "
                "crosswalk, or one across a state line): their senators and representative are "
                "unknown, so their alert names nobody and points to senate.gov and house.gov; add "
                "their state (and district) to the supporters file and import it again."
            )
        if self.representative_unknown:
            notes.append(
                f"Note: {people(self.representative_unknown)} without a known representative (a "
                "ZIP split between districts, or no ZIP): their alert names the senators and asks "
                "them to look the representative up."
            )
        if self.vacant_seats:
            notes.append(
                f"Note: {people(self.vacant_seats)} in vacant seats (a Senate or House seat with "
                "nobody in the legislators data): their alert says the seat is vacant."
            )
        return notes
