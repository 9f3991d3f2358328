"""A PostgreSQL server that takes the connection and never answers ends in an error.

A failover, a suspended VM or a dropped route leaves the socket open with nobody
behind it; without libpq's connect timeout a command (or a worker's reconnect)
would wait on it forever. The listener here accepts and then says nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Invoke


@pytest.fixture
def silent_server() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)  # held open, never read, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        listener.close()
        for conn in accepted:
            conn.close()
        thread.join(timeout=5)


def test_a_database_that_never_answers_gives_up_naming_the_server(
    workspace: Path, cli: Invoke, silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CAPITOLMAIL_DATABASE_URL", f"postgresql+psycopg://capitolmail@127.0.0.1:{silent_server}/x"
    )
    started = time.monotonic()
    result = cli("status")
    waited = time.monotonic() - started
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: could not"), line
    assert f"127.0.0.1:{silent_server}" in line
    assert "check that the database server is running" in line
    # libpq's connect timeout (10 s) ended it, not the test's patience.
    assert waited < 60
