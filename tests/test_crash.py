"""A real worker process, a real SMTP server, and a kill in the middle of a job.

What a GR team needs to be true after a crash: no office got the letter twice,
no message vanished (every row is in a state `status` shows), and at most the
messages that were in flight are `unknown`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Invoke
from .servers.smtp import MailServer, running_mail_server
from .workers import senate_wide

SRC = Path(__file__).resolve().parents[1] / "src"
CONCURRENCY = 4
TOTAL = 200  # every senator's Chief of Staff and Foreign Policy LA


@pytest.fixture
def smtp_workspace(workspace: Path, cli: Invoke) -> Iterator[tuple[Path, MailServer]]:
    senate_wide(workspace)
    with running_mail_server() as server:
        server.slow("DATA", 0.02)
        with (workspace / "capitolmail.toml").open("a") as config:
            config.write(
                f'\n[provider.smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
                'security = "none"\nallow_plain = true\n'
                f"connections = {CONCURRENCY}\n"
                f"\n[worker]\nconcurrency = {CONCURRENCY}\n"
            )
        config = workspace / "capitolmail.toml"
        # The worked example's example.org addresses, on a loopback relay: allowed.
        text = config.read_text().replace('name = "file"', 'name = "smtp"')
        config.write_text("allow_example_values = true\n" + text)
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1").exit_code == 0
        yield workspace, server


def _worker(workspace: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(server: MailServer, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(server.received()) < count:
        assert time.monotonic() < deadline, f"only {len(server.received())} messages arrived"
        time.sleep(0.01)


def _received_ids(server: MailServer) -> Counter[str]:
    return Counter(r.message["Message-ID"][1:37] for r in server.received())


def _job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def test_sigkill_mid_job_loses_nothing_and_sends_nothing_twice(
    smtp_workspace: tuple[Path, MailServer], cli: Invoke
) -> None:
    workspace, server = smtp_workspace
    first = _worker(workspace, "--once")
    _wait_for(server, 40)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    killed_at = len(server.received())
    assert killed_at < TOTAL, "the job finished before the kill; make the server slower"

    second = _worker(workspace, "--once")
    _, stderr = second.communicate(timeout=120)

    job = _job(cli)
    states = {m["id"]: m["state"] for m in job["messages"]}
    counts = Counter(states.values())
    # Unknown messages need an operator's decision: the run that found them exits 1.
    assert second.returncode == (1 if counts["unknown"] else 0), stderr.decode()
    if counts["unknown"]:
        assert f"job 1 done: {counts['unknown']} unknown" in stderr.decode().splitlines()[-1]
    assert set(counts) <= {"sent", "unknown"}
    assert counts["sent"] + counts["unknown"] == TOTAL
    assert counts["unknown"] <= CONCURRENCY
    assert f"{counts['unknown']} marked unknown after a worker died" in stderr.decode() or (
        counts["unknown"] == 0
    )

    received = _received_ids(server)
    assert max(received.values()) == 1, "a message was delivered twice"
    for message_id, state in states.items():
        if state == "sent":
            assert received[message_id] == 1
        else:  # unknown: it may or may not have arrived, but never twice
            assert received[message_id] <= 1
    assert job["state"] == "done"


def test_sigterm_finishes_in_flight_and_leaves_the_rest_queued(
    smtp_workspace: tuple[Path, MailServer], cli: Invoke
) -> None:
    workspace, server = smtp_workspace
    worker = _worker(workspace, "--poll", "0.2")
    _wait_for(server, 30)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr.decode()
    assert "SIGTERM: finishing messages in flight, then stopping." in stderr.decode()

    job = _job(cli)
    counts = Counter(m["state"] for m in job["messages"])
    assert set(counts) <= {"sent", "queued", "retry_wait"}
    assert 0 < counts["sent"] < TOTAL
    assert sum(counts.values()) == TOTAL
    received = _received_ids(server)
    sent = {m["id"] for m in job["messages"] if m["state"] == "sent"}
    assert set(received) == sent
    assert max(received.values()) == 1

    # The next worker sends exactly the rest.
    rest = _worker(workspace, "--once")
    rest.communicate(timeout=120)
    assert _job(cli)["counts"] == {"sent": TOTAL}
    assert sorted(_received_ids(server).values()) == [1] * TOTAL
