"""Three worker processes share one schedule; the ones holding a job die, it starts once.

Each worker keeps the schedule in memory, filled from the jobs table
(sending/schedule.py), so there is no scheduler role to hand over: whichever
workers are alive at a job's time fire it, and the store's row lock starts it
once. Here the first worker is SIGKILLed before the time and the one that starts
the job is SIGKILLed mid-send; the last one still sends every message once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capitolmail.outbox import Store

from .conftest import Invoke
from .servers.smtp import running_mail_server
from .workers import (
    assert_once_after_a_kill,
    handed_over_by,
    job,
    kill,
    start_worker,
    stop,
    use_smtp,
    wait_until,
)

CONCURRENCY = 4
TOTAL = 44  # the committee's 22 members, two contacts each
_STARTED = "job 1 started on schedule"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def test_a_scheduled_job_starts_once_when_the_workers_holding_it_are_killed(
    workspace: Path, cli: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", database_url)
    logs = [workspace.parent / f"worker-{n}.log" for n in range(3)]

    def everywhere(text: str, times: int = 1) -> None:
        wait_until(
            lambda: all(log.read_text().count(text) >= times for log in logs),
            what=f"{text!r} in every worker's log",
            timeout=30,
        )

    with running_mail_server() as server:
        server.slow("DATA", 0.1)  # 44 messages at 4 in flight: a second or two of sending
        use_smtp(workspace, server, concurrency=CONCURRENCY, worker="heartbeat_seconds = 0.5\n")
        # Back to the committee's 44 contacts (still without PDFs): quicker to queue and send.
        letter = workspace / "letters/block-arms-sale/letter.toml"
        letter.write_text(
            letter.read_text().replace('chambers = ["senate"]', 'committees = ["SSFR"]')
        )
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1", "--at", _iso(_soon(3600))).exit_code == 0
        workers = [
            start_worker(workspace, "--poll", "0.2", database_url=database_url, log=log)
            for log in logs
        ]
        try:
            held = "job 1 is on this worker's schedule"
            everywhere(held)
            # A pause and a resume while scheduled reach every worker's schedule.
            assert cli("pause", "1").exit_code == 0
            everywhere("job 1 is off this worker's schedule")
            assert cli("resume", "1").exit_code == 0
            everywhere(held, times=2)
            # Brought forward: every worker holds the new time.
            at = _soon(4)
            assert cli("send", "1", "--at", _iso(at)).exit_code == 0
            everywhere(f"{held} for {at.isoformat()}")
            assert job(cli)["state"] == "scheduled", "the machine was too slow for the premise"

            kill(workers[0])  # one holder gone before the time
            wait_until(
                lambda: any(_STARTED in log.read_text() for log in logs[1:]),
                what="a surviving worker to start the job",
                timeout=30,
            )
            starter = next(n for n in (1, 2) if _STARTED in logs[n].read_text())
            # And the one that started it, once it is mid-send.
            wait_until(
                lambda: handed_over_by(database_url, workers[starter].pid) > 0,
                what="the starter to hand a message over",
            )
            kill(workers[starter])
            assert len(server.received()) < TOTAL, "the job finished before the kill"
            last = workers[3 - starter]
            wait_until(lambda: job(cli)["state"] == "done", what="the job done", timeout=120)
            stop(last)
        finally:
            for worker in workers:
                kill(worker)

        stderr = [log.read_text() for log in logs]
        assert sum(text.count(_STARTED) for text in stderr) == 1, stderr
        with Store.open(database_url) as store:
            kinds = [event.kind for event in store.list_events(1)]
            assert kinds.count("job_sending") == 1, "the job was started twice"
        final = job(cli)
        assert datetime.fromisoformat(final["started_at"]) >= at
        states = {m["id"]: m["state"] for m in final["messages"]}
        # At most what the starter had in flight is `unknown`.
        assert_once_after_a_kill(states, server, total=TOTAL, in_flight=CONCURRENCY)
