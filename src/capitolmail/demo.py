"""`capitolmail demo`: a workspace created, its example letter queued and sent to .eml files.

The whole path a real letter takes (load, render, store, schedule, send) run
once on the worked example, so a newcomer sees it work before configuring a
provider. The send step is passed in: the command line runs it with its
progress display.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from capitolmail.letters.definition import letter_slugs
from capitolmail.letters.pipeline import ProgressBar, load, queue_letter
from capitolmail.sending.sender import SendSummary
from capitolmail.workspace import Workspace, init_workspace


@dataclass(frozen=True, slots=True)
class DemoRun:
    job_id: int
    sent: int
    failed: int
    outbox: Path

    @property
    def summary(self) -> str:
        return (
            f"Sent {self.sent} messages for job {self.job_id} into {self.outbox}/ "
            f"(failed: {self.failed})."
        )


def run_demo(
    directory: Path, *, send: Callable[[Workspace], SendSummary], progress_bar: ProgressBar
) -> DemoRun:
    """Create the workspace in `directory`, queue its first letter, schedule it now, send it."""
    init_workspace(directory)
    workspace = Workspace.open(directory)
    try:
        kind = load(workspace, letter_slugs(workspace.root)[0])
        result = queue_letter(
            workspace, kind, dry_run=False, allow_resend=False, progress_bar=progress_bar
        )
        assert result.job_id is not None
        current = datetime.now(UTC)
        workspace.store.schedule_job(result.job_id, at=current, now=current)
        summary = send(workspace)
        outbox = workspace.outbox_dir / str(result.job_id)
        return DemoRun(result.job_id, summary.sent, summary.failed, outbox)
    finally:
        workspace.close()
