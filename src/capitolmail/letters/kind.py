"""What a kind of letter is to the pipeline: who gets it, and what each template sees.

Joint letters (offices) and alerts (supporters) differ only there; rendering,
composing, resend refusal, suppression and storing are one path for both
(letters/queue.py), so a rule added to that path holds for every kind. A new
kind (a letter to custom targets, a sign-on confirmation) is one module in
letters/kinds/ implementing `LetterKind`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from capitolmail.attachment import Attachment
from capitolmail.config import Settings
from capitolmail.config.sections import OrganisationSettings
from capitolmail.errors import InputError
from capitolmail.letters.definition import Letter
from capitolmail.letters.identity import Sender
from capitolmail.outbox import QueuedMessage, Store
from capitolmail.templates.render import LetterTemplates, RenderedLetter

Progress = Callable[[int, int], None]
# Sees every message on its way to the store and may refuse the lot at its end.
Screen = Callable[[Iterable[QueuedMessage]], Iterator[QueuedMessage]]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One recipient as compose needs it: the address, the template context, the extras."""

    to_email: str
    to_name: str
    # Whose message it is, added to a render error ("for supporter a@b.org").
    who: str
    context: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    bioguide: str | None = None
    contact_role: str | None = None
    supporter_id: str | None = None
    # A recipient from recipients/targets.csv, by its id (in place of `bioguide`).
    target_id: str | None = None


class Page(NamedTuple):
    """Recipients read together (one resend and suppression look-up), and how far
    through the source they are, for the progress bar."""

    recipients: Sequence[Any]
    seen: int


@dataclass(frozen=True, slots=True)
class Labels:
    """How a kind is named where the pipeline speaks of it."""

    # Stored on the job: "joint", "alert".
    job_kind: str
    # Who they are in a same-content refusal ("recipients") and an already-sent one
    # ("recipient(s)"), and what the progress bar says.
    people: str
    reached_people: str
    progress: str
    # True when the recipients are read from the outbox database (supporters), so
    # even `letters check` opens it.
    audience_in_store: bool = False


class Tally(Protocol):
    """Counts a queue run as it streams, then says what happened, in order."""

    messages: int
    suppressed: int

    def count(self, recipient: Any, queued: QueuedMessage) -> None: ...
    def queue_lines(self, job_id: int | None, *, dry_run: bool) -> list[str]: ...
    def check_lines(self) -> list[str]: ...


class LetterKind(Protocol):
    """A prepared letter of one kind: everything loaded and checked, nothing rendered."""

    letter: Letter
    templates: LetterTemplates
    sender: Sender
    labels: Labels

    # Who: the recipients a page at a time (`total` sizes the progress bar).
    def total(self, store: Store | None) -> int: ...
    def pages(self, store: Store | None) -> Iterator[Page]: ...
    # What: one recipient's address, template context and extra headers.
    def envelope(self, recipient: Any) -> Envelope: ...
    # A rule only this kind has (an alert must show its unsubscribe link).
    def check(self, rendered: RenderedLetter, envelope: Envelope) -> None: ...
    # The files sent with one recipient's message (a joint letter's PDF), made now.
    def attachments(self, envelope: Envelope) -> tuple[Attachment, ...]: ...
    # The counts and lines `queue` and `letters check` report.
    def tally(self) -> Tally: ...
    # The recipient `letters preview --to` shows (the first when `to` is None).
    def pick(self, store: Store | None, to: str | None) -> Any: ...
    # That recipient's letter as a proof for `to_email` (a staffer): the same context,
    # nothing in it that acts for the real recipient (an alert's unsubscribe token),
    # and refused (CapitolmailError) when `to_email` is one of the letter's recipients.
    def proof_envelope(self, recipient: Any, to_email: str) -> Envelope: ...
    # Refuse the worked example's values on a real provider; a screen for streamed rows.
    def example_screen(self, settings: Settings) -> Screen | None: ...
    # The error when the audience turned out empty.
    def nobody(self) -> InputError: ...


def letter_templates(letter: Letter, root: Path) -> LetterTemplates:
    """The letter's subject and bodies, compiled once for every recipient of any kind."""
    return LetterTemplates(
        letter.folder,
        workspace_root=root,
        subject=letter.definition.subject,
        text_template=letter.text_template,
        html_template=letter.html_template,
        source=letter.display_path,
        document_template=letter.pdf_template,
    )


def shared_context(
    letter: Letter, organisation: OrganisationSettings, sender: Sender
) -> dict[str, Any]:
    """The names every kind's templates see, whoever the recipient is."""
    return {
        "organisation": organisation,
        "sender": sender,
        "letter": {"slug": letter.slug, "description": letter.definition.description},
    }
