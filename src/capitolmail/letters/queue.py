"""Queue a letter of any kind: render every message now, store them frozen, all or none.

One path for every kind: the kind pages through its recipients; for each page
the outbox is asked once who already has this letter (refused unless
`allow_resend`) and who is on the suppression list (stored `suppressed`, so
`status` shows who was skipped and why); each recipient is rendered and composed
(letters/compose.py); the messages stream into one transaction. Anything raised
on the way, at the first recipient or the 300,000th, stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from capitolmail.errors import InputError
from capitolmail.letters.compose import compose
from capitolmail.letters.definition import Letter
from capitolmail.letters.kind import LetterKind, Progress, Screen, Tally
from capitolmail.letters.resend import DEFAULT_RESEND_PERIOD, refuse_same_content_as_rendered
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store, email_key

SUPPRESSED_AT_QUEUE = "suppressed when queued: the address is on the suppression list"


@dataclass(frozen=True, slots=True)
class QueueResult:
    job_id: int | None
    tally: Tally
    # What the run could not check or wants said besides the counts (letters/sizes.py).
    notes: tuple[str, ...] = ()

    def lines(self, *, dry_run: bool) -> list[str]:
        """What to tell the user, in order."""
        return [*self.tally.queue_lines(self.job_id, dry_run=dry_run), *self.notes]

    def check_lines(self) -> list[str]:
        """What `letters check` tells the user, in order."""
        return [*self.tally.check_lines(), *self.notes]


def queue(
    store: Store | None,
    kind: LetterKind,
    *,
    now: datetime,
    dry_run: bool = False,
    allow_resend: bool = False,
    resend_period: timedelta = DEFAULT_RESEND_PERIOD,
    progress: Progress | None = None,
    screen: Screen | None = None,
) -> QueueResult:
    """Render and store one message per recipient of `kind`, in one transaction.

    With `dry_run` everything renders and is checked, and nothing is stored;
    without a `store` (a joint letter's `letters check`) the outbox is not read.
    `screen` sees every message on its way to the store and may refuse the lot
    (letters/example_values.py refuses example addresses on a real provider).
    """
    tally = kind.tally()
    messages = stream(store, kind, tally, allow_resend=allow_resend, progress=progress)
    if store is not None and not allow_resend:
        messages = refuse_same_content_as_rendered(
            store, kind.letter, messages, now=now, period=resend_period, people=kind.labels.people
        )
    if screen is not None:
        messages = screen(messages)
    if dry_run or store is None:
        for _ in messages:
            pass
        return QueueResult(None, tally)
    try:
        job_id = store.create_job(
            letter_slug=kind.letter.slug, kind=kind.labels.job_kind, messages=messages, now=now
        )
    except ValueError as err:
        if tally.messages == 0:
            raise kind.nobody() from err
        raise
    return QueueResult(job_id, tally)


def stream(
    store: Store | None,
    kind: LetterKind,
    tally: Tally,
    *,
    allow_resend: bool,
    progress: Progress | None = None,
) -> Iterator[QueuedMessage]:
    """Every recipient's message as it will be stored, a page of look-ups at a time."""
    total = kind.total(store) if progress is not None else 0
    for page in kind.pages(store):
        envelopes = [kind.envelope(recipient) for recipient in page.recipients]
        emails = [envelope.to_email for envelope in envelopes]
        suppressed: set[str] = set()
        if store is not None:
            suppressed = store.suppressed_among(emails)
            if not allow_resend:
                refuse_resend(store, kind.letter, emails, people=kind.labels.reached_people)
        for recipient, envelope in zip(page.recipients, envelopes, strict=True):
            blocked = email_key(envelope.to_email) in suppressed
            queued = QueuedMessage(
                message=compose(kind, envelope),
                bioguide=envelope.bioguide,
                contact_role=envelope.contact_role,
                supporter_id=envelope.supporter_id,
                target_id=envelope.target_id,
                suppressed=SUPPRESSED_AT_QUEUE if blocked else None,
            )
            tally.count(recipient, queued)
            yield queued
        if progress is not None:
            progress(page.seen, total)


def preview(store: Store | None, kind: LetterKind, to: str | None) -> OutgoingMessage:
    """The message one recipient (the first, or the one `to` names) would get."""
    return compose(kind, kind.envelope(kind.pick(store, to)))


def refuse_resend(store: Store, letter: Letter, emails: Iterable[str], *, people: str) -> None:
    """Refuse when any of `emails` may already have this letter (or alert)."""
    reached = store.reached_recipients(letter.slug, emails)
    if reached:
        listing = ", ".join(sorted(reached)[:3]) + (", …" if len(reached) > 3 else "")
        what = "alert" if letter.definition.is_alert else "letter"
        raise InputError(
            f'{len(reached)} {people} already have {what} "{letter.slug}" ({listing}); '
            "pass --allow-resend to send it to them again",
            path=letter.display_path,
        )
