"""A workspace's letters, as commands use them: load one, check it, preview it, queue it.

Each command loads `letter.toml` once here and gets back the prepared kind;
what differs between kinds is decided by the kind, so a command neither knows
nor asks which kind it holds. Commands print what these return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime

from capitolmail.errors import InputError
from capitolmail.letters.definition import load_letter
from capitolmail.letters.html_review import HtmlReview
from capitolmail.letters.kind import LetterKind, Progress, Screen
from capitolmail.letters.kinds.alert import prepare_alert
from capitolmail.letters.kinds.joint_prepare import prepare_joint
from capitolmail.letters.proof import proof_messages
from capitolmail.letters.queue import QueueResult, preview, queue
from capitolmail.letters.sizes import size_screen
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage
from capitolmail.recipients.congress import stale_data_warning
from capitolmail.recipients.legislators import workspace_roster
from capitolmail.signon.review import approved_signers, count_line, queue_warning
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
    signed = approved_signers(workspace.store, slug) if letter.definition.sign_on else ()
    prepared = prepare_joint(
        letter,
        root=workspace.root,
        roster=roster,
        contacts_path=workspace.contacts_path,
        organisation=settings.organisation,
        sender=settings.sender,
        signed=signed,
        timezone=settings.timezone,
    )
    if letter.definition.sign_on is None:
        return prepared
    return replace(
        prepared,
        sign_on_count=count_line(workspace.store, slug),
        sign_on_warning=queue_warning(workspace.store, slug),
    )


def queue_letter(
    workspace: Workspace,
    kind: LetterKind,
    *,
    dry_run: bool,
    allow_resend: bool,
    progress_bar: ProgressBar,
    check_only: bool = False,
    screens: Sequence[Screen] = (),
) -> QueueResult:
    """Render every message of `kind` and store the job (not with `dry_run`).

    `check_only` (`letters check`) renders everything with no resend refusal,
    and leaves the outbox closed when the recipients do not live in it.
    """
    signers = getattr(kind, "signers", None)
    no_signers = signers is not None and not len(signers)
    if kind.letter.definition.sign_on and no_signers and not (dry_run or check_only):
        raise InputError(
            "no signers yet: approve signatures (`capitolmail signers pending "
            f"{kind.letter.slug}`) or add rows to {kind.letter.signers_display}",
            path=kind.letter.display_path,
        )
    sizes, size_note = size_screen(
        workspace.settings, outbox_dir=workspace.outbox_dir, source=kind.letter.display_path
    )
    screen = chained(kind.example_screen(workspace.settings), sizes, *screens)
    store = workspace.store if kind.labels.audience_in_store or not check_only else None
    with progress_bar(kind.labels.progress, kind.total(store)) as advance:
        result = queue(
            store,
            kind,
            now=datetime.now(UTC),
            dry_run=dry_run or check_only,
            allow_resend=allow_resend or check_only,
            resend_period=workspace.settings.resend_period,
            progress=advance,
            screen=screen,
        )
    notes = (size_note,) if size_note else ()
    return replace(result, notes=(*result.notes, *notes))


def chained(*screens: Screen | None) -> Screen | None:
    """One screen running each of `screens` in turn over the messages."""
    present = [screen for screen in screens if screen is not None]
    if not present:
        return None

    def screen(messages: Iterable[QueuedMessage]) -> Iterator[QueuedMessage]:
        stream: Iterable[QueuedMessage] = messages
        for each in present:
            stream = each(stream)
        yield from stream

    return screen


def check_letter(workspace: Workspace, kind: LetterKind, *, progress_bar: ProgressBar) -> list[str]:
    """Render every message of `kind`, store nothing; the lines `letters check` prints,
    with what the HTML parts would show badly (html_review.py), and last a warning when
    the legislators data predates the Congress in session."""
    template = kind.letter.html_template
    review = HtmlReview(template, workspace.display(template) if template else "")
    result = queue_letter(
        workspace,
        kind,
        dry_run=True,
        allow_resend=True,
        progress_bar=progress_bar,
        check_only=True,
        screens=(review.screen,),
    )
    warning = stale_data_warning(workspace_roster(workspace.root), datetime.now(UTC).date())
    return [*result.tally.check_lines(), *review.lines(), *([warning] if warning else [])]


def preview_letter(workspace: Workspace, kind: LetterKind, to: str | None) -> OutgoingMessage:
    """The message one recipient would get; alerts read their audience from the outbox."""
    store = workspace.store if kind.labels.audience_in_store else None
    return preview(store, kind, to)


def proof_letter(
    workspace: Workspace, kind: LetterKind, as_id: str | None, to: list[str]
) -> tuple[str, list[OutgoingMessage]]:
    """Whose letter it is ("for a@b.org, Name") and the letter `letters preview --to
    AS_ID` shows, once per staff address in `to`.

    Reads the outbox only for an alert's supporters, as a preview does; nothing is
    stored, so neither the job list nor the suppression list changes.
    """
    store = workspace.store if kind.labels.audience_in_store else None
    recipient = kind.pick(store, as_id)
    return kind.envelope(recipient).who, proof_messages(kind, recipient, to)
