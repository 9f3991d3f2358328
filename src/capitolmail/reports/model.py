"""A job's delivery report as data: one line per message, the summary, the pictures' data.

Built once from the outbox and the legislators data, then written as CSV, HTML or
PDF, so the three formats cannot disagree. The summary and the pictures are counted
in the database; the lines are read from it as a writer goes through them, so a
300,000-supporter alert's report never holds every message in memory.
`for_partners` is decided here, not in the writers: the partner version's lines
never hold an address or our error text in the first place (partners.py says what
they hold instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from capitolmail.outbox import JobInfo
from capitolmail.outbox.report_queries import JobFigures, JobOutline, Milestones
from capitolmail.recipients.legislators import Roster
from capitolmail.reports.charts import Funnel, Timeline, funnel, timeline
from capitolmail.reports.offices import Office, committee_keys, office
from capitolmail.reports.partners import partner_reason, without_addresses

# States whose message the provider may still report on, or already did.
_ENDED_BY_PROVIDER = ("bounced", "dropped", "spam_report")


class ReportStore(Protocol):
    """What a report reads from the outbox (`outbox.Store` provides it)."""

    def get_job(self, job_id: int) -> JobInfo: ...
    def job_figures(self, job_id: int) -> JobFigures: ...
    def job_outline(self, job_id: int) -> JobOutline: ...
    def job_milestones(self, job_id: int) -> Iterator[Milestones]: ...
    def job_times(self, job_id: int, milestone: str) -> Iterator[datetime]: ...


@dataclass(frozen=True, slots=True)
class Line:
    """One message in the report. `email` and `contact` are None in the partner version."""

    number: int  # 1-based, as `status --messages` numbers them
    office: Office | None  # joint letters
    contact_role: str
    contact: str | None  # the staffer's or supporter's name
    email: str | None
    milestones: Milestones
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Report:
    job: JobInfo
    subject: str
    for_partners: bool
    generated_at: datetime
    figures: JobFigures
    lines: ReportLines
    timeline: Timeline
    funnel: Funnel

    @property
    def is_alert(self) -> bool:
        return self.job.kind == "alert"


@dataclass(frozen=True, slots=True)
class ReportLines:
    """The report's lines, read from the outbox each time they are gone through."""

    store: ReportStore
    roster: Roster
    job_id: int
    keys: list[str]  # the letter's audience committees, for each office's role
    for_partners: bool

    def __iter__(self) -> Iterator[Line]:
        offices: dict[str, Office] = {}
        with closing(self.store.job_milestones(self.job_id)) as milestones:
            for item in milestones:
                found = None
                if item.bioguide:
                    found = offices.get(item.bioguide)
                    if found is None:
                        found = offices.setdefault(
                            item.bioguide, office(self.roster, item.bioguide, self.keys)
                        )
                yield _line(item, found, self.for_partners)


def build_report(
    store: ReportStore,
    roster: Roster,
    job_id: int,
    *,
    committees: list[str],
    now: datetime,
    for_partners: bool,
) -> Report:
    """The report of job `job_id`; `committees` are the letter's audience committees,
    for each office's committee role (empty when the letter is gone or has none)."""
    job = store.get_job(job_id)
    figures = store.job_figures(job_id)
    outline = store.job_outline(job_id)
    if for_partners:
        figures = _partner_figures(figures)
    subject = outline.subject
    with (
        closing(store.job_times(job_id, "sent")) as sent,
        closing(store.job_times(job_id, "delivered")) as delivered,
    ):
        drawn = timeline(sent, delivered, outline.span, outline.queued)
    return Report(
        job=job,
        subject=without_addresses(subject) if for_partners else subject,
        for_partners=for_partners,
        generated_at=now,
        figures=figures,
        lines=ReportLines(store, roster, job_id, committee_keys(roster, committees), for_partners),
        timeline=drawn,
        funnel=funnel(job.kind, outline, figures),
    )


def _line(item: Milestones, found: Office | None, for_partners: bool) -> Line:
    raw = item.ending if item.state in _ENDED_BY_PROVIDER else item.last_error
    reason = partner_reason(item.state, raw) if for_partners else raw or ""
    return Line(
        number=item.seq + 1,
        office=found,
        contact_role=item.contact_role or "",
        contact=None if for_partners else item.to_name,
        email=None if for_partners else item.to_email,
        milestones=item,
        state=item.state,
        reason=reason,
    )


def _partner_figures(figures: JobFigures) -> JobFigures:
    """Bounces by the partner's reason (a status code, not a server's reply)."""
    counts: dict[str, int] = {}
    for state, raw, count in figures.endings:
        reason = partner_reason(state, raw)
        counts[reason] = counts.get(reason, 0) + count
    bounces = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return replace(figures, bounces=bounces)
