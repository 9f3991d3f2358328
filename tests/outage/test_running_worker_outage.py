"""A long-running worker through a database outage: its schedule and its send.

The worker's APScheduler mirror reads the same database as the sender, so a cut
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
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import create_engine, exc, text

from capitolmail.sending.schedule import SharedJobStore, start_scheduled_job
from capitolmail.sending.schedule_outage import OutageTolerantJobStore, ScheduleOutage

from ..conftest import Invoke
from ..servers.smtp import MailServer
from ..servers.tcp_proxy import TcpProxy
from ..workers import TOTAL, assert_exactly_once, job, kill, start_worker, wait_until
from .conftest import CONCURRENCY, queue_senate_letter, through


def _soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def _mirrored(database_url: str, job_id: int) -> Callable[[], bool]:
    """True once a worker copied job `job_id`'s schedule into APScheduler's table."""

    def copied() -> bool:
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    text("SELECT 1 FROM apscheduler_jobs WHERE id = :id"),
                    {"id": f"capitolmail-job-{job_id}"},
                ).first()
        except exc.ProgrammingError:  # the worker has not created the table yet
            return False
        finally:
            engine.dispose()
        return row is not None

    return copied


def _queue_two(workspace: Path, server: MailServer, cli: Invoke, outage_seconds: float) -> datetime:
    """Job 1 sending, job 2 (the same letter again) scheduled a little later: its time."""
    queue_senate_letter(workspace, server, cli, outage_seconds)
    assert cli("queue", "block-arms-sale", "--allow-resend").stdout == "2\n"
    at = _soon(8)
    assert cli("send", "2", "--at", at.strftime("%Y-%m-%dT%H:%M:%SZ")).exit_code == 0
    return at


def test_a_running_worker_keeps_its_schedule_and_its_send_through_a_database_restart(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server, log = sending, workspace / "worker.log"
    at = _queue_two(workspace, server, cli, outage_seconds=120)
    worker = start_worker(workspace, database_url=through(proxy, postgresql_url), log=log)
    try:
        wait_until(_mirrored(postgresql_url, 2), what="job 2 in the worker's schedule")
        wait_until(lambda: len(server.received()) >= 20, what="20 messages before the cut")
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
        wait_until(_mirrored(postgresql_url, 2), what="job 2 in the worker's schedule")
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


def test_apschedulers_store_answers_through_a_cut_instead_of_ending_its_thread(
    proxy: TcpProxy, postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """APScheduler's loop calls these three in one pass and survives only the first
    raising; here none raises, and the copy left in the table is still there after."""
    engine = create_engine(through(proxy, postgresql_url), pool_pre_ping=True)
    outage = ScheduleOutage()
    store = SharedJobStore(engine=engine, outage=outage)
    scheduler = BackgroundScheduler(timezone=UTC, jobstores={"default": store})
    scheduler.start(paused=True)
    try:
        at = _soon(3600)
        scheduler.add_job(
            start_scheduled_job, DateTrigger(run_date=at), args=[1], id="capitolmail-job-1"
        )
        later = at + timedelta(hours=1)
        proxy.cut()
        with caplog.at_level(logging.WARNING, logger="capitolmail.schedule"):
            assert store.get_due_jobs(later) == []
            next_run = store.get_next_run_time()
            assert next_run is not None and next_run <= datetime.now(UTC) + timedelta(seconds=5)
            store.remove_job("capitolmail-job-1")
            assert outage.down
            proxy.restore()
            assert [j.id for j in store.get_due_jobs(later)] == ["capitolmail-job-1"]
            assert store.get_next_run_time() == at
        assert not outage.down
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 2, said  # once gone, once back: not once a call
        assert said[0].startswith("the schedule lost the outbox database")
        assert said[1] == "the schedule reached the outbox database again"
        with pytest.raises(JobLookupError):  # not an outage: still APScheduler's to handle
            OutageTolerantJobStore.remove_job(store, "no-such-job")
    finally:
        scheduler.shutdown(wait=False)
        engine.dispose()
