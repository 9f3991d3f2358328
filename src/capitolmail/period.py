"""Periods people write in capitolmail.toml: "30d", "2w", "36h", a number of days, or ISO 8601.

A leaf module (config.py reads it): `resend_period` is the first setting that is a
span of days, where seconds (pydantic's default for a bare number) would surprise.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": "weeks", "d": "days", "h": "hours"}
_SHORT = re.compile(r"(\d+)\s*(w|d|h)", re.IGNORECASE)
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?)?", re.IGNORECASE)
EXAMPLES = '"30d", "2w", "36h", 30 (days) or "P30D"'


def parse_period(value: object) -> timedelta:
    """A timedelta, or ValueError naming the forms accepted."""
    if isinstance(value, timedelta):
        return _not_negative(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _not_negative(timedelta(days=value))
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return timedelta(days=int(text))
        short = _SHORT.fullmatch(text)
        if short:
            return timedelta(**{_UNITS[short[2].lower()]: int(short[1])})
        iso = _ISO.fullmatch(text)
        if iso and text.upper() not in ("P", "PT") and any(iso.groups()):
            weeks, days, hours = (int(part or 0) for part in iso.groups())
            return timedelta(weeks=weeks, days=days, hours=hours)
    raise ValueError(f"{value!r} is not a period; write it as {EXAMPLES}")


def describe_period(period: timedelta) -> str:
    """ "30 days", "36 hours": how an error message says the period."""
    hours = int(period.total_seconds() // 3600)
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' * (days != 1)}"
    return f"{hours} hour{'s' * (hours != 1)}"


def _not_negative(period: timedelta) -> timedelta:
    if period < timedelta(0):
        raise ValueError("a period cannot be negative")
    return period
