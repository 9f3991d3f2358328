"""The report's two pictures as numbers: sends and deliveries over time, and the funnel.

Only geometry is computed here (points, widths, labels); the SVG itself is written
by the report template, autoescaped like the rest of the page, so no value can
become markup. Plain inline SVG: it needs no script, no network and no library,
and WeasyPrint draws it in the PDF the same way a browser does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from capitolmail.outbox.report_queries import JobFigures, Milestones

WIDTH = 640.0  # the plot area, in SVG user units
HEIGHT = 180.0
_SENT_STATES = frozenset({"sent", "delivered", "bounced", "dropped", "spam_report", "unknown"})


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    total: int
    points: str  # "x,y x,y ..." for an SVG polyline


@dataclass(frozen=True, slots=True)
class Timeline:
    """Cumulative sends and deliveries; `series` is empty when there is nothing to draw."""

    series: list[Series]
    start: datetime | None
    end: datetime | None
    scale: int  # the count at the top of the plot

    @property
    def drawn(self) -> bool:
        return bool(self.series)


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    count: int
    width: float  # of WIDTH
    percent: int  # of the first step


@dataclass(frozen=True, slots=True)
class Funnel:
    steps: list[Step]


def timeline(messages: Sequence[Milestones]) -> Timeline:
    sent = sorted(m.sent_at for m in messages if m.sent_at is not None)
    delivered = sorted(m.delivered_at for m in messages if m.delivered_at is not None)
    times = sent + delivered
    if not times:
        return Timeline([], None, None, 0)
    start, end = min(times), max(times)
    span = (end - start).total_seconds() or 1.0
    scale = max(len(messages), 1)

    def points(moments: list[datetime]) -> str:
        coords = [(0.0, HEIGHT)]
        for count, moment in enumerate(moments, start=1):
            x = (moment - start).total_seconds() / span * WIDTH
            y = HEIGHT - count / scale * HEIGHT
            coords.append((x, coords[-1][1]))  # a step: flat, then up
            coords.append((x, y))
        coords.append((WIDTH, coords[-1][1]))
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)

    series = [Series("sent", len(sent), points(sent))]
    if delivered:
        series.append(Series("delivered", len(delivered), points(delivered)))
    return Timeline(series, start, end, scale)


def funnel(kind: str, messages: Sequence[Milestones], figures: JobFigures) -> Funnel:
    """queued → sent → delivered → opened (alerts) or replied (joint letters)."""
    queued = len(messages)
    sent = sum(1 for m in messages if m.sent_at is not None or m.state in _SENT_STATES)
    delivered = sum(1 for m in messages if m.delivered_at is not None or m.state == "delivered")
    counts = [("queued", queued), ("sent", sent), ("delivered", delivered)]
    if kind == "alert":
        counts += [("opened", figures.opens_unique), ("clicked", figures.clicks_unique)]
    else:
        counts += [("replied", figures.replies), ("auto-replied", figures.auto_replies)]
    top = max(queued, 1)
    return Funnel(
        [
            Step(label, count, round(count / top * WIDTH, 1), count * 100 // top)
            for label, count in counts
        ]
    )
