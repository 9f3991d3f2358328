"""The report's timeline: one step per moment, at most one per tenth of a unit across."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from capitolmail.reports.charts import HEIGHT, WIDTH, timeline

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in text.split())]


def test_a_few_sends_are_a_step_each() -> None:
    sent = [START, START + timedelta(seconds=30), START + timedelta(seconds=60)]
    drawn = timeline(iter(sent), iter([]), (sent[0], sent[-1]), 4)
    assert [series.label for series in drawn.series] == ["sent"]
    points = _points(drawn.series[0].points)
    assert points == [
        (0.0, HEIGHT),
        (0.0, HEIGHT),
        (0.0, 135.0),
        (320.0, 135.0),
        (320.0, 90.0),
        (WIDTH, 90.0),
        (WIDTH, 45.0),
        (WIDTH, 45.0),
    ]
    assert drawn.series[0].total == 3


def test_three_hundred_thousand_sends_are_a_few_thousand_points_reaching_the_top() -> None:
    count = 300_000
    sent = (START + timedelta(milliseconds=index * 20) for index in range(count))
    delivered = (START + timedelta(milliseconds=index * 20 + 500) for index in range(count))
    end = START + timedelta(milliseconds=(count - 1) * 20 + 500)
    drawn = timeline(sent, delivered, (START, end), count)
    for series in drawn.series:
        points = _points(series.points)
        assert series.total == count
        assert len(points) <= 2 * (int(WIDTH * 10) + 1) + 2
        assert points[-1] == (WIDTH, 0.0)  # every message counted: the line ends at the top
        xs = [x for x, _ in points]
        assert xs == sorted(xs)


def test_nothing_sent_draws_nothing() -> None:
    assert not timeline(iter([]), iter([]), None, 10).drawn
