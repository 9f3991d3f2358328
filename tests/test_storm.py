"""A short SIGKILL storm: a few kills mid-send, and exactly-once still holds.

benchmarks/storm.py runs the long one and reports the figures; this one asserts
what must hold every time: nothing delivered twice, nothing lost (every message
sent once, or `unknown`), and every message that recovery put back in `queued`
sent exactly once later.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .storm import run_storm
from .workers import handed_over_by


@pytest.mark.parametrize("provider", ["smtp", "sendgrid"])
def test_a_few_kills_mid_send_deliver_nothing_twice_and_lose_nothing(
    tmp_path: Path, database_url: str, provider: str
) -> None:
    def mid_send(victim: subprocess.Popen[bytes]) -> bool:
        # The victim holds messages past the mark; with four threads it usually
        # holds others claimed and not yet marked, too.
        return handed_over_by(database_url, victim.pid) > 0

    report = run_storm(
        tmp_path,
        database_url=database_url,
        provider=provider,
        workers=2,
        kills=4,
        concurrency=4,
        slow=0.05,
        kill_when=mid_send,
        max_seconds=240,
    )

    assert report.kills == 4, report.lines()
    assert report.messages == 200
    assert report.duplicates == 0, report.lines()
    assert report.lost == 0, report.lines()
    assert set(report.states) <= {"sent", "unknown"}, report.lines()
    assert report.requeued_not_sent_once == 0, report.lines()
