"""Worker subprocesses against a real relay and a real database, for the fault tests.

Shared by the dead-worker, database-outage and storm tests: a workspace that sends
the Senate-wide letter (200 messages) through the aiosmtpd relay, worker processes
started and killed the way an operator's supervisor would, and the checks that say
exactly-once held (each message sent once, or `unknown` and at most once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, text

from .conftest import Invoke
from .servers.smtp import MailServer

SRC = Path(__file__).resolve().parents[1] / "src"
TOTAL = 200  # every senator's Chief of Staff and Foreign Policy LA


def senate_wide(workspace: Path) -> None:
    """The example letter to every senator's two contacts (TOTAL messages), as a plain
    cover email: these tests are about sending, and 100 PDFs laid out per queue would
    only cost time (the PDF letter has tests of its own, tests/letters/test_pdf_*)."""
    letter = workspace / "letters/block-arms-sale/letter.toml"
    text = letter.read_text().replace('committees = ["SSFR"]', 'chambers = ["senate"]')
    letter.write_text(text[: text.index("\n[pdf]")] + "\n")


def use_smtp(workspace: Path, server: MailServer, *, concurrency: int, worker: str = "") -> None:
    """Send the Senate-wide letter through `server`; `worker` adds [worker] settings."""
    senate_wide(workspace)
    config = workspace / "capitolmail.toml"
    text_ = config.read_text().replace('name = "file"', 'name = "smtp"')
    text_ += (
        f'\n[provider.smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
        f'security = "none"\nallow_plain = true\nconnections = {concurrency}\n'
        f"\n[worker]\nconcurrency = {concurrency}\n{worker}"
    )
    config.write_text("allow_example_values = true\n" + text_)


def start_worker(
    workspace: Path, *args: str, database_url: str | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A worker subprocess; its stderr goes to `log` when given (a long-running worker
    writes more than a pipe holds while the test is not reading it), else to a pipe."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    if database_url is not None:
        env["CAPITOLMAIL_DATABASE_URL"] = database_url
    with ExitStack() as files:
        stderr = subprocess.PIPE if log is None else files.enter_context(log.open("wb"))
        return subprocess.Popen(
            [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "worker", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )


def stop(worker: subprocess.Popen[bytes]) -> str:
    """SIGTERM and wait; the worker must exit 0. Its stderr ("" when it went to a log)."""
    worker.send_signal(signal.SIGTERM)
    _, stderr_bytes = worker.communicate(timeout=60)
    stderr = (stderr_bytes or b"").decode()
    assert worker.returncode == 0, stderr
    return stderr


def kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap: a zombie would still answer `kill(pid, 0)` as alive."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 90) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def handed_over_by(database_url: str, pid: int, *, handed_over: bool = True) -> int:
    """How many rows the worker process `pid` holds `sending` and has handed over
    (with `handed_over=False`: holds at all)."""
    engine = create_engine(database_url)
    marked = "AND handed_over_at IS NOT NULL" if handed_over else ""
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    f"SELECT count(*) FROM messages WHERE state = 'sending' {marked} "
                    "AND claimed_by LIKE :owner"
                ),
                {"owner": f"%:{pid}:%"},
            ).scalar_one()
    finally:
        engine.dispose()


def job(cli: Invoke, job_id: int = 1) -> dict:
    return json.loads(cli("status", str(job_id), "--json", "--messages").stdout)["jobs"][0]


def received_ids(server: MailServer) -> Counter[str]:
    return Counter(r.message["Message-ID"][1:37] for r in server.received())


def assert_exactly_once(states: dict[str, str], server: MailServer) -> None:
    """Every message sent once, or `unknown` and at most once; nothing else arrived."""
    received = received_ids(server)
    assert not received or max(received.values()) == 1, "a message was delivered twice"
    assert set(received) <= set(states), "a message arrived that the job does not have"
    for message_id, state in states.items():
        if state == "sent":
            assert received[message_id] == 1, f"{message_id} is sent but never arrived"
        else:
            assert state == "unknown", f"{message_id} ended {state}"
            assert received[message_id] <= 1


def assert_once_after_a_kill(
    states: dict[str, str], server: MailServer, *, total: int, in_flight: int
) -> Counter[str]:
    """Every one of `total` messages sent once or `unknown` (assert_exactly_once), and no
    more `unknown` than the killed worker could have had in flight; the counts."""
    counts = Counter(states.values())
    assert sum(counts.values()) == total
    assert set(counts) <= {"sent", "unknown"}
    assert counts["unknown"] <= in_flight
    assert_exactly_once(states, server)
    return counts
