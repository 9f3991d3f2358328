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

from capitolmail.config import OrganisationSettings, Settings
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


class Page(NamedTuple):
    """Recipients read together (one resend and suppression look-up), and how far
    through the source they are, for the progress bar."""

    recipients: Sequence[Any]
    seen: int


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

    @property
    def job_kind(self) -> str:
        """Stored on the job ("joint", "alert")."""
        ...

    @property
    def people(self) -> str:
        """Who they are in a same-content refusal: "recipients", "supporters"."""
        ...

    @property
    def reached_people(self) -> str:
        """Who they are in an already-sent refusal: "recipient(s)", "supporters"."""
        ...

    @property
    def progress_label(self) -> str: ...

    @property
    def audience_in_store(self) -> bool:
        """True when the recipients are read from the outbox database (supporters)."""
        ...

    def total(self, store: Store | None) -> int: ...
    def pages(self, store: Store | None) -> Iterator[Page]: ...
    def envelope(self, recipient: Any) -> Envelope: ...
    def check(self, rendered: RenderedLetter, envelope: Envelope) -> None: ...
    def tally(self) -> Tally: ...
    def pick(self, store: Store | None, to: str | None) -> Any: ...
    def example_screen(self, settings: Settings) -> Screen | None: ...
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
