"""The report as one HTML page: summary, pictures and every message, no script, no network.

Rendered through templates/reports.py's environment, which escapes every value:
an office name, a bounce reply, a clicked URL or a subject is text on the page,
whatever it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

from capitolmail.job_view import STATE_ORDER
from capitolmail.reports.charts import HEIGHT, WIDTH
from capitolmail.reports.model import Report
from capitolmail.templates.reports import report_environment

# One colour per step, the same in both pictures; blue, green, purple and orange stay
# apart for readers with the common colour blindness, and each bar is labelled anyway.
COLOURS = {
    "queued": "#505a5f",
    "sent": "#1d70b8",
    "delivered": "#00703c",
    "opened": "#6f72af",
    "replied": "#6f72af",
    "clicked": "#d4351c",
    "auto-replied": "#d4351c",
}


def render_html(report: Report, *, zone: ZoneInfo, organisation: str = "") -> str:
    return "".join(html_pieces(report, zone=zone, organisation=organisation))


def html_pieces(report: Report, *, zone: ZoneInfo, organisation: str = "") -> Iterator[str]:
    """The page a piece at a time, its lines read from the outbox as they are written."""
    counts = sorted(
        report.figures.counts.items(),
        key=lambda item: STATE_ORDER.index(item[0]) if item[0] in STATE_ORDER else 99,
    )
    template = report_environment(zone).get_template("report.html.j2")
    return template.generate(
        report=report,
        job=report.job,
        figures=report.figures,
        counts=counts,
        bounced=sum(count for _, count in report.figures.bounces),
        organisation=organisation,
        colours=COLOURS,
        width=WIDTH,
        height=HEIGHT,
    )
