from __future__ import annotations

import pytest

from capitolmail.timing.rate import Rate, TokenBucket, parse_rate


@pytest.mark.parametrize(
    ("text", "count", "seconds"),
    [
        ("120/min", 120, 60),
        ("5/s", 5, 1),
        (" 10 / second ", 10, 1),
        ("3600/hour", 3600, 3600),
        ("2.5/s", 2.5, 1),
        ("90/minutes", 90, 60),
    ],
)
def test_parse_rate(text: str, count: float, seconds: float) -> None:
    assert parse_rate(text) == Rate(count, seconds)


@pytest.mark.parametrize("text", ["120", "fast", "0/s", "10/fortnight", "-1/s", ""])
def test_bad_rates_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["100001/s", "0.0001/s", "99999999999999999999999999/s"])
def test_rates_whose_stored_form_would_not_parse_back_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is (out of range|not a rate)"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["0.001/s", "100000/s", "1.5/min"])
def test_every_accepted_rate_parses_back_from_its_stored_form(text: str) -> None:
    assert parse_rate(str(parse_rate(text))) == parse_rate(text)


def test_rate_prints_as_written() -> None:
    assert str(parse_rate("120/min")) == "120/min"
    assert str(parse_rate("5/s")) == "5/s"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_paces_to_the_rate_after_a_one_second_burst() -> None:
    time = FakeTime()
    bucket = TokenBucket(parse_rate("10/s"), clock=time.clock, sleep=time.sleep)
    for _ in range(10):  # the burst: one second's worth
        assert bucket.acquire()
    assert time.now == 0.0
    for _ in range(50):
        assert bucket.acquire()
    assert time.now == pytest.approx(5.0, abs=0.01)


def test_slow_rates_allow_one_at_a_time() -> None:
    time = FakeTime()
    bucket = TokenBucket(parse_rate("60/min"), clock=time.clock, sleep=time.sleep)
    assert bucket.burst == 1
    bucket.acquire()
    bucket.acquire()
    assert time.now == pytest.approx(1.0, abs=0.01)


def test_acquire_gives_up_when_told_to_stop() -> None:
    time = FakeTime()
    bucket = TokenBucket(parse_rate("1/hour"), clock=time.clock, sleep=time.sleep)
    assert bucket.acquire()
    assert bucket.acquire(should_stop=lambda: time.now > 1) is False


def test_take_up_to_takes_only_what_is_free_and_refunds() -> None:
    time = FakeTime()
    bucket = TokenBucket(parse_rate("4/s"), clock=time.clock, sleep=time.sleep)
    assert bucket.take_up_to(10) == 4
    assert bucket.take_up_to(10) == 0
    assert bucket.wait_time() == pytest.approx(0.25)
    assert bucket.wait_time() == pytest.approx(0.25)  # looking takes nothing
    bucket.refund(3)
    assert bucket.take_up_to(2) == 2
    time.now = 1.0
    assert bucket.take_up_to(10) == 4  # never more than the burst
