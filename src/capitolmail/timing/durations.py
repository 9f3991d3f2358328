"""A duration as people read it in a status line or an error: "45s", "3m 20s", "2h 05m"."""

from __future__ import annotations


def format_seconds(seconds: float) -> str:
    """ "45s", "3m 20s", "2h 05m": a duration as people read it in a status line."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
