"""The report's two pictures as numbers: sends and deliveries over time, and the funnel.

Only geometry is computed here (points, widths, labels); the SVG itself is written
by the report template, autoescaped like the rest of the page, so no value can
become markup. Plain inline SVG: it needs no script, no network and no library,
and WeasyPrint draws it in the PDF the same way a browser does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from capitolmail.outbox.report_queries import JobFigures, JobOutline

WIDTH = 640.0  # the plot area, in SVG user units
HEIGHT = 180.0


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


def timeline(
    sent: Iterable[datetime],
    delivered: Iterable[datetime],
    span: tuple[datetime, datetime] | None,
    scale: int,
) -> Timeline:
    """The two cumulative lines, from each message's time, earliest first, read once as
    they come; `span` is the first and last of both (None: nothing was sent).

    A point is kept per tenth of a unit across the plot, so the picture of a
    300,000-message alert is a few thousand points, drawn the same as one per message.
    """
    if span is None:
        return Timeline([], None, None, 0)
    start, end = span
    seconds = (end - start).total_seconds() or 1.0
    scale = max(scale, 1)

    def line(label: str, moments: Iterable[datetime]) -> Series:
        coords: list[tuple[float, float]] = [(0.0, HEIGHT)]
        count = 0
        stepped_at = None  # the x of the last step drawn
        for count, moment in enumerate(moments, start=1):
            x = round((moment - start).total_seconds() / seconds * WIDTH, 1)
            y = HEIGHT - count / scale * HEIGHT
            if x == stepped_at:
                coords[-1] = (x, y)  # the same step, higher
                continue
            coords.append((x, coords[-1][1]))  # a step: flat, then up
            coords.append((x, y))
            stepped_at = x
        coords.append((WIDTH, coords[-1][1]))
        return Series(label, count, " ".join(f"{x:.1f},{y:.1f}" for x, y in coords))

    series = [line("sent", sent)]
    delivered_line = line("delivered", delivered)
    if delivered_line.total:
        series.append(delivered_line)
    return Timeline(series, start, end, scale)


def funnel(kind: str, outline: JobOutline, figures: JobFigures) -> Funnel:
    """queued → sent → delivered → opened (alerts) or replied (joint letters)."""
    queued = outline.queued
    counts = [("queued", queued), ("sent", outline.sent), ("delivered", outline.delivered)]
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
