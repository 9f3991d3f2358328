"""`capitolmail workers`: the registered worker processes and what each is sending.

A real `capitolmail worker` process sends a real letter into a slow SMTP server,
so it is caught holding messages `sending`; a worker row whose heartbeat is old
(as a machine that lost power leaves it) shows as `stale`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.outbox import Store

from .conftest import Invoke
from .servers.smtp import MailServer, running_mail_server
from .workers import kill, start_worker, stop, use_smtp, wait_until


@pytest.fixture
def slow_server() -> Iterator[MailServer]:
    with running_mail_server() as server:
        server.slow("DATA", 0.2)
        yield server


def _workers(cli: Invoke) -> list[dict]:
    result = cli("workers", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["workers"]


def test_workers_lists_a_running_worker_with_what_it_sends(
    workspace: Path, cli: Invoke, slow_server: MailServer
) -> None:
    use_smtp(workspace, slow_server, concurrency=2)
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    assert cli("send", "1").exit_code == 0
    assert _workers(cli) == []
    worker = start_worker(workspace)
    try:
        wait_until(
            lambda: any(w["sending"].get("1") for w in _workers(cli)),
            what="the worker holding job 1's messages",
        )
        (row,) = _workers(cli)
        assert row["pid"] == worker.pid
        assert row["host"] == socket.gethostname()
        assert row["state"] == "alive"
        assert 1 <= row["sending"]["1"] <= 2  # never more than its two connections
        table = cli("workers").stdout
        assert str(worker.pid) in table and "job 1:" in table and "alive" in table
        stop(worker)
    finally:
        kill(worker)
    assert _workers(cli) == []  # a worker that stops removes its row


def test_a_worker_that_stopped_beating_shows_as_stale(workspace: Path, cli: Invoke) -> None:
    with Store.open(load_settings(workspace).database_url_for(workspace)) as store:
        store.register_worker(
            "elsewhere:4242:abcd", "elsewhere", 4242, datetime.now(UTC) - timedelta(hours=1)
        )
    (row,) = _workers(cli)
    assert (row["host"], row["pid"], row["state"]) == ("elsewhere", 4242, "stale")
    assert row["sending"] == {}
    assert row["heartbeat_age_seconds"] >= 3600
    table = cli("workers").stdout
    assert "elsewhere" in table and "stale" in table and "idle" in table
