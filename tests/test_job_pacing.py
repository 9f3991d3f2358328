"""A job's pace as a value: what `send --rate/--window` stores is what every reader gets back."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from capitolmail.timing.pacing import Pacing, PacingChange
from capitolmail.timing.rate import parse_rate
from capitolmail.timing.windows import SendWindow

NEW_YORK = ZoneInfo("America/New_York")


def test_a_change_read_back_from_its_stored_form_is_the_same_pace() -> None:
    change = PacingChange(
        rate=parse_rate("120/min"), window=SendWindow.parse("Mon-Fri 9am-5pm"), zone=NEW_YORK
    )
    stored = change.stored()
    assert stored == {
        "rate": "120/min",
        "window": "Mon-Fri 09:00-17:00",
        "timezone": "America/New_York",
    }
    pacing = Pacing.from_stored(stored)
    assert (pacing.rate, pacing.window, pacing.zone) == (change.rate, change.window, NEW_YORK)
    assert pacing.window_text() == "Mon-Fri 09:00-17:00 America/New_York"


def test_only_the_parts_given_are_stored_and_always_removes_the_window() -> None:
    assert PacingChange().stored() == {}
    assert PacingChange(rate=parse_rate("5/s")).stored() == {"rate": "5/s"}
    assert PacingChange(clear_window=True).stored() == {"window": None, "timezone": None}


def test_the_window_is_read_in_the_stored_zone() -> None:
    pacing = Pacing.from_stored({"window": "Mon-Fri 09:00-17:00", "timezone": "America/New_York"})
    monday_1330_utc = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)  # 08:30 in New York
    assert not pacing.is_open(monday_1330_utc)
    assert pacing.next_open(monday_1330_utc) == datetime(2026, 11, 30, 9, 0, tzinfo=NEW_YORK)
    assert Pacing().is_open(monday_1330_utc) and Pacing().next_open(monday_1330_utc) is None


def test_options_that_are_not_text_are_no_pace() -> None:
    assert Pacing.from_stored({"rate": 120, "window": {"start": "09:00"}}) == Pacing()
    assert Pacing.from_stored(None) == Pacing()


def test_a_stored_rate_that_is_not_a_rate_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match='"fast" is not a rate'):
        Pacing.from_stored({"rate": "fast"})
