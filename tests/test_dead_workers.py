"""Four workers share a job and one is SIGKILLed mid-send: the others finish it.

Recovery is not only at start-up: every running worker looks for dead ones at
each heartbeat (on this host by pid at once), and the dead worker's rows become
`unknown` (handed over) or `queued` again (not yet), so the job ends `done`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Invoke
from .servers.smtp import running_mail_server
from .workers import (
    TOTAL,
    assert_once_after_a_kill,
    handed_over_by,
    job,
    kill,
    received_ids,
    start_worker,
    stop,
    use_smtp,
    wait_until,
)

CONCURRENCY = 4


def test_survivors_recover_a_killed_workers_rows_and_finish_the_job(
    workspace: Path,
    cli: Invoke,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", database_url)
    with running_mail_server() as server:
        server.slow("DATA", 0.05)
        use_smtp(workspace, server, concurrency=CONCURRENCY, worker="heartbeat_seconds = 0.5\n")
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1").exit_code == 0
        workers = [
            start_worker(workspace, "--poll", "0.2", database_url=database_url) for _ in range(4)
        ]
        try:
            victim, survivors = workers[0], workers[1:]
            # Mid-send: the victim holds messages past the irreversible step.
            wait_until(
                lambda: handed_over_by(database_url, victim.pid) > 0,
                what="the first worker to hand a message over",
            )
            kill(victim)
            assert len(server.received()) < TOTAL, "the job finished before the kill"

            wait_until(lambda: job(cli)["state"] == "done", what="the job to be done", timeout=120)
            stderr = "".join(stop(worker) for worker in survivors)
        finally:
            for worker in workers:
                kill(worker)

        final = job(cli)
        states = {m["id"]: m["state"] for m in final["messages"]}
        # At most what the victim had in flight is `unknown`.
        counts = assert_once_after_a_kill(states, server, total=TOTAL, in_flight=CONCURRENCY)
        assert len(received_ids(server)) >= counts["sent"]
        assert "worker died" in stderr, stderr
