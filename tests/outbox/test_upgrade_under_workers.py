"""An upgrade waits for the workers of the earlier version to stop.

A worker registered in a database that is not at the newest revision runs an
earlier capitolmail: the upgraded code would have migrated the database on
opening it. Migration 0016 drops the APScheduler table such a worker still
writes, so while it runs the upgrade refuses and changes nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, inspect, make_url

from capitolmail.config import load_settings
from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.outbox.database import SCHEMA_HEAD, _current_revisions
from capitolmail.outbox.schema import workers

from ..conftest import Invoke
from .old_schema import database_at

OLD = "0015"  # before 0016 dropped apscheduler_jobs


def _database_at(url: str, revision: str, *running: tuple[str, int, datetime]) -> None:
    """A database at `revision`, with a worker row for each (host, pid, last heartbeat)."""
    with database_at(url, revision) as conn:
        for host, pid, beat in running:
            conn.execute(
                insert(workers).values(
                    id=f"{host}:{pid}", host=host, pid=pid, started_at=beat, heartbeat_at=beat
                )
            )


def _schema(url: str) -> tuple[frozenset[str], bool]:
    """The revision the database is at, and whether apscheduler_jobs is still there."""
    engine = create_engine(make_url(url))
    try:
        with engine.connect() as conn:
            return _current_revisions(conn), "apscheduler_jobs" in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def _exited_pid() -> int:
    """The pid of a process that has ended (not yet reused on this machine)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_worker_of_the_earlier_version_stops_the_upgrade(database_url: str) -> None:
    now = datetime.now(UTC)
    here = socket.gethostname()
    # This test's own process stands in for the old worker: it is alive on this machine.
    # The other row beat nine minutes ago: presumed dead, so not named.
    _database_at(
        database_url, OLD, ("gone", 77, now - timedelta(minutes=9)), (here, os.getpid(), now)
    )
    with pytest.raises(StoreError) as refused:
        Store.open(database_url)
    message = str(refused.value)
    assert message.startswith(
        f"the outbox schema is at revision {OLD} and this version of capitolmail needs"
        f" {SCHEMA_HEAD}, but 1 worker of the earlier version is still running"
        f" ({here} pid {os.getpid()}, heartbeat "
    )
    assert "stop it, then run this command again; nothing was changed" in message
    assert "gone" not in message and "\n" not in message
    # Nothing was changed: still at the old revision, APScheduler's table still there.
    assert _schema(database_url) == (frozenset({OLD}), True)


def test_the_upgrade_runs_once_the_old_workers_are_gone(database_url: str) -> None:
    """A worker that exited on this machine is dead at once; one elsewhere whose heartbeat
    is older than the stale window is presumed dead. Neither holds the upgrade back."""
    now = datetime.now(UTC)
    _database_at(
        database_url,
        OLD,
        (socket.gethostname(), _exited_pid(), now),
        ("elsewhere", 4242, now - timedelta(minutes=6)),
    )
    with Store.open(database_url) as store:
        assert sorted(w.host for w in store.list_workers()) == sorted(
            [socket.gethostname(), "elsewhere"]
        )
    assert _schema(database_url) == (frozenset({SCHEMA_HEAD}), False)


def test_every_running_worker_elsewhere_is_named(database_url: str) -> None:
    """On another machine the pid cannot be asked: a fresh heartbeat counts as running."""
    now = datetime.now(UTC)
    beats = [("worker-a", 11, now - timedelta(seconds=30)), ("worker-b", 12, now)]
    beats += [(f"worker-{name}", pid, now) for name, pid in (("c", 13), ("d", 14), ("e", 15))]
    _database_at(database_url, OLD, *beats)
    with pytest.raises(StoreError) as refused:
        Store.open(database_url)
    message = str(refused.value)
    assert "5 workers of the earlier version are still running (worker-a pid 11, heartbeat" in (
        message
    )
    assert "; and 2 more): stop them, then run this command again" in message
    assert "until its last heartbeat is 5 minutes old" in message
    assert _schema(database_url) == (frozenset({OLD}), True)


def test_every_command_says_which_worker_to_stop(workspace: Path, cli: Invoke) -> None:
    url = load_settings(workspace).database_url_for(workspace)
    _database_at(url, OLD, (socket.gethostname(), os.getpid(), datetime.now(UTC)))
    for command_line in (["status"], ["workers"], ["queue", "block-arms-sale"]):
        result = cli(*command_line)
        assert result.exit_code != 0
        (line,) = result.stderr.splitlines()
        assert f"pid {os.getpid()}" in line and "stop it, then run this command again" in line
        assert "Traceback" not in result.output
    assert _schema(url) == (frozenset({OLD}), True)
