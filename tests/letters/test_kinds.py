"""A new kind of letter is one small class: the shared pipeline applies every rule to it.

`Targets` below is the whole of a "letter to custom targets" kind. Queued through
letters/queue.py into a real store, it gets what joint letters and alerts get:
To names cleaned, suppressed addresses stored `suppressed`, resends refused, a
render error naming the recipient, and nothing stored when anything fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from capitolmail.config import Settings, load_settings
from capitolmail.errors import InputError
from capitolmail.letters.definition import Letter, load_letter
from capitolmail.letters.identity import Sender, resolve_sender
from capitolmail.letters.kind import Envelope, Labels, LetterKind, Page, Screen, letter_templates
from capitolmail.letters.queue import SUPPRESSED_AT_QUEUE, queue
from capitolmail.outbox import MessageState, QueuedMessage, Store
from capitolmail.templates.render import LetterTemplates, RenderedLetter

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass
class CountingTally:
    messages: int = 0
    suppressed: int = 0
    names: list[str] = field(default_factory=list)

    def count(self, recipient: Any, queued: QueuedMessage) -> None:
        self.messages += 1
        self.suppressed += queued.suppressed is not None
        self.names.append(queued.message.to_name)

    def queue_lines(self, job_id: int | None, *, dry_run: bool) -> list[str]:
        return [f"{self.messages} queued as job {job_id}"]

    def check_lines(self) -> list[str]:
        return [f"{self.messages} render"]


@dataclass(frozen=True)
class Targets:
    """A letter to a list of (name, email) pairs: the whole kind."""

    letter: Letter
    templates: LetterTemplates
    sender: Sender
    targets: tuple[tuple[str, str], ...]

    labels = Labels(
        job_kind="joint", people="recipients", reached_people="recipient(s)", progress="Rendering"
    )

    def total(self, store: Store | None) -> int:
        return len(self.targets)

    def pages(self, store: Store | None) -> Iterator[Page]:
        yield Page(self.targets, len(self.targets))

    def envelope(self, recipient: tuple[str, str]) -> Envelope:
        name, email = recipient
        return Envelope(to_email=email, to_name=name, who=f"for {email}", context={"name": name})

    def attachments(self, envelope: Envelope) -> tuple[()]:
        return ()

    def check(self, rendered: RenderedLetter, envelope: Envelope) -> None:
        pass

    def tally(self) -> CountingTally:
        return CountingTally()

    def pick(self, store: Store | None, to: str | None) -> tuple[str, str]:
        return self.targets[0]

    def example_screen(self, settings: Settings) -> Screen | None:
        return None

    def nobody(self) -> InputError:
        return InputError("no targets", path=self.letter.display_path)


def _targets(workspace: Path, body: str, *targets: tuple[str, str]) -> Targets:
    folder = workspace / "letters" / "thanks"
    shutil.copytree(workspace / "letters" / "block-arms-sale", folder)
    (folder / "body.txt.j2").write_text(body, encoding="utf-8")
    toml = (folder / "letter.toml").read_text(encoding="utf-8")
    (folder / "letter.toml").write_text(
        toml.replace('body_html = "body.html.j2"\n', "").replace(
            'subject = "{{ signers|length }} organizations urge you to block the pending arms '
            'sale"',
            'subject = "Thank you, {{ name }}"',
        ),
        encoding="utf-8",
    )
    (folder / "body.html.j2").unlink()
    settings = load_settings(workspace)
    letter = load_letter(workspace, "thanks")
    sender = resolve_sender(letter, settings.organisation, settings.sender)
    kind = Targets(letter, letter_templates(letter, workspace), sender, targets)
    _: LetterKind = kind  # the Protocol is all a kind implements
    return kind


def test_a_custom_kind_gets_every_queue_time_rule(workspace: Path, store: Store) -> None:
    kind = _targets(
        workspace,
        "Dear {{ name }}, thank you.\n",
        ("Nguyen, Jordan", "jordan@house.example.org"),
        ("Sam Lee", "sam@senate.example.org"),
    )
    store.add_suppression("sam@senate.example.org", "bounce", at=NOW)

    result = queue(store, kind, now=NOW)

    assert result.job_id is not None
    assert result.tally.names == ["Nguyen Jordan", "Sam Lee"]
    assert result.lines(dry_run=False) == [f"2 queued as job {result.job_id}"]
    stored = store.list_messages(result.job_id)
    assert [(m.to_email, m.to_name, m.subject, m.state) for m in stored] == [
        (
            "jordan@house.example.org",
            "Nguyen Jordan",
            "Thank you, Nguyen, Jordan",
            MessageState.QUEUED,
        ),
        ("sam@senate.example.org", "Sam Lee", "Thank you, Sam Lee", MessageState.SUPPRESSED),
    ]
    assert stored[1].last_error == SUPPRESSED_AT_QUEUE
    already = r'1 recipient\(s\) already have letter "thanks" \(jordan@'
    with pytest.raises(InputError, match=already):
        queue(store, kind, now=NOW)
    assert [job.id for job in store.list_jobs()] == [result.job_id]


def test_a_render_error_names_the_recipient_and_stores_nothing(
    workspace: Path, store: Store
) -> None:
    kind = _targets(
        workspace,
        "Dear {{ name }}, {{ 1 // (name|length - 7) }}\n",
        ("Ana Pazos", "ana@house.example.org"),
        ("Sam Lee", "sam@senate.example.org"),
    )

    with pytest.raises(InputError) as refused:
        queue(store, kind, now=NOW)

    assert "(for sam@senate.example.org)" in str(refused.value)
    assert store.list_jobs() == []
