"""How a job reads to staff: its progress and ETA, pace, counts by state, and JSON.

Apart from display.py (the command line's rich console, tables and progress bar)
because `capitolmail status` and the web /status page must show the same numbers:
this module computes and words them, with no console or terminal in sight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from capitolmail.outbox import JobInfo, MessageInfo, PaceNote
from capitolmail.sending.job_results import job_summary, problem_counts
from capitolmail.sending.throttle import format_pace
from capitolmail.timing.durations import format_seconds

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


def when(value: datetime | None, zone: ZoneInfo | None = None) -> str:
    """A time as staff read it: in the workspace's zone when given, else the machine's."""
    return value.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if value else ""


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
                # A recipient beyond Congress (recipients/targets.csv), in place of bioguide.
                "target": m.target_id,
                "name": m.to_name,
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)
