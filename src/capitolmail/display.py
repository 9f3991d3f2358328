"""How the command line shows things: tables, summaries, progress. Presentation only.

Everything printed is plain text: letter names, subjects, addresses, a relay's
reply and our own hints ("check [provider.smtp] host") carry square brackets and
colons that rich would otherwise take for markup (`[bold]`) or emoji codes
(`:x:`), dropping or changing them. `PlainConsole` turns both off for every
string it prints, table cells included, and shows it redacted and with control
characters escaped, like errors and log lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

from capitolmail.outbox import JobInfo, MessageInfo, PaceNote
from capitolmail.printable import printable
from capitolmail.progress import RateColumn, format_seconds
from capitolmail.recipients.legislators import Legislator
from capitolmail.redaction import redact, redact_data
from capitolmail.sending.job_results import job_summary, problem_counts
from capitolmail.sending.throttle import format_pace

log = logging.getLogger("capitolmail.progress")

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


def when(value: datetime | None, zone: ZoneInfo | None = None) -> str:
    """A time as staff read it: in the workspace's zone when given, else the machine's."""
    return value.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if value else ""


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


@dataclass(frozen=True, slots=True)
class JobPlan:
    """How far a job has got and when it should finish, as `status` shows it."""

    done: int
    percent: int
    eta_seconds: float | None
    window_open: bool | None
    window_opens_at: datetime | None
    # Set when every unsent message waits for a retry: sending picks up again then.
    next_attempt_at: datetime | None = None
    next_attempt_in: float | None = None

    def eta_text(self, zone: ZoneInfo | None = None) -> str:
        if self.window_open is False and self.window_opens_at is not None:
            return f"window opens {when(self.window_opens_at, zone)}"
        if self.next_attempt_at is not None and self.next_attempt_in is not None:
            due = when(self.next_attempt_at, zone)
            return f"next retry {due} (in {format_seconds(self.next_attempt_in)})"
        if self.eta_seconds is None:
            return ""
        return f"about {format_seconds(self.eta_seconds)}"


def job_plan(job: JobInfo, now: datetime) -> JobPlan:
    """Progress, ETA and send window of a job at `now`.

    The ETA divides what is left by the pace so far (or the job's rate before
    anything is sent); it ignores the window's closed hours, which are shown
    instead of an ETA while the window is closed. When all that is left waits
    for a retry, a rate-based ETA ("about 18s" during a four-minute backoff)
    misleads: the time the next retry is due is shown instead.
    """
    unfinished = sum(job.counts.get(state, 0) for state in ("queued", "sending", "retry_wait"))
    done = job.total - unfinished
    percent = 100 if job.total == 0 else done * 100 // job.total
    window_open, opens_at = _window_state(job, now)
    if job.state != "sending" or not unfinished:
        return JobPlan(done, percent, None, window_open, opens_at)
    waiting = unfinished == job.counts.get("retry_wait", 0)
    if waiting and job.next_retry_at is not None and job.next_retry_at > now:
        wait = (job.next_retry_at - now).total_seconds()
        return JobPlan(done, percent, None, window_open, opens_at, job.next_retry_at, wait)
    pace = _pace(job, done, now)
    return JobPlan(done, percent, unfinished / pace if pace else None, window_open, opens_at)


def _pace(job: JobInfo, done: int, now: datetime) -> float | None:
    limit = job.pacing.rate.per_second if job.pacing.rate else None
    elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
    observed = done / elapsed if done and elapsed > 1 else None
    if observed is None:
        return limit
    return min(observed, limit) if limit else observed


def _window_state(job: JobInfo, now: datetime) -> tuple[bool | None, datetime | None]:
    if job.pacing.window is None:
        return None, None
    if job.pacing.is_open(now):
        return True, None
    return False, job.pacing.next_open(now)


def pace_text(job: JobInfo, throttled: PaceNote | None = None) -> str:
    parts = [str(job.pacing.rate)] if job.pacing.rate else []
    if throttled is not None and job.state == "sending":
        parts.append(f"relay throttling: {format_pace(throttled.per_second)}")
    window = job.pacing.window_text()
    if window:
        parts.append(window)
    return ", ".join(parts)


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
    now: datetime,
    failures: list[tuple[str, int]] | None = None,
    pace: PaceNote | None = None,
) -> dict[str, Any]:
    plan = job_plan(job, now)
    problems = problem_counts(job.counts)
    data: dict[str, Any] = {
        "id": job.id,
        "letter": job.letter_slug,
        "kind": job.kind,
        "state": job.state,
        # "done: 88 failed": the state, and what did not go out once the job ended.
        "summary": job_summary(job),
        "failed": problems.get("failed", 0),
        "unknown": problems.get("unknown", 0),
        "total": job.total,
        "counts": dict(job.counts),
        "created_at": _iso(job.created_at),
        "scheduled_at": _iso(job.scheduled_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "last_error": job.last_error,
        "paused_reason": job.paused_reason,
        "options": dict(job.options),
        "progress": {"done": plan.done, "total": job.total, "percent": plan.percent},
        "eta_seconds": None if plan.eta_seconds is None else round(plan.eta_seconds, 1),
        # Instead of an ETA while every unsent message waits for a retry.
        "next_attempt_at": _iso(plan.next_attempt_at),
        "window_open": plan.window_open,
        "window_opens_at": _iso(plan.window_opens_at),
        "failures": [{"reason": reason, "count": count} for reason, count in failures or []],
        # The pace a throttling provider forced on this sending job, if one is in force.
        "relay_pace": None
        if pace is None or job.state != "sending"
        else {"per_second": round(pace.per_second, 4), "since": _iso(pace.at)},
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)
