"""A long-running worker through a database outage: its schedule and its send.

The worker's schedule is refreshed from the same database the sender uses, so a cut
(tests/outage/conftest.py) takes both. Neither may end the worker, spin or lose the
schedule: a job whose time passes during the outage starts once when the database
is back, and the job sending finishes with every message exactly once. Past
`worker.database_outage_seconds` the worker exits 1 naming the cause, and every
row it leaves `sending` is one whose outcome its log gives.
"""

from __future__ import annotations

import logging
import signal
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capitolmail.outbox import JobState, QueuedMessage, Store
from capitolmail.sending.schedule import JobScheduler

from ..conftest import Invoke
from ..servers.smtp import MailServer
from ..servers.tcp_proxy import TcpProxy
from ..workers import TOTAL, assert_exactly_once, job, kill, start_worker, wait_until
from .conftest import CONCURRENCY, queue_senate_letter, through


def _soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def _on_schedule(log: Path, job_id: int) -> Callable[[], bool]:
    """True once the worker logging to `log` holds job `job_id` in its schedule."""
    return lambda: f"job {job_id} is on this worker's schedule" in log.read_text()


def _queue_two(workspace: Path, server: MailServer, cli: Invoke, outage_seconds: float) -> None:
    """Job 1 sending, job 2 (the same letter again) scheduled an hour ahead."""
    queue_senate_letter(workspace, server, cli, outage_seconds)
    assert cli("queue", "block-arms-sale", "--allow-resend").stdout == "2\n"
    assert cli("send", "2", "--at", _iso(_soon(3600))).exit_code == 0


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bring_forward(cli: Invoke, log: Path, seconds: float) -> datetime:
    """Reschedule job 2 for `seconds` from now and wait until the running worker
    holds the new time (a job notice): the timing no longer hangs on how slowly
    the worker started. Job 2's new time."""
    at = _soon(seconds)
    assert cli("send", "2", "--at", _iso(at)).exit_code == 0
    held = f"job 2 is on this worker's schedule for {at.isoformat()}"
    wait_until(lambda: held in log.read_text(), what="job 2's new time in the worker's schedule")
    return at


def test_a_running_worker_keeps_its_schedule_and_its_send_through_a_database_restart(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server, log = sending, workspace / "worker.log"
    _queue_two(workspace, server, cli, outage_seconds=120)
    worker = start_worker(workspace, database_url=through(proxy, postgresql_url), log=log)
    try:
        wait_until(_on_schedule(log, 2), what="job 2 in the worker's schedule")
        wait_until(lambda: len(server.received()) >= 20, what="20 messages before the cut")
        at = _bring_forward(cli, log, 3)
        proxy.cut()
        # The premise: job 1 is sending and job 2 has not come due when the database goes.
        assert job(cli, 2)["state"] == "scheduled"
        assert datetime.now(UTC) < at, "the machine was too slow to cut before job 2's time"
        # Job 2's time passes during the outage, and the worker keeps trying (evidence of
        # about 8 s of outage: backing off 0.25, 0.5, 1, 2, 4 s).
        wait_until(
            lambda: datetime.now(UTC) > at + timedelta(seconds=1) and proxy.refused >= 5,
            what="job 2's time to pass during the outage",
            timeout=60,
        )
        during = len(server.received())
        refused = proxy.refused
        proxy.restore()
        wait_until(lambda: len(server.received()) >= 2 * TOTAL, what="both jobs sent", timeout=120)
        wait_until(
            lambda: [job(cli, j)["state"] for j in (1, 2)] == ["done", "done"],
            what="both jobs done",
        )
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    finally:
        kill(worker)
    stderr = log.read_text()
    assert worker.returncode == 0, stderr
    assert during < 2 * TOTAL
    # Waiting, not spinning: a few tries a second at most while the database was gone.
    assert refused < 60, f"{refused} connection attempts during a 10 s outage"
    assert "Traceback" not in stderr, stderr
    assert stderr.count("job 2 started on schedule") == 1, stderr
    assert "lost the outbox database" in stderr
    assert "the outbox database is back" in stderr
    states: dict[str, str] = {}
    for job_id in (1, 2):
        final = job(cli, job_id)
        assert final["state"] == "done"
        states |= {m["id"]: m["state"] for m in final["messages"]}
    assert Counter(states.values()) == {"sent": 2 * TOTAL}
    assert_exactly_once(states, server)
    assert datetime.fromisoformat(job(cli, 2)["started_at"]) >= at


def test_a_running_worker_gives_up_past_the_limit_leaving_only_what_it_logged(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server, log = sending, workspace / "worker.log"
    _queue_two(workspace, server, cli, outage_seconds=2)
    worker = start_worker(workspace, database_url=through(proxy, postgresql_url), log=log)
    try:
        wait_until(_on_schedule(log, 2), what="job 2 in the worker's schedule")
        wait_until(lambda: len(server.received()) >= 20, what="20 messages before the cut")
        proxy.cut()
        worker.wait(timeout=60)
    finally:
        kill(worker)
    stderr = log.read_text()
    assert worker.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error: gave up after the outbox database was unreachable for 2 s"), last
    assert "check that the database server is running" in last
    # A row left `sending` is one whose outcome the log gives: none it could have recorded.
    held = [line for line in stderr.splitlines() if "not recorded: message " in line]
    left = [m["id"] for m in job(cli)["messages"] if m["state"] == "sending"]
    assert all(any(message_id in line for line in held) for message_id in left), (left, held)
    assert job(cli, 2)["state"] == "scheduled"  # the schedule is the database's, not lost

    # The database back, the next worker recovers the rows and keeps the schedule.
    proxy.restore()
    rest = start_worker(workspace, database_url=postgresql_url, log=workspace / "rest.log")
    try:
        wait_until(_on_schedule(workspace / "rest.log", 2), what="job 2 in the next worker")
        _bring_forward(cli, workspace / "rest.log", 1)
        wait_until(lambda: job(cli, 2)["state"] == "done", what="job 2 done", timeout=120)
        wait_until(lambda: job(cli, 1)["state"] == "done", what="job 1 done")
        rest.send_signal(signal.SIGTERM)
        rest.wait(timeout=60)
    finally:
        kill(rest)
    assert (workspace / "rest.log").read_text().count("job 2 started on schedule") == 1
    states = {m["id"]: m["state"] for j in (1, 2) for m in job(cli, j)["messages"]}
    assert set(Counter(states.values())) <= {"sent", "unknown"}
    assert_exactly_once(states, server)
    assert Counter(states.values())["unknown"] <= CONCURRENCY + len(held)


def test_the_schedule_rides_out_a_cut_and_starts_the_job_once_back(
    proxy: TcpProxy, postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The job comes due while the worker cannot reach the database: its start fails,
    it leaves APScheduler's memory, and the first refresh after the cut puts it back;
    the thread never ends, and the loss is said once, the return once."""
    with Store.open(postgresql_url) as direct, Store.open(through(proxy, postgresql_url)) as cut:
        job_id = direct.create_job(
            letter_slug="arms-sale", kind="joint", messages=[_one()], now=datetime.now(UTC)
        )
        at = datetime.now(UTC) + timedelta(seconds=1.5)
        direct.schedule_job(job_id, at, datetime.now(UTC))
        with (
            caplog.at_level(logging.WARNING, logger="capitolmail.schedule"),
            JobScheduler(cut, grace=timedelta(hours=1), poll_seconds=0.2) as scheduler,
        ):
            assert scheduler.wait_for(lambda: scheduler.planned() == {job_id: at}, timeout=10)
            proxy.cut()
            # Fired during the cut: the start could not be written, so not on the plan.
            assert scheduler.wait_for(lambda: scheduler.planned() == {}, timeout=10)
            wait_until(lambda: proxy.refused >= 3, what="refreshes refused during the cut")
            assert direct.get_job(job_id).state == JobState.SCHEDULED
            proxy.restore()
            assert scheduler.wait_for(lambda: scheduler.started == [job_id], timeout=15)
        assert direct.get_job(job_id).state == JobState.SENDING
        assert [e.kind for e in direct.list_events(job_id)].count("job_sending") == 1
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said  # once gone, once back: not once a refresh
    assert said[0].startswith("the schedule lost the outbox database")
    assert said[1] == "the schedule reached the outbox database again"


def _one() -> QueuedMessage:
    from ..outbox.test_store import outgoing

    return QueuedMessage(outgoing(0))
