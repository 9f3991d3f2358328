"""Job notices on PostgreSQL: an idle worker hears `send`, `pause` and `resume` at once.

The worker polls every 30 s here, so only the notice (LISTEN/NOTIFY) can make it
react within the 10 s each step allows; on SQLite there is nothing to listen to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Invoke
from .servers.smtp import MailServer, running_mail_server
from .workers import TOTAL, kill, received_ids, start_worker, stop, use_smtp, wait_until

REACT = 10  # seconds: a third of the worker's poll


@pytest.fixture
def postgresql_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("job notices are PostgreSQL's LISTEN/NOTIFY; SQLite workers poll")
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def server() -> Iterator[MailServer]:
    with running_mail_server() as running:
        running.slow("DATA", 0.02)
        yield running


def _sending(cli: Invoke) -> int:
    workers = json.loads(cli("workers", "--json").stdout)["workers"]
    return sum(w["sending"].get("1", 0) for w in workers)


def test_an_idle_worker_hears_send_pause_and_resume_at_once(
    workspace: Path, cli: Invoke, server: MailServer, postgresql_url: str
) -> None:
    use_smtp(workspace, server, concurrency=2)
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    log = workspace.parent / "worker.log"
    worker = start_worker(workspace, "--poll", "30", database_url=postgresql_url, log=log)
    try:
        wait_until(lambda: "listening for job notices" in log.read_text(), what="the listener")
        assert cli("send", "1").exit_code == 0
        wait_until(lambda: len(server.received()) > 0, what="the first message", timeout=REACT)

        assert cli("pause", "1").exit_code == 0
        wait_until(lambda: _sending(cli) == 0, what="the pause to take hold", timeout=REACT)
        held = len(server.received())
        assert held < TOTAL

        assert cli("resume", "1").exit_code == 0
        wait_until(lambda: len(server.received()) > held, what="sending again", timeout=REACT)
        wait_until(lambda: len(server.received()) == TOTAL, what="every message")
        stop(worker)
    finally:
        kill(worker)
    ids = received_ids(server)
    assert len(ids) == TOTAL and set(ids.values()) == {1}  # each letter once
