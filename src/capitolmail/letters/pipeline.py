"""A workspace's letters, as commands use them: load one, check it, preview it, queue it.

Each command loads `letter.toml` once here and gets back the prepared kind;
what differs between kinds is decided by the kind, so a command neither knows
nor asks which kind it holds. Commands print what these return.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from capitolmail.letters.definition import load_letter
from capitolmail.letters.kind import LetterKind, Progress
from capitolmail.letters.kinds.alert import prepare_alert
from capitolmail.letters.kinds.joint import prepare_joint
from capitolmail.letters.queue import QueueResult, preview, queue
from capitolmail.message import OutgoingMessage
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.workspace import Workspace

# `display.progress_bar`'s shape: (label, total) -> a context giving `advance(done, total)`.
ProgressBar = Callable[[str, int], AbstractContextManager[Progress]]


def load(workspace: Workspace, slug: str) -> LetterKind:
    """The letter in letters/SLUG/, prepared for its kind, every problem found at once."""
    letter = load_letter(workspace.root, slug)
    settings = workspace.settings
    roster = workspace_roster(workspace.root)
    if letter.definition.is_alert:
        secret = settings.unsubscribe_secret
        return prepare_alert(
            letter,
            root=workspace.root,
            roster=roster,
            organisation=settings.organisation,
            sender=settings.sender,
            web=settings.web,
            unsubscribe_secret=secret.get_secret_value() if secret else None,
        )
    return prepare_joint(
        letter,
        root=workspace.root,
        roster=roster,
        contacts_path=workspace.contacts_path,
        organisation=settings.organisation,
        sender=settings.sender,
        timezone=settings.timezone,
    )


def queue_letter(
    workspace: Workspace,
    kind: LetterKind,
    *,
    dry_run: bool,
    allow_resend: bool,
    progress_bar: ProgressBar,
    check_only: bool = False,
) -> QueueResult:
    """Render every message of `kind` and store the job (not with `dry_run`).

    `check_only` (`letters check`) renders everything with no resend refusal,
    and leaves the outbox closed when the recipients do not live in it.
    """
    screen = kind.example_screen(workspace.settings)
    store = workspace.store if kind.labels.audience_in_store or not check_only else None
    with progress_bar(kind.labels.progress, kind.total(store)) as advance:
        return queue(
            store,
            kind,
            now=datetime.now(UTC),
            dry_run=dry_run or check_only,
            allow_resend=allow_resend or check_only,
            resend_period=workspace.settings.resend_period,
            progress=advance,
            screen=screen,
        )


def check_letter(workspace: Workspace, kind: LetterKind, *, progress_bar: ProgressBar) -> list[str]:
    """Render every message of `kind`, store nothing; the lines `letters check` prints."""
    result = queue_letter(
        workspace,
        kind,
        dry_run=True,
        allow_resend=True,
        progress_bar=progress_bar,
        check_only=True,
    )
    return result.tally.check_lines()


def preview_letter(workspace: Workspace, kind: LetterKind, to: str | None) -> OutgoingMessage:
    """The message one recipient would get; alerts read their audience from the outbox."""
    store = workspace.store if kind.labels.audience_in_store else None
    return preview(store, kind, to)
