"""`--at WHEN` and send windows, asserted as exact UTC instants.

The dates are the US changes of 2026-11-01 (fall back) and 2027-03-14 (spring forward)
and the UK's of 2027-03-28, each with the Friday before and the Monday after.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from capitolmail.timing.when import describe_instant, is_ambiguous, is_past, parse_when
from capitolmail.timing.windows import SendWindow

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Mon 30 Nov 2026 07:00 EST


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


# --- parse_when ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T09:00:00-05:00", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01T09:00-0500", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01 09:00:00+01:00", utc(2026, 12, 1, 8, 0)),
        ("2026-12-01T14:00Z", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01t14:00:00z", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01 14:00 UTC", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01T14:00:00.250Z", utc(2026, 12, 1, 14, 0) + timedelta(milliseconds=250)),
    ],
)
def test_a_time_with_an_offset_is_that_instant(text: str, expected: datetime) -> None:
    assert parse_when(text, NEW_YORK, NOW).astimezone(UTC) == expected


def test_the_offset_given_is_kept() -> None:
    when = parse_when("2026-12-01T09:00:00+01:00", NEW_YORK, NOW)
    assert when.isoformat() == "2026-12-01T09:00:00+01:00"
    assert parse_when("2026-12-01T14:00Z", NEW_YORK, NOW).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 09:00", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01T09:00", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01 9:00am", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01 9AM", utc(2026, 12, 1, 14, 0)),
        ("2026-12-01 12:30 pm", utc(2026, 12, 1, 17, 30)),
        ("2026-12-01 12:15am", utc(2026, 12, 1, 5, 15)),
        ("  2026-07-01 09:00:30 ", utc(2026, 7, 1, 13, 0, 30)),  # EDT in summer
        ("tomorrow 09:00", utc(2026, 12, 1, 14, 0)),
        ("today 18:00", utc(2026, 11, 30, 23, 0)),
    ],
)
def test_a_time_without_an_offset_is_wall_time_in_the_zone(text: str, expected: datetime) -> None:
    when = parse_when(text, NEW_YORK, NOW)
    assert when.astimezone(UTC) == expected
    assert when.tzinfo is NEW_YORK


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 12, 1, 13, 0), utc(2026, 12, 1, 14, 0)),  # 08:00 EST: later today
        (utc(2026, 12, 1, 13, 59), utc(2026, 12, 1, 14, 0)),
        (utc(2026, 12, 1, 14, 0), utc(2026, 12, 2, 14, 0)),  # exactly 09:00: tomorrow
        (utc(2026, 12, 1, 15, 0), utc(2026, 12, 2, 14, 0)),  # 10:00 EST: tomorrow
        (utc(2026, 12, 2, 3, 0), utc(2026, 12, 2, 14, 0)),  # 22:00 EST on the 1st, by local date
        (utc(2027, 3, 13, 15, 0), utc(2027, 3, 14, 13, 0)),  # Sat 10:00 EST -> Sun 09:00 EDT
    ],
)
def test_a_bare_time_is_its_next_occurrence(now: datetime, expected: datetime) -> None:
    assert parse_when("09:00", NEW_YORK, now).astimezone(UTC) == expected


def test_tomorrow_counts_from_the_local_date_not_the_utc_one() -> None:
    late_evening = utc(2026, 12, 2, 3, 0)  # 22:00 EST on 1 Dec
    assert parse_when("tomorrow 09:00", NEW_YORK, late_evening).astimezone(UTC) == utc(
        2026, 12, 2, 14, 0
    )


def test_a_time_in_the_spring_forward_gap_is_refused_naming_the_time_meant() -> None:
    with pytest.raises(ValueError) as caught:
        parse_when("2027-03-14 02:30", NEW_YORK, NOW)
    assert str(caught.value) == (
        '"2027-03-14 02:30" does not exist in America/New_York: clocks jump from '
        "02:00 EST to 03:00 EDT; did you mean 03:30 EDT (2027-03-14T03:30:00-04:00)?"
    )


def test_a_bare_time_in_todays_gap_names_the_date() -> None:
    before_the_jump = utc(2027, 3, 14, 6, 0)  # 01:00 EST
    with pytest.raises(ValueError) as caught:
        parse_when("02:30", NEW_YORK, before_the_jump)
    assert str(caught.value) == (
        '"02:30" (2027-03-14 02:30) does not exist in America/New_York: clocks jump from '
        "02:00 EST to 03:00 EDT; did you mean 03:30 EDT (2027-03-14T03:30:00-04:00)?"
    )


def test_a_bare_time_whose_gap_has_passed_is_tomorrow() -> None:
    after_the_jump = utc(2027, 3, 14, 7, 10)  # 03:10 EDT
    assert parse_when("02:30", NEW_YORK, after_the_jump).astimezone(UTC) == utc(2027, 3, 15, 6, 30)


def test_the_gap_message_uses_the_zones_own_names() -> None:
    with pytest.raises(ValueError, match=r"from 01:00 GMT to 02:00 BST; did you mean 02:30 BST"):
        parse_when("2027-03-28 01:30", LONDON, NOW)


def test_a_repeated_time_is_the_first_occurrence() -> None:
    when = parse_when("2026-11-01 01:30", NEW_YORK, NOW)
    assert when.astimezone(UTC) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST
    assert when.fold == 0
    assert describe_instant(when, NEW_YORK) == "Sun 1 Nov 2026 01:30 EDT (05:30 UTC)"
    assert is_ambiguous(when.replace(tzinfo=None), NEW_YORK)


def test_the_second_occurrence_can_be_had_with_an_offset() -> None:
    when = parse_when("2026-11-01T01:30-05:00", NEW_YORK, NOW)
    assert when.astimezone(UTC) == utc(2026, 11, 1, 6, 30)
    assert describe_instant(when, NEW_YORK) == "Sun 1 Nov 2026 01:30 EST (06:30 UTC)"


def test_a_bare_time_in_the_repeated_hour_takes_the_second_when_the_first_has_passed() -> None:
    between = utc(2026, 11, 1, 5, 45)  # 01:45 EDT, the first time round
    when = parse_when("01:30", NEW_YORK, between)
    assert when.astimezone(UTC) == utc(2026, 11, 1, 6, 30)  # 01:30 EST
    assert when.fold == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("next tuesday", '"next tuesday" is not a date and time; write it like'),
        ("", '"" is not a date and time'),
        ("9", '"9" is not a date and time'),
        ("2026-12-01", '"2026-12-01" has no time of day'),
        ("2026-02-30 09:00", '"2026-02-30 09:00": 2026-02-30 is not a date'),
        ("2026-12-01 25:00", '"2026-12-01 25:00": the hour runs 00-23'),
        ("2026-12-01 09:61", '"2026-12-01 09:61": minutes and seconds run 00-59'),
        ("13:00pm", '"13:00pm": with am/pm the hour runs 1-12'),
        ("09:00Z", '"09:00Z": give a date with an offset'),
        ("2026-12-01T09:00+25:00", '"2026-12-01T09:00+25:00": +25:00 is not a UTC offset'),
    ],
)
def test_garbage_is_quoted_back(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_when(text, NEW_YORK, NOW)
    assert str(caught.value).startswith(message)


def test_garbage_gets_two_examples() -> None:
    with pytest.raises(ValueError) as caught:
        parse_when("soon", NEW_YORK, NOW)
    assert str(caught.value) == (
        '"soon" is not a date and time; write it like "2026-12-01 09:00" '
        '(in America/New_York) or "2026-12-01T14:00Z"'
    )


def test_past_times_are_returned_for_the_caller_to_refuse() -> None:
    when = parse_when("2020-01-01 09:00", NEW_YORK, NOW)
    assert when.astimezone(UTC) == utc(2020, 1, 1, 14, 0)
    assert is_past(when, NOW)
    assert not is_past(NOW, NOW)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("09:00", NEW_YORK, datetime(2026, 12, 1, 9, 0))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 12, 1, 14, 0), "Tue 1 Dec 2026 09:00 EST (14:00 UTC)"),
        (utc(2026, 12, 2, 2, 0), "Tue 1 Dec 2026 21:00 EST (02:00 UTC Wed 2 Dec 2026)"),
        (utc(2027, 3, 15, 13, 0, 30), "Mon 15 Mar 2027 09:00:30 EDT (13:00:30 UTC)"),
    ],
)
def test_describe_instant(moment: datetime, expected: str) -> None:
    assert describe_instant(moment, NEW_YORK) == expected


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (datetime(2026, 11, 1, 1, 0), True),
        (datetime(2026, 11, 1, 1, 59), True),
        (datetime(2026, 11, 1, 2, 0), False),
        (datetime(2026, 11, 1, 0, 59), False),
        (datetime(2027, 3, 14, 2, 30), False),  # a gap is missing, not ambiguous
        (datetime(2026, 12, 1, 9, 0), False),
    ],
)
def test_is_ambiguous_only_in_the_repeated_hour(wall: datetime, expected: bool) -> None:
    assert is_ambiguous(wall, NEW_YORK) is expected


# --- SendWindow: parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "canonical", "days", "start", "end"),
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}, time(9), time(17)),
        ("Mon,Wed,Fri 10:00-16:00", "Mon,Wed,Fri 10:00-16:00", {0, 2, 4}, time(10), time(16)),
        ("Tue-Thu 9:00-17:30", "Tue-Thu 09:00-17:30", {1, 2, 3}, time(9), time(17, 30)),
        ("daily 08:00-20:00", "daily 08:00-20:00", set(range(7)), time(8), time(20)),
        ("Sat-Sun 10:00-14:00", "Sat-Sun 10:00-14:00", {5, 6}, time(10), time(14)),
        ("Fri-Mon 09:00-17:00", "Fri-Mon 09:00-17:00", {4, 5, 6, 0}, time(9), time(17)),
        ("MONDAY-friday 9am-5pm", "Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}, time(9), time(17)),
        ("mon , wed, fri 10:00 - 16:00", "Mon,Wed,Fri 10:00-16:00", {0, 2, 4}, time(10), time(16)),
        ("Thurs,Tues 08:00-09:00", "Tue,Thu 08:00-09:00", {1, 3}, time(8), time(9)),
        ("Mon-Sun 08:00-20:00", "daily 08:00-20:00", set(range(7)), time(8), time(20)),
        ("weekdays 09:00-17:00", "Mon-Fri 09:00-17:00", {0, 1, 2, 3, 4}, time(9), time(17)),
        ("Sun,Mon,Wed 09:00-17:00", "Wed,Sun-Mon 09:00-17:00", {6, 0, 2}, time(9), time(17)),
        ("Mon-Fri 00:00-23:59", "Mon-Fri 00:00-23:59", {0, 1, 2, 3, 4}, time(0), time(23, 59)),
    ],
)
def test_window_parses_and_prints_canonically(
    spec: str, canonical: str, days: set[int], start: time, end: time
) -> None:
    window = SendWindow.parse(spec)
    assert window == SendWindow(frozenset(days), start, end)
    assert str(window) == canonical
    assert SendWindow.parse(str(window)) == window


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Mon-Fri 17:00-09:00", "ends at 09:00, before it starts at 17:00; .* cross midnight"),
        ("Mon-Fri 18:00-00:00", 'midnight \\(to send until midnight, end at "23:59"\\)'),
        ("Mon-Fri 09:00-09:00", "opens and closes at 09:00"),
        ("Mnday-Fri 09:00-17:00", '"Mnday" is not a day \\(did you mean "Monday"\\?\\)'),
        ("Mo-Fr 09:00-17:00", '"Mo" is not a day'),
        ("Mon,,Fri 09:00-17:00", '"" is not a day'),
        ("Mon-Fri 9-5", '"9" is not a time of day'),
        ("Mon-Fri 25:00-26:00", '"25:00" is not a time of day'),
        ("Mon-Fri 13pm-14pm", "with am/pm the hour runs 1-12"),
        ("Mon-Fri", "is not a send window; write it like"),
        ("09:00-17:00", "is not a send window"),
        ("", "is not a send window"),
    ],
)
def test_bad_windows_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        SendWindow.parse(spec)
    assert str(caught.value).startswith(f'"{spec}"')


def test_a_window_cannot_be_built_backwards_either() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        SendWindow(frozenset({0}), time(17), time(9))
    with pytest.raises(ValueError, match="days"):
        SendWindow(frozenset({7}), time(9), time(17))


# --- SendWindow: contains, next_open, closes_at ----------------------------------------

WEEKDAYS = SendWindow.parse("Mon-Fri 09:00-17:00")


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (utc(2026, 12, 1, 14, 0), True),  # Tue 09:00 EST: start is inside
        (utc(2026, 12, 1, 13, 59, 59), False),
        (utc(2026, 12, 1, 21, 59, 59), True),
        (utc(2026, 12, 1, 22, 0), False),  # Tue 17:00 EST: end is outside
        (utc(2026, 12, 5, 15, 0), False),  # Sat 10:00 EST
        (utc(2026, 12, 7, 0, 0), False),  # Sun 19:00 EST, already Monday in UTC
        (utc(2027, 3, 15, 13, 0), True),  # Mon 09:00 EDT after spring forward
        (utc(2027, 3, 15, 12, 30), False),  # Mon 08:30 EDT though 13:30 would be EST's 09:00
    ],
)
def test_contains_at_the_edges(at: datetime, inside: bool) -> None:
    assert WEEKDAYS.contains(at, NEW_YORK) is inside


@pytest.mark.parametrize(
    ("window", "at", "zone", "expected"),
    [
        # Fri 17:00 EST -> Mon 09:00 EDT over the spring-forward weekend
        (WEEKDAYS, utc(2027, 3, 12, 22, 0), NEW_YORK, utc(2027, 3, 15, 13, 0)),
        # Fri 17:00 EDT -> Mon 09:00 EST over the fall-back weekend
        (WEEKDAYS, utc(2026, 10, 30, 21, 0), NEW_YORK, utc(2026, 11, 2, 14, 0)),
        # Saturday itself, either weekend
        (WEEKDAYS, utc(2027, 3, 13, 15, 0), NEW_YORK, utc(2027, 3, 15, 13, 0)),
        (WEEKDAYS, utc(2026, 10, 31, 15, 0), NEW_YORK, utc(2026, 11, 2, 14, 0)),
        # Before opening on the same day
        (WEEKDAYS, utc(2026, 12, 1, 11, 0), NEW_YORK, utc(2026, 12, 1, 14, 0)),
        # The weekend days themselves open at local 10:00 on either side of the change
        (SendWindow.parse("Sat-Sun 10:00-14:00"), utc(2027, 3, 13, 19, 0), NEW_YORK,
         utc(2027, 3, 14, 14, 0)),
        (SendWindow.parse("daily 08:00-20:00"), utc(2026, 11, 1, 0, 0), NEW_YORK,
         utc(2026, 11, 1, 13, 0)),
        # Wrapping day range: Tue 17:00 EST -> Fri 09:00 EST
        (SendWindow.parse("Fri-Mon 09:00-17:00"), utc(2026, 12, 1, 22, 0), NEW_YORK,
         utc(2026, 12, 4, 14, 0)),
        # Wrapping day range: Sun 17:00 -> Mon 09:00
        (SendWindow.parse("Fri-Mon 09:00-17:00"), utc(2026, 12, 6, 22, 0), NEW_YORK,
         utc(2026, 12, 7, 14, 0)),
        # London: Fri 17:00 GMT -> Mon 09:00 BST over 2027-03-28
        (WEEKDAYS, utc(2027, 3, 26, 17, 0), LONDON, utc(2027, 3, 29, 8, 0)),
    ],
)  # fmt: skip
def test_next_open_is_local_wall_time_across_changes(
    window: SendWindow, at: datetime, zone: ZoneInfo, expected: datetime
) -> None:
    opens = window.next_open(at, zone)
    assert opens.astimezone(UTC) == expected
    assert opens.tzinfo is zone
    assert window.contains(opens, zone)


@pytest.mark.parametrize(
    "at", [utc(2026, 12, 1, 14, 0), utc(2026, 12, 1, 18, 0), utc(2026, 12, 1, 21, 59)]
)
def test_next_open_from_inside_is_at_itself(at: datetime) -> None:
    assert WEEKDAYS.next_open(at, NEW_YORK) is at


def test_a_start_in_the_gap_opens_when_the_clocks_jump() -> None:
    window = SendWindow.parse("Sun 02:30-05:00")
    opens = window.next_open(utc(2027, 3, 13, 22, 0), NEW_YORK)
    assert opens.astimezone(UTC) == utc(2027, 3, 14, 7, 0)
    assert opens.isoformat() == "2027-03-14T03:00:00-04:00"
    assert window.closes_at(opens, NEW_YORK).astimezone(UTC) == utc(2027, 3, 14, 9, 0)
    assert not window.contains(utc(2027, 3, 14, 6, 59), NEW_YORK)  # 01:59 EST


def test_an_end_in_the_gap_closes_when_the_clocks_jump() -> None:
    window = SendWindow.parse("Sun 01:00-02:30")
    assert window.closes_at(utc(2027, 3, 14, 6, 30), NEW_YORK).astimezone(UTC) == utc(
        2027, 3, 14, 7, 0
    )


@pytest.mark.parametrize(
    ("zone", "spec", "at", "expected"),
    [
        (NEW_YORK, "Sun 02:10-02:50", utc(2027, 3, 14, 0, 0), utc(2027, 3, 21, 6, 10)),
        # the only case past 8 days: from Monday, the next Sunday's window does not exist
        (LONDON, "Sun 01:15-01:45", utc(2027, 3, 22, 0, 0), utc(2027, 4, 4, 0, 15)),
    ],
)
def test_a_window_wholly_inside_the_gap_skips_to_the_next_week(
    zone: ZoneInfo, spec: str, at: datetime, expected: datetime
) -> None:
    window = SendWindow.parse(spec)
    assert window.next_open(at, zone).astimezone(UTC) == expected


def test_a_start_in_the_repeated_hour_is_the_first_occurrence() -> None:
    window = SendWindow.parse("Sun 01:30-03:00")
    opens = window.next_open(utc(2026, 10, 31, 12, 0), NEW_YORK)
    assert opens.astimezone(UTC) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    second_0145 = utc(2026, 11, 1, 6, 45)  # 01:45 EST
    assert window.contains(second_0145, NEW_YORK)
    assert window.closes_at(second_0145, NEW_YORK).astimezone(UTC) == utc(2026, 11, 1, 8, 0)


def test_an_end_in_the_repeated_hour_is_its_first_occurrence_too() -> None:
    window = SendWindow.parse("Sun 01:00-01:30")
    assert window.contains(utc(2026, 11, 1, 5, 15), NEW_YORK)  # 01:15 EDT
    assert not window.contains(utc(2026, 11, 1, 6, 15), NEW_YORK)  # 01:15 EST


def test_closes_at_is_the_end_of_the_current_period() -> None:
    closes = WEEKDAYS.closes_at(utc(2027, 3, 15, 13, 0), NEW_YORK)
    assert closes.astimezone(UTC) == utc(2027, 3, 15, 21, 0)
    with pytest.raises(ValueError, match="^Sat 5 Dec 2026 10:00 EST .* is outside"):
        WEEKDAYS.closes_at(utc(2026, 12, 5, 15, 0), NEW_YORK)


def test_windows_take_aware_datetimes_only() -> None:
    with pytest.raises(ValueError, match="aware"):
        WEEKDAYS.contains(datetime(2026, 12, 1, 9, 0), NEW_YORK)


@pytest.mark.parametrize(
    "spec",
    [
        "Mon-Fri 09:00-17:00",
        "Sun 02:30-05:00",
        "Sun 01:30-02:30",  # in New York the end, in London the start, falls in the gap
        "Sun 01:15-02:15",  # New York: starts in the repeated hour; London: in the gap
        "Sat 00:00-00:01",
        "daily 23:58-23:59",
    ],
)
@pytest.mark.parametrize(
    ("zone", "first"),
    [(NEW_YORK, utc(2027, 3, 8)), (NEW_YORK, utc(2026, 10, 26)), (LONDON, utc(2027, 3, 22))],
)
def test_next_open_is_open_and_within_eight_days_every_quarter_hour_of_a_change(
    spec: str, zone: ZoneInfo, first: datetime
) -> None:
    window = SendWindow.parse(spec)
    for step in range(14 * 24 * 4):
        at = first + timedelta(minutes=15 * step)
        opens = window.next_open(at, zone)
        assert at <= opens <= at + timedelta(days=8)
        assert window.contains(opens, zone)
        assert window.closes_at(opens, zone) > opens
        assert window.contains(at, zone) is (opens is at)
