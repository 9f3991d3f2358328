"""A worker rides out a lost PostgreSQL connection, and gives up clearly past the limit.

The database is cut through a loopback proxy (tests/servers/tcp_proxy.py) for the
worker alone, mid-send, as a PostgreSQL restart would: every connection closed,
new ones refused. The worker stops claiming, lets what it handed over finish,
reconnects with backoff and records what it held; past
`worker.database_outage_seconds` it exits 1 with one line naming the cause.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, exc, make_url, text

from .conftest import Invoke
from .servers.smtp import MailServer, running_mail_server
from .servers.tcp_proxy import TcpProxy, running_proxy
from .workers import (
    TOTAL,
    assert_exactly_once,
    job,
    kill,
    start_worker,
    use_smtp,
    wait_until,
)

CONCURRENCY = 4


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database outage is a PostgreSQL matter; SQLite is a local file")
    return database_url


@pytest.fixture
def proxy(postgresql_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgresql_url)
    with running_proxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def _through(proxy: TcpProxy, database_url: str) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def sending(
    workspace: Path, cli: Invoke, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MailServer]:
    """Job 1 started; `cli` reaches the database directly, the worker only through the proxy."""
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", postgresql_url)
    with running_mail_server() as server:
        server.slow("DATA", 0.05)
        yield server


def _queue(workspace: Path, server: MailServer, cli: Invoke, outage_seconds: float) -> None:
    use_smtp(
        workspace,
        server,
        concurrency=CONCURRENCY,
        worker=f"heartbeat_seconds = 0.5\ndatabase_outage_seconds = {outage_seconds}\n",
    )
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    assert cli("send", "1").exit_code == 0


def test_a_worker_rides_out_a_database_restart_and_sends_everything_once(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server = sending
    _queue(workspace, server, cli, outage_seconds=120)
    worker = start_worker(workspace, "--once", database_url=_through(proxy, postgresql_url))
    try:
        wait_until(lambda: len(server.received()) >= 20, what="20 messages before the cut")
        proxy.cut()
        # Evidence, not time: the worker has tried to reconnect five times (backing
        # off 0.25, 0.5, 1, 2, 4 s: about 8 s of outage).
        wait_until(lambda: proxy.refused >= 5, what="five reconnection attempts", timeout=60)
        during = len(server.received())
        assert during < TOTAL
        proxy.restore()
        _, stderr = worker.communicate(timeout=120)
    finally:
        kill(worker)
    assert worker.returncode == 0, stderr.decode()
    assert "lost the outbox database" in stderr.decode()
    assert "the outbox database is back" in stderr.decode()

    final = job(cli)
    states = {m["id"]: m["state"] for m in final["messages"]}
    assert final["state"] == "done"
    assert Counter(states.values()) == {"sent": TOTAL}
    assert_exactly_once(states, server)


def test_a_worker_gives_up_past_the_outage_limit_naming_the_cause(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server = sending
    _queue(workspace, server, cli, outage_seconds=2)
    worker = start_worker(workspace, "--once", database_url=_through(proxy, postgresql_url))
    try:
        wait_until(lambda: len(server.received()) >= 20, what="20 messages before the cut")
        proxy.cut()
        _, stderr_bytes = worker.communicate(timeout=60)
    finally:
        kill(worker)
    stderr = stderr_bytes.decode()
    assert worker.returncode == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error: gave up after the outbox database was unreachable for 2 s"), last
    assert "worker.database_outage_seconds" in last
    assert "check that the database server is running" in last
    # What it held but could not record is in the log, one message id per line.
    held = [line for line in stderr.splitlines() if "not recorded: message " in line]
    for line in held:
        assert any(m["id"] in line for m in job(cli)["messages"])

    # The next worker (the database reachable again) recovers the rows and finishes.
    proxy.restore()
    rest = start_worker(workspace, "--once", database_url=postgresql_url)
    _, rest_stderr = rest.communicate(timeout=120)
    final = job(cli)
    states = {m["id"]: m["state"] for m in final["messages"]}
    # Exit 1 exactly when the job ended with `unknown` letters, which it says.
    has_unknown = "unknown" in states.values()
    assert rest.returncode == (1 if has_unknown else 0), rest_stderr.decode()
    assert final["state"] == "done"
    assert set(Counter(states.values())) <= {"sent", "unknown"}
    assert_exactly_once(states, server)
    # Each `unknown` is one the log said was sent, or one in flight at the cut.
    assert Counter(states.values())["unknown"] <= CONCURRENCY + len(held)


# -- a long-running worker: the schedule and a send both ride out the outage ------------


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
    _queue(workspace, server, cli, outage_seconds)
    assert cli("queue", "block-arms-sale", "--allow-resend").stdout == "2\n"
    at = _soon(8)
    assert cli("send", "2", "--at", at.strftime("%Y-%m-%dT%H:%M:%SZ")).exit_code == 0
    return at


def test_a_running_worker_keeps_its_schedule_and_its_send_through_a_database_restart(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server, log = sending, workspace / "worker.log"
    at = _queue_two(workspace, server, cli, outage_seconds=120)
    worker = start_worker(workspace, database_url=_through(proxy, postgresql_url), log=log)
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
        wait_until(lambda: job(cli, 2)["state"] == "done", what="job 2 done")
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


# -- a refused key while the database is gone: the pause waits, it is not lost ----------


class _HeldLogin:
    """Refuses every login, none before the test says so: the refusal then
    reaches the worker at a moment of the test's choosing (during the outage)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()

    def __call__(self, username: str, password: str) -> str:
        self.asked.set()
        self.release.wait(timeout=60)  # in the relay's thread: every session waits
        return "535 5.7.8 Authentication credentials invalid"


@pytest.mark.parametrize("operator", ["nothing", "cancel"])
def test_a_key_refused_during_an_outage_pauses_the_job_once_the_database_is_back(
    workspace: Path,
    cli: Invoke,
    proxy: TcpProxy,
    postgresql_url: str,
    monkeypatch: pytest.MonkeyPatch,
    operator: str,
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", postgresql_url)
    monkeypatch.setenv("CAPITOLMAIL_SMTP_PASSWORD", "wrong")
    login, log = _HeldLogin(), workspace / "worker.log"
    with running_mail_server() as server:
        server.refuse_login(login)
        use_smtp(
            workspace,
            server,
            concurrency=1,
            worker="heartbeat_seconds = 0.5\ndatabase_outage_seconds = 120\n",
        )
        config = workspace / "capitolmail.toml"
        config.write_text(
            config.read_text().replace('security = "none"', 'username = "gr"\nsecurity = "none"')
        )
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1").exit_code == 0
        worker = start_worker(
            workspace, "--once", database_url=_through(proxy, postgresql_url), log=log
        )
        try:
            assert login.asked.wait(timeout=60), "the worker never tried to log in"
            if operator == "cancel":
                assert cli("cancel", "1").exit_code == 0  # races the send in flight
            proxy.cut()
            # The worker is riding out the outage (its heartbeat found the database
            # gone) when the relay refuses the key: the pause cannot be written now.
            wait_until(lambda: proxy.refused >= 2, what="the worker reconnecting", timeout=60)
            login.release.set()
            wait_until(lambda: proxy.refused >= 4, what="reconnecting after the refusal")
            proxy.restore()
            worker.wait(timeout=120)
        finally:
            login.release.set()
            kill(worker)
    stderr = log.read_text()
    assert "Traceback" not in stderr, stderr
    assert "lost the outbox database" in stderr
    assert "the outbox database is back" in stderr
    final = job(cli)
    counts = Counter(m["state"] for m in final["messages"])
    assert "sending" not in counts, counts
    assert server.received() == []
    # The first refusal paused the job: no second session for a message put back
    # (smtplib tries each mechanism the relay offers, so one session, some logins).
    assert server.sessions == 1
    if operator == "cancel":
        assert final["state"] == "cancelled"
        assert counts == {"cancelled": TOTAL}
        assert "job 1 is cancelled, so it was not paused" in stderr
    else:
        assert worker.returncode == 1, stderr  # the job paused: an operator must act
        assert final["state"] == "paused"
        assert "Authentication credentials invalid" in final["paused_reason"]
        assert "job 1 paused" in stderr
        assert counts == {"queued": TOTAL - 1, "retry_wait": 1}  # put back, not failed


def test_a_running_worker_gives_up_past_the_limit_leaving_only_what_it_logged(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server, log = sending, workspace / "worker.log"
    _queue_two(workspace, server, cli, outage_seconds=2)
    worker = start_worker(workspace, database_url=_through(proxy, postgresql_url), log=log)
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
