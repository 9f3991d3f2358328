"""Progress of a send, as the log lines a worker writes off a terminal say it."""

from __future__ import annotations

import logging

import pytest
from rich.console import Console

from capitolmail.outbox import Outcome, Store
from capitolmail.progress import SendProgress
from capitolmail.sending.sender import SendOptions, send_due
from capitolmail.timing.durations import format_seconds

from .test_sender import T0, Clock, ScriptedTransport, _queue


def test_progress_counts_the_job_not_the_run(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = _queue(store, 6)
    store.register_worker("earlier", "host", 1, T0)
    for claimed in store.claim_due("earlier", 2, T0):
        store.record_outcomes(
            [Outcome(claimed.message.message_id, "sent", provider_message_id=None)], T0
        )
    store.remove_worker("earlier")

    caplog.set_level(logging.INFO, logger="capitolmail.progress")
    with SendProgress(store, Console(file=None), live=False, log_every=0.0) as progress:
        send_due(
            store,
            ScriptedTransport(),
            options=SendOptions(concurrency=4, heartbeat_seconds=3600),
            clock=Clock(),
            on_outcome=progress,
        )

    records = [r for r in caplog.records if r.name == "capitolmail.progress"]
    assert [r.done for r in records] == [3, 4, 5, 6]
    assert {r.total for r in records} == {6}
    assert records[-1].sent == 4  # this run's share
    assert records[-1].getMessage().startswith(f"job {job_id}: 6 of 6 done (4 sent, 0 failed")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0s"), (45, "45s"), (200, "3m 20s"), (7500, "2h 05m"), (-3, "0s")],
)
def test_durations_read_as_people_write_them(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
