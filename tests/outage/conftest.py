"""Database outage tests: a loopback proxy in front of PostgreSQL, and the job they send.

The worker reaches the database only through the proxy (tests/servers/tcp_proxy.py),
so a test cuts it for the worker alone, as a PostgreSQL restart would, while `cli`
and the test's own checks reach the database directly.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from ..conftest import Invoke
from ..servers.smtp import MailServer, running_mail_server
from ..servers.tcp_proxy import TcpProxy, running_proxy
from ..workers import kill, use_smtp, wait_until

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


def through(proxy: TcpProxy, database_url: str) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def sending(
    workspace: Path, cli: Invoke, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MailServer]:
    """The relay. `cli` reaches the database directly, the worker only through the proxy."""
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", postgresql_url)
    with running_mail_server() as server:
        server.slow("DATA", 0.05)
        yield server


def queue_senate_letter(
    workspace: Path, server: MailServer, cli: Invoke, outage_seconds: float
) -> None:
    use_smtp(
        workspace,
        server,
        concurrency=CONCURRENCY,
        worker=f"heartbeat_seconds = 0.5\ndatabase_outage_seconds = {outage_seconds}\n",
    )
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    assert cli("send", "1").exit_code == 0


def cut_while_sending(
    worker: subprocess.Popen[str],
    proxy: TcpProxy,
    arrived: Callable[[], int],
    *,
    cuts: int = 6,
    first: int,
    step: int,
) -> None:
    """Cut the worker's database connections `cuts` times, each once more messages arrived
    (`first`, then `step` more each time, so that each cut falls at another point of the send
    loop), then wait for the worker to end; it is killed if the wait fails."""
    try:
        for cut in range(cuts):
            wanted = arrived() + first + step * cut
            wait_until(
                lambda wanted=wanted: arrived() >= wanted or worker.poll() is not None,
                what=f"progress before cut {cut + 1}",
            )
            if worker.poll() is not None:
                break
            proxy.cut()
            wait_until(lambda: proxy.refused >= 1, what=f"a reconnection after cut {cut + 1}")
            proxy.restore()
        worker.wait(timeout=120)
    finally:
        kill(worker)
