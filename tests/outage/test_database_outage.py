"""A worker rides out a lost PostgreSQL connection, and gives up clearly past the limit.

The database is cut through a loopback proxy (tests/servers/tcp_proxy.py) for the
worker alone, mid-send, as a PostgreSQL restart would: every connection closed,
new ones refused. The worker stops claiming, lets what it handed over finish,
reconnects with backoff and records what it held; past
`worker.database_outage_seconds` it exits 1 with one line naming the cause.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from ..conftest import Invoke
from ..servers.smtp import MailServer, running_mail_server
from ..servers.tcp_proxy import TcpProxy
from ..workers import (
    TOTAL,
    assert_exactly_once,
    job,
    kill,
    start_worker,
    use_smtp,
    wait_until,
)
from .conftest import CONCURRENCY, cut_while_sending, queue_senate_letter, through


def test_a_worker_rides_out_a_database_restart_and_sends_everything_once(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    server = sending
    queue_senate_letter(workspace, server, cli, outage_seconds=120)
    worker = start_worker(workspace, "--once", database_url=through(proxy, postgresql_url))
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
    queue_senate_letter(workspace, server, cli, outage_seconds=2)
    worker = start_worker(workspace, "--once", database_url=through(proxy, postgresql_url))
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
        # `queue` asked the relay for its SIZE on a session of its own (no login).
        queue_sessions = server.sessions
        worker = start_worker(
            workspace, "--once", database_url=through(proxy, postgresql_url), log=log
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
    assert server.sessions == queue_sessions + 1
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


def test_a_worker_rides_out_restart_after_restart_and_sends_everything_once(
    workspace: Path, cli: Invoke, sending: MailServer, proxy: TcpProxy, postgresql_url: str
) -> None:
    """Cut after cut, each at a different point of the send loop: a claim, a mark or a
    record may be cut as it commits, and the worker never learns that it did."""
    server = sending
    queue_senate_letter(workspace, server, cli, outage_seconds=120)
    log = workspace.parent / "worker.log"
    worker = start_worker(workspace, "--once", database_url=through(proxy, postgresql_url), log=log)
    cut_while_sending(worker, proxy, lambda: len(server.received()), first=3, step=1)
    assert worker.returncode == 0, log.read_text()[-3000:]
    final = job(cli)
    states = {m["id"]: m["state"] for m in final["messages"]}
    assert final["state"] == "done"
    assert Counter(states.values()) == {"sent": TOTAL}
    assert_exactly_once(states, server)
