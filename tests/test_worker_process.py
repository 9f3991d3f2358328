"""A real long-running `capitolmail worker` process, a real SMTP server, real time.

What a GR team relies on when they schedule a letter on Friday for Tuesday 9:00:
the worker sends it then and not before; a worker that was down at the time
starts it when it comes back, unless it is too late; pause, resume and cancel
reach a running worker within about a second; two workers start a job once.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capitolmail.outbox import Store

from .conftest import Invoke
from .servers.smtp import MailServer, running_mail_server

SRC = Path(__file__).resolve().parents[1] / "src"
TOTAL = 44  # the worked example: 22 SSFR members, two staff contacts each


@pytest.fixture
def server() -> Iterator[MailServer]:
    with running_mail_server() as running:
        yield running


def _use_smtp(workspace: Path, server: MailServer, extra: str = "") -> None:
    config = workspace / "capitolmail.toml"
    text = config.read_text().replace('name = "file"', 'name = "smtp"')
    # The worked example's example.org addresses, on a loopback relay: allowed.
    text = "allow_example_values = true\n" + text
    text += (
        f'\n[provider.smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
        'security = "none"\nallow_plain = true\n' + extra
    )
    config.write_text(text)


@pytest.fixture
def smtp_workspace(workspace: Path, server: MailServer, cli: Invoke) -> Path:
    _use_smtp(workspace, server)
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    return workspace


_LOGS = itertools.count(1)


class Worker:
    """A `capitolmail worker` subprocess; stop() sends SIGTERM and returns its stderr.

    Its stderr goes to a file beside the workspace, so that a test can wait for a
    line while the worker runs (`logged`)."""

    def __init__(self, workspace: Path, *args: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        }
        self.log = workspace.parent / f"worker-{next(_LOGS)}.log"
        with self.log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "capitolmail",
                    "--workspace",
                    str(workspace),
                    "worker",
                    "--poll",
                    "0.2",
                    *args,
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def logged(self, text: str) -> Callable[[], bool]:
        """True once the worker's stderr holds `text`."""
        return lambda: text in self.log.read_text()

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # What it was doing instead of stopping: every thread's stack, on SIGUSR1.
            self.process.send_signal(signal.SIGUSR1)
            _until(self.logged("most recent call first"), timeout=10, what="the stacks")
            raise AssertionError(f"the worker did not stop:\n{self.log.read_text()}") from None
        stderr = self.log.read_text()
        assert self.process.returncode == 0, stderr
        return stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def start_worker() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(workspace: Path, *args: str) -> Worker:
        worker = Worker(workspace, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def _until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def _on_schedule(worker: Worker, job: int = 1) -> Callable[[], bool]:
    """True once `worker` holds job `job` in its in-memory schedule: the event a test
    waits for before stopping that worker, instead of a guessed delay."""
    return worker.logged(f"job {job} is on this worker's schedule")


def _held_then_stopped(cli: Invoke, workspace: Path, start_worker: Callable[..., Worker]) -> Worker:
    """Job 1 scheduled an hour ahead, held by a worker that is then stopped: a worker
    that ran and went away, whatever its start-up took on a loaded machine."""
    assert cli("send", "1", "--at", _iso(_soon(3600))).exit_code == 0
    first = start_worker(workspace)
    _until(_on_schedule(first), what="the job in the worker's schedule")
    first.stop()
    return first


def _soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _job(cli: Invoke, job: int = 1) -> dict:
    return json.loads(cli("status", str(job), "--json").stdout)["jobs"][0]


def _received_once(server: MailServer) -> Counter[str]:
    received = Counter(r.message["Message-ID"][1:37] for r in server.received())
    assert all(count == 1 for count in received.values()), "a message was delivered twice"
    return received


# The worker's default concurrency: no more than this can be in flight at a pause.
IN_FLIGHT = 16


def _in_flight_done(cli: Invoke, server: MailServer) -> int:
    """Wait (a few seconds at most) until no message of job 1 is `sending`; how many arrived.

    Messages already handed to the server when the operator paused or cancelled
    finish; nothing new may start. The bound is generous for a loaded machine,
    the check after it is exact.
    """
    _until(lambda: "sending" not in _job(cli)["counts"], timeout=5, what="in-flight to finish")
    return len(server.received())


def _sleep_until(at: datetime) -> None:
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def test_a_running_worker_sends_a_job_at_its_time_and_not_before(
    smtp_workspace: Path, server: MailServer, cli: Invoke, start_worker: Callable[..., Worker]
) -> None:
    at = _soon(4)
    result = cli("send", "1", "--at", _iso(at))
    assert result.exit_code == 0, result.output
    assert "is scheduled for" in result.stderr
    worker = start_worker(smtp_workspace, "--log-format", "json")

    _sleep_until(at - timedelta(seconds=0.5))
    assert server.received() == [], "nothing may go before the scheduled time"
    assert _job(cli)["state"] == "scheduled"
    _until(lambda: len(server.received()) == TOTAL, what="every message")
    stderr = worker.stop()

    assert min(r.at for r in server.received()) >= at.timestamp()
    assert len(_received_once(server)) == TOTAL
    job = _job(cli)
    assert (job["state"], job["counts"]) == ("done", {"sent": TOTAL})
    assert datetime.fromisoformat(job["started_at"]) >= at
    # --log-format json: every line on stderr is one JSON object.
    records = [json.loads(line) for line in stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    messages = [r["message"] for r in records]
    assert "job 1 started on schedule" in messages
    assert f"Worker: sent {TOTAL}, failed 0, retrying 0, stopped on request." in messages
    assert any(r.get("job_id") == 1 and r.get("done") == TOTAL for r in records)


def test_a_worker_down_at_the_time_starts_the_job_when_back_within_the_grace_period(
    smtp_workspace: Path, server: MailServer, cli: Invoke, start_worker: Callable[..., Worker]
) -> None:
    first = _held_then_stopped(cli, smtp_workspace, start_worker)
    at = _soon(2)  # brought forward while no worker runs
    assert cli("send", "1", "--at", _iso(at)).exit_code == 0
    _sleep_until(at + timedelta(seconds=1))
    assert server.received() == []
    assert "job 1 started" not in first.log.read_text()

    second = start_worker(smtp_workspace)
    _until(lambda: len(server.received()) == TOTAL, what="every message")
    second.stop()
    assert len(_received_once(server)) == TOTAL
    assert _job(cli)["state"] == "done"


def test_a_worker_back_after_the_grace_period_marks_the_job_missed_and_sends_nothing(
    workspace: Path, server: MailServer, cli: Invoke, start_worker: Callable[..., Worker]
) -> None:
    _use_smtp(workspace, server, "\n[worker]\ngrace_period = 1\n")
    assert cli("queue", "block-arms-sale").exit_code == 0
    _held_then_stopped(cli, workspace, start_worker)
    at = _soon(2)  # brought forward while no worker runs
    assert cli("send", "1", "--at", _iso(at)).exit_code == 0
    _sleep_until(at + timedelta(seconds=2.5))

    second = start_worker(workspace)
    _until(second.logged("job 1 missed its time"), what="the worker to log the job missed")
    assert _job(cli)["state"] == "missed"
    time.sleep(0.5)
    second.stop()

    assert server.received() == []
    job = _job(cli)
    assert job["counts"] == {"queued": TOTAL}
    assert "grace period of 1s" in job["last_error"]
    table = cli("status").stdout
    assert "missed" in table
    # Rescheduled by the operator, it goes out.
    assert cli("send", "1", "--now").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    assert len(_received_once(server)) == TOTAL


def test_pause_and_resume_reach_a_running_worker_within_a_second(
    smtp_workspace: Path, server: MailServer, cli: Invoke, start_worker: Callable[..., Worker]
) -> None:
    assert cli("send", "1", "--rate", "10/s").exit_code == 0
    worker = start_worker(smtp_workspace)
    _until(lambda: len(server.received()) >= 10, what="ten messages")

    at_pause = len(server.received())
    assert cli("pause", "1").exit_code == 0
    settled = _in_flight_done(cli, server)
    assert settled - at_pause <= IN_FLIGHT, "more went out than were in flight at the pause"
    time.sleep(1.5)
    assert len(server.received()) == settled, "messages kept going after the pause"
    assert settled < TOTAL
    job = _job(cli)
    assert job["state"] == "paused"
    assert job["counts"] == {"sent": settled, "queued": TOTAL - settled}

    assert cli("resume", "1").exit_code == 0
    _until(lambda: len(server.received()) == TOTAL, what="the rest after resuming")
    worker.stop()
    assert len(_received_once(server)) == TOTAL
    assert _job(cli)["counts"] == {"sent": TOTAL}


def test_cancel_reaches_a_running_worker_and_cancels_exactly_the_unsent(
    smtp_workspace: Path, server: MailServer, cli: Invoke, start_worker: Callable[..., Worker]
) -> None:
    assert cli("send", "1", "--rate", "10/s").exit_code == 0
    worker = start_worker(smtp_workspace)
    _until(lambda: len(server.received()) >= 10, what="ten messages")

    at_cancel = len(server.received())
    result = cli("cancel", "1")
    assert result.exit_code == 0
    settled = _in_flight_done(cli, server)
    assert settled - at_cancel <= IN_FLIGHT
    time.sleep(1.5)
    worker.stop()
    assert len(server.received()) == settled
    job = _job(cli)
    assert job["state"] == "cancelled"
    assert job["counts"] == {"sent": settled, "cancelled": TOTAL - settled}
    assert set(_received_once(server)) == {
        m["id"]
        for m in json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0][
            "messages"
        ]
        if m["state"] == "sent"
    }


def test_two_workers_on_one_database_start_a_scheduled_job_once(
    workspace: Path,
    server: MailServer,
    cli: Invoke,
    database_url: str,
    start_worker: Callable[..., Worker],
) -> None:
    _use_smtp(workspace, server, "\n[worker]\nconcurrency = 4\n")
    config = workspace / "capitolmail.toml"
    config.write_text(f'database_url = "{database_url}"\n' + config.read_text())
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    at = _soon(4)
    assert cli("send", "1", "--at", _iso(at), "--rate", "20/s").exit_code == 0
    workers = [start_worker(workspace), start_worker(workspace)]

    _until(lambda: len(server.received()) == TOTAL, what="every message")
    time.sleep(0.5)
    for worker in workers:
        worker.stop()

    assert len(_received_once(server)) == TOTAL
    assert _job(cli)["counts"] == {"sent": TOTAL}
    with Store.open(database_url) as store:
        kinds = [event.kind for event in store.list_events(1)]
    assert kinds.count("job_sending") == 1, "the job was started twice"
