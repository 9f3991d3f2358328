"""How the command line shows things: tables, summaries, progress. Presentation only.

Everything printed is plain text: letter names, subjects, addresses, a relay's
reply and our own hints ("check [provider.smtp] host") carry square brackets and
colons that rich would otherwise take for markup (`[bold]`) or emoji codes
(`:x:`), dropping or changing them. `PlainConsole` turns both off for every
string it prints, table cells included, and shows it redacted and with control
characters escaped, like errors and log lines.

What a job's numbers mean (progress, ETA, pace, JSON) is job_view.py's, shared
with the web status page; this module only lays them out for a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from rich.text import Text

from capitolmail.job_view import counts_text, job_plan, pace_text, when
from capitolmail.outbox import JobInfo, MessageInfo, PaceNote
from capitolmail.printable import printable
from capitolmail.progress import RateColumn
from capitolmail.recipients.legislators import Legislator
from capitolmail.redaction import redact, redact_data
from capitolmail.sending.job_results import job_summary
from capitolmail.timing.durations import format_seconds

log = logging.getLogger("capitolmail.progress")


class PlainConsole(Console):
    """A rich console that prints every string as it is: no markup, no emoji codes.

    `render_str` is where rich turns each printed string and table cell into
    text, so one override covers them all. Each line printed is kept one line:
    print several lines with several calls.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(redact(text)), **kwargs)


# Piped output is read by scripts and `less`: give tables room instead of truncating them.
out = PlainConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = PlainConsole(stderr=True, soft_wrap=True)


def legislators_table(legislators: Iterable[Legislator], committee: str | None) -> Table:
    header, rows = legislator_rows(legislators, committee, details=False)
    table = Table(show_lines=False)
    for column in header:
        table.add_column(column, justify="right" if column == "rank" else "left")
    for row in rows:
        table.add_row(*row)
    return table


def legislator_rows(
    legislators: Iterable[Legislator], committee: str | None, *, details: bool = True
) -> tuple[list[str], list[list[str]]]:
    """The columns of `legislators list`, with office phone and address for csv and json."""
    header = ["bioguide", "name", "title", "state", "district", "party"]
    header += ["rank", "role"] if committee else []
    header += ["phone", "address"] if details else []
    rows = []
    for leg in legislators:
        district = "" if leg.district is None else str(leg.district)
        row = [leg.bioguide, leg.full_name, leg.title, leg.state, district, leg.party or ""]
        if committee:
            seat = leg.seat(committee)
            rank = str(seat.rank) if seat and seat.rank else ""
            row += [rank, (seat.title or "") if seat else ""]
        if details:
            row += [leg.phone or "", leg.address or ""]
        rows.append(row)
    return header, rows


def jobs_table(
    jobs: Iterable[JobInfo],
    now: datetime,
    zone: ZoneInfo | None = None,
    paces: dict[int, PaceNote] | None = None,
) -> Table:
    table = Table()
    columns = ("job", "letter", "state", "progress", "messages", "scheduled", "pace", "eta")
    for column in columns:
        table.add_column(column, justify="right" if column in ("job", "progress") else "left")
    for job in jobs:
        reason = job.paused_reason or (job.last_error if job.state == "missed" else None)
        state = job_summary(job) + (f" ({reason})" if reason else "")
        plan = job_plan(job, now)
        table.add_row(
            str(job.id),
            job.letter_slug,
            state,
            f"{plan.done}/{job.total} {plan.percent}%",
            counts_text(job.counts),
            when(job.scheduled_at, zone),
            pace_text(job, (paces or {}).get(job.id)),
            plan.eta_text(zone),
        )
    return table


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
            msg.bioguide or msg.target_id or "",
            msg.contact_role or "",
            msg.state,
            str(msg.attempts),
            note,
        )
    return table


def print_json(data: Any) -> None:
    """`--json` output: every string redacted (JSON escapes control characters itself)."""
    sys.stdout.write(json.dumps(redact_data(data), indent=2, ensure_ascii=False) + "\n")


@contextmanager
def progress_bar(description: str, total: int, *, log_every: float = 5.0) -> Iterator[Any]:
    """A rich bar with rate and ETA on a terminal; a log line every few seconds otherwise.

    A queue of 300,000 alerts run from cron or CI takes a minute or more: its log
    should say it is moving, and how fast, without a bar's control characters.
    """
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    live = err.is_terminal  # a bar, or log lines: decided once, not at every step
    started = time.monotonic()
    next_log = started + log_every
    with progress:
        task = progress.add_task(printable(description), total=total)

        def advance(done: int, total_now: int | None = None) -> None:
            nonlocal next_log
            progress.update(task, completed=done, total=total_now or total)
            now = time.monotonic()
            if live or now < next_log:
                return
            next_log = now + log_every
            of = total_now or total
            rate = done / (now - started)
            left = f", about {format_seconds((of - done) / rate)} left" if rate and of else ""
            log.info(
                "%s: %s of %s (%.0f%%), %.0f/s%s",
                description,
                f"{done:,}",
                f"{of:,}",
                100 * done / of if of else 100,
                rate,
                left,
                extra={"done": done, "total": of, "rate_per_second": round(rate, 1)},
            )

        yield advance
