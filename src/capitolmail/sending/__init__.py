"""Sending: the loop that claims due messages, hands them to a provider and records
what came of it, and what drives it (the schedule, the adaptive pace, hand-over marks).

Reads and writes through outbox/ and talks to providers/; nothing here knows how a
letter was composed. cli/ builds `SendOptions` from the workspace and calls `send_due`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from capitolmail.sending.sender import RetryPolicy, SendOptions, SendSummary, send_due


def __getattr__(name: str) -> Any:
    """The send loop's names, imported when first asked for: importing a module of
    this package (job_results.py, for `status`) should not load the send loop and
    every provider with it."""
    if name in __all__:
        return getattr(importlib.import_module("capitolmail.sending.sender"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RetryPolicy", "SendOptions", "SendSummary", "send_due"]
