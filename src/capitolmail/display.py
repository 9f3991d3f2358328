"""How the command line shows things: tables, summaries, progress. Presentation only."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from capitolmail.outbox import JobInfo, MessageInfo
from capitolmail.recipients.legislators import Legislator

# Order in which `status` shows message states: the working ones first.
STATE_ORDER = (
    "queued",
    "sending",
    "retry_wait",
    "sent",
    "delivered",
    "failed",
    "unknown",
    "suppressed",
    "cancelled",
    "bounced",
    "dropped",
    "spam_report",
)

# Piped output is read by scripts and `less`: give tables room instead of truncating them.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value else ""


def legislators_table(legislators: Iterable[Legislator], committee: str | None) -> Table:
    table = Table(show_lines=False)
    for column in ("bioguide", "name", "title", "state", "district", "party"):
        table.add_column(column)
    if committee:
        table.add_column("rank", justify="right")
        table.add_column("role")
    for leg in legislators:
        row = [
            leg.bioguide,
            leg.full_name,
            leg.title,
            leg.state,
            "" if leg.district is None else str(leg.district),
            leg.party or "",
        ]
        if committee:
            seat = leg.seat(committee)
            rank = str(seat.rank) if seat and seat.rank else ""
            row += [rank, (seat.title or "") if seat else ""]
        table.add_row(*row)
    return table


def jobs_table(jobs: Iterable[JobInfo]) -> Table:
    table = Table()
    for column in ("job", "letter", "state", "total", "messages", "created", "scheduled", "rate"):
        table.add_column(column, justify="right" if column in ("job", "total") else "left")
    for job in jobs:
        state = job.state + (f" ({job.paused_reason})" if job.paused_reason else "")
        table.add_row(
            str(job.id),
            job.letter_slug,
            state,
            str(job.total),
            counts_text(job.counts),
            when(job.created_at),
            when(job.scheduled_at),
            str(job.options.get("rate") or ""),
        )
    return table


def counts_text(counts: dict[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: _state_rank(kv[0]))
    return ", ".join(f"{state} {n}" for state, n in ordered if n)


def messages_table(messages: Iterable[MessageInfo]) -> Table:
    table = Table()
    for column in ("#", "to", "office", "role", "state", "tries", "last error / next retry"):
        table.add_column(column)
    for msg in messages:
        note = msg.last_error or ""
        if msg.next_attempt_at and msg.state == "retry_wait":
            note = f"{note} (next {when(msg.next_attempt_at)})"
        table.add_row(
            str(msg.seq + 1),
            msg.to_email,
            msg.bioguide or "",
            msg.contact_role or "",
            msg.state,
            str(msg.attempts),
            note,
        )
    return table


def job_json(
    job: JobInfo,
    messages: list[MessageInfo] | None = None,
    *,
    failures: list[tuple[str, int]] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": job.id,
        "letter": job.letter_slug,
        "kind": job.kind,
        "state": job.state,
        "total": job.total,
        "counts": dict(job.counts),
        "created_at": _iso(job.created_at),
        "scheduled_at": _iso(job.scheduled_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "last_error": job.last_error,
        "paused_reason": job.paused_reason,
        "options": dict(job.options),
        "failures": [{"reason": reason, "count": count} for reason, count in failures or []],
    }
    if messages is not None:
        data["messages"] = [
            {
                "id": m.id,
                "to": m.to_email,
                "bioguide": m.bioguide,
                "role": m.contact_role,
                "state": m.state,
                "attempts": m.attempts,
                "last_error": m.last_error,
                "next_attempt_at": _iso(m.next_attempt_at),
                "provider_message_id": m.provider_message_id,
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ]
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Any]:
    """A rich bar with rate and ETA on a terminal; silent otherwise (the summary follows)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance(done: int, total_now: int | None = None) -> None:
            progress.update(task, completed=done, total=total_now or total)

        yield advance


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)
