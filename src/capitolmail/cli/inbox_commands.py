"""`inbox sync`: read the inbound mailbox for bounces, office replies and mailto unsubscribes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import click

from capitolmail.cli.context import now, pass_workspace
from capitolmail.display import print_json
from capitolmail.tracking.inbox import open_source, unsubscribe_address
from capitolmail.tracking.inbox.sync import InboxReport, Progress, sync_inbox
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.inbox")
# How often a long sync says how far it got.
_PROGRESS_SECONDS = 5.0


@click.group("inbox")
def inbox_group() -> None:
    """The inbound mailbox: bounces, office replies and mailto unsubscribes."""


@inbox_group.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON on stdout.")
@pass_workspace
def inbox_sync_command(workspace: Workspace, as_json: bool) -> None:
    """Read new mail in the [inbox] mailbox once and apply what it says.

    Permanent bounces mark the message bounced and suppress the address, soft
    ones are counted; replies and auto-replies are recorded on the message they
    answer; a mail to the unsubscribe address from a supporter suppresses them.
    Mail is never deleted unless [inbox] delete_processed is set.
    """
    report = run_inbox_sync(workspace, progress=_progress_logger())
    if as_json:
        print_json(report.as_json())
    else:
        click.echo(f"Inbox: {report.summary()}.")


def run_inbox_sync(workspace: Workspace, *, progress: Progress | None = None) -> InboxReport:
    """One sync of the configured mailbox; shared with the worker's timer."""
    settings = workspace.settings
    return sync_inbox(
        workspace.store,
        open_source(settings),
        unsubscribe_address=unsubscribe_address(settings),
        delete_processed=settings.inbox.delete_processed,
        clock=now,
        progress=progress,
        return_path=settings.provider.smtp.return_path,
    )


def _progress_logger() -> Callable[[int, int | None], None]:
    next_line = time.monotonic() + _PROGRESS_SECONDS

    def show(done: int, total: int | None) -> None:
        nonlocal next_line
        if time.monotonic() < next_line:
            return
        next_line = time.monotonic() + _PROGRESS_SECONDS
        log.info("inbox: %s of %s new messages read", done, total if total is not None else "?")

    return show
