"""/status, the page staff keep open during a send, and /healthz for monitoring.

/status shows what `capitolmail status` shows (it reuses job_view.py's numbers,
and reports/summary.py's words for each job's delivery summary) and refreshes
itself. It needs CAPITOLMAIL_STATUS_TOKEN, as a bearer token for
scripts or as the password of HTTP basic auth for a browser (any user name),
compared in constant time. Without a token configured it answers 503 rather
than opening the page to everyone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from capitolmail.errors import StoreError
from capitolmail.job_view import counts_text, job_plan, pace_text, when
from capitolmail.outbox import JobInfo
from capitolmail.outbox.report_queries import JobFigures
from capitolmail.reports.summary import summary_lines
from capitolmail.web.context import web_context
from capitolmail.web.pages import SECURITY_HEADERS, render

log = logging.getLogger("capitolmail.web.status")

REFRESH_SECONDS = 5
# Jobs shown, newest first: the page must stay quick with years of history.
MAX_JOBS = 50
_PROBLEM_STATES = ("failed", "unknown", "retry_wait")
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="capitolmail status", charset="UTF-8"'}


class JobStatusReads(Protocol):
    """All the status page reads from the outbox (`outbox.Store` provides it): the
    page is read-only, and naming the two reads keeps it so."""

    def list_jobs(self) -> list[JobInfo]: ...

    def failure_summary(self, job_id: int) -> list[tuple[str, int]]: ...

    def job_figures(self, job_id: int) -> JobFigures: ...


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    letter: str
    kind: str
    state: str
    total: int
    done: int
    percent: int
    counts: str
    scheduled: str
    pace: str
    eta: str
    failures: list[tuple[str, int]]
    summary: list[str]  # the delivery report's summary, as `status JOB` words it


def presented_token(authorization: str | None) -> str | None:
    """The token from `Bearer TOKEN`, or the password from `Basic base64(user:TOKEN)`."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        _, colon, password = decoded.partition(":")
        return password if colon else None
    return None


def token_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


async def status_page(request: Request) -> Response:
    web = web_context(request)
    token = web.settings.status_token
    if token is None or not token.get_secret_value():
        log.error("refused /status: CAPITOLMAIL_STATUS_TOKEN is not set")
        return PlainTextResponse(
            "The status page is switched off: set CAPITOLMAIL_STATUS_TOKEN (in .env or the "
            "environment) and restart capitolmail serve.",
            503,
            headers=SECURITY_HEADERS,
        )
    presented = presented_token(request.headers.get("authorization"))
    if not token_matches(presented, token.get_secret_value()):
        # A token pasted into the URL is never read: URLs end up in access logs,
        # proxy logs and browser history.
        in_url = (
            " The token is not accepted in the URL, which logs keep." if request.url.query else ""
        )
        return PlainTextResponse(
            "Authorization required: the status token as a bearer token, or as the password "
            f"of HTTP basic auth.{in_url}",
            401,
            headers={**SECURITY_HEADERS, **_CHALLENGE},
        )
    now = datetime.now(UTC)
    jobs = await run_in_threadpool(_job_rows, web.store, now, web.zone)
    return render(
        web.pages,
        "status.html.j2",
        jobs=jobs,
        organisation=web.settings.organisation.name,
        generated=when(now, web.zone),
        refresh_seconds=REFRESH_SECONDS,
    )


def _job_rows(store: JobStatusReads, now: datetime, zone: ZoneInfo) -> list[JobRow]:
    return [_job_row(store, job, now, zone) for job in store.list_jobs()[:MAX_JOBS]]


def _job_row(store: JobStatusReads, job: JobInfo, now: datetime, zone: ZoneInfo) -> JobRow:
    plan = job_plan(job, now)
    reason = job.paused_reason or (job.last_error if job.state == "missed" else None)
    has_problems = any(job.counts.get(state) for state in _PROBLEM_STATES)
    return JobRow(
        id=job.id,
        letter=job.letter_slug,
        kind=job.kind,
        state=str(job.state) + (f" ({reason})" if reason else ""),
        total=job.total,
        done=plan.done,
        percent=plan.percent,
        counts=counts_text(job.counts),
        scheduled=when(job.scheduled_at, zone),
        pace=pace_text(job),
        eta=plan.eta_text(zone),
        failures=store.failure_summary(job.id) if has_problems else [],
        summary=summary_lines(store.job_figures(job.id), job.kind),
    )


async def healthz(request: Request) -> Response:
    """200 once the database answers a trivial query; 503 otherwise, for the monitor."""
    web = web_context(request)
    try:
        await run_in_threadpool(web.store.ping)
    except StoreError as err:
        log.error("health check failed: %s", err)
        return JSONResponse({"status": "unavailable"}, 503, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
