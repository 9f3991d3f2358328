"""Sends whose verdict never came, through the commands a GR team types.

A request that went out and got no answer may have been delivered: it is
`unknown`, shown with its reason, and never retried without an operator. Only
what provably never reached the provider (no connection) is retried.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from capitolmail.config import load_settings
from capitolmail.outbox import Outcome, Store

from .conftest import Invoke, use_smtp_relay
from .servers.sendgrid import SendGridStandIn, load_spec
from .servers.smtp import running_mail_server
from .workers import senate_wide

API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"
SRC = Path(__file__).resolve().parents[1] / "src"


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.01)


def use_sendgrid(workspace: Path, base_url: str, *, timeout: float = 2, **worker: float) -> None:
    """Point the workspace at `base_url` with a short read timeout; `worker` adds settings."""
    config = workspace / "capitolmail.toml"
    text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
    settings = {"concurrency": 8, "retry_base_seconds": 0.01, **worker}
    config.write_text(
        text + f'\n[provider.sendgrid]\nbase_url = "{base_url}"\nsandbox_mode = true\n'
        f"timeout = {timeout}\nconnect_timeout = 1\n\n[worker]\n"
        + "".join(f"{key} = {value}\n" for key, value in settings.items())
    )


def every_senator(workspace: Path) -> None:
    """The example letter to every senator's two contacts: 200 messages."""
    senate_wide(workspace)


@pytest.fixture
def sendgrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        yield server


def job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def open_store(workspace: Path) -> Store:
    return Store.open(load_settings(workspace).database_url_for(workspace))


def test_replies_that_come_after_the_timeout_leave_those_messages_unknown_and_sent_once(
    cli: Invoke, workspace: Path, sendgrid: SendGridStandIn
) -> None:
    every_senator(workspace)
    use_sendgrid(workspace, sendgrid.url)
    assert cli("queue", "block-arms-sale").exit_code == 0
    cli("send", "1")
    late = sorted(m["to"] for m in job(cli)["messages"])[::20]  # 10 of 200
    sendgrid.stall(2.5, recipients=late)  # past the client's 2 s timeout

    worker = cli("worker", "--once")

    assert worker.exit_code == 1, worker.output  # ten letters' fate is not known
    assert "10 unknown (no reply came after sending; see status)" in worker.stderr
    wait_for(lambda: len(sendgrid.accepted) == 200)  # the stalled ones land after our timeout
    after = job(cli)
    assert after["state"] == "done"
    assert after["counts"] == {"sent": 190, "unknown": 10}
    assert sorted(m["to"] for m in after["messages"] if m["state"] == "unknown") == late
    assert sendgrid.requests == 200
    arrived = Counter(sendgrid.accepted_ids())
    assert arrived == Counter({m["id"]: 1 for m in after["messages"]})
    reason = "SendGrid did not answer within 2 s; it may have accepted the message (not retried)"
    assert after["failures"] == [{"reason": reason, "count": 10}]
    status = cli("status", "1")
    assert f"    10  {reason}" in status.stdout

    # Another run sends nothing more: unknown is never retried on its own.
    assert cli("worker", "--once").exit_code == 0
    assert sendgrid.requests == 200
    assert job(cli)["counts"] == {"sent": 190, "unknown": 10}


def test_no_connection_is_retried_until_it_goes_through(
    cli: Invoke, workspace: Path, sendgrid: SendGridStandIn
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens
    use_sendgrid(workspace, refused, retry_base_seconds=0.05, max_attempts=50)
    cli("queue", "block-arms-sale")
    cli("send", "1")

    cli("worker", "--once")

    before = job(cli)
    assert set(before["counts"]) <= {"retry_wait", "queued"}
    assert all("cannot connect to SendGrid" in m["last_error"] for m in before["messages"])
    config = workspace / "capitolmail.toml"
    config.write_text(config.read_text().replace(refused, sendgrid.url))
    deadline = time.monotonic() + 30
    while job(cli)["state"] != "done" and time.monotonic() < deadline:
        cli("worker", "--once")  # each run sends what has come due
    after = job(cli)
    assert after["counts"] == {"sent": 44}
    assert all(m["attempts"] >= 2 for m in after["messages"])
    assert Counter(sendgrid.accepted_ids()) == Counter({m["id"]: 1 for m in after["messages"]})


def test_cancel_while_a_refused_key_is_in_flight_cancels_the_messages_and_the_worker_goes_on(
    cli: Invoke, workspace: Path, sendgrid: SendGridStandIn
) -> None:
    use_sendgrid(workspace, sendgrid.url, timeout=10)
    cli("queue", "block-arms-sale")
    cli("send", "1")
    sendgrid.answer(401, times=None, delay=3.0)  # within the timeout: a verdict, late
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "worker", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: sendgrid.in_flight > 0)
        assert cli("cancel", "1").exit_code == 0
        _, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
        worker.wait()

    assert worker.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"job 1 is cancelled, so it was not paused" in stderr
    after = job(cli)
    assert after["state"] == "cancelled"
    assert after["counts"] == {"cancelled": 44}
    assert sendgrid.accepted == []
    refused = [m for m in after["messages"] if m["attempts"] == 0 and m["last_error"]]
    assert refused and all("SendGrid refused the API key (401)" in m["last_error"] for m in refused)


def test_requeue_unknown_says_which_messages_are_still_sending(
    cli: Invoke, workspace: Path
) -> None:
    cli("queue", "block-arms-sale")
    cli("send", "1")
    now = datetime.now(UTC)
    with open_store(workspace) as store:
        store.start_due_jobs(now, grace=load_settings(workspace).worker.grace_period)
        store.register_worker("w1", socket.gethostname(), os.getpid(), now)
        in_flight = store.claim_due("w1", 3, now)

    nothing = cli("requeue", "1", "--unknown")

    assert nothing.exit_code == 1
    assert nothing.stderr == (
        "Requeued 0 messages of job 1.\n"
        "3 messages are still `sending`: a worker may be sending them, or died; start a "
        "worker (it recovers them: unknown if handed over, else queued) or wait, then requeue "
        "again.\n"
    )
    assert job(cli)["counts"] == {"sending": 3, "queued": 41}

    with open_store(workspace) as store:
        unknown = in_flight[0].message.message_id
        store.record_outcomes([Outcome(unknown, "unknown", error="no reply")], now)
    some = cli("requeue", "1", "--unknown")
    assert some.exit_code == 0
    assert some.stderr.startswith("Requeued 1 messages of job 1.\n2 messages are still `sending`")
    assert job(cli)["counts"] == {"sending": 2, "queued": 42}


def test_smtp_connection_lost_after_the_data_leaves_the_message_unknown_and_delivered_once(
    cli: Invoke, workspace: Path
) -> None:
    with running_mail_server() as server:
        server.hang_up("DATA", times=1)
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").exit_code == 0
        cli("send", "1")

        # One letter may have been delivered and nobody knows: not a clean run.
        assert cli("worker", "--once").exit_code == 1

        after = job(cli)
        assert after["counts"] == {"sent": 43, "unknown": 1}
        (lost,) = [m for m in after["messages"] if m["state"] == "unknown"]
        assert "lost after the message data was sent" in lost["last_error"]
        delivered = Counter(rcpt for r in server.received() for rcpt in r.rcpt_tos)
        assert delivered == Counter({m["to"]: 1 for m in after["messages"]})


def test_pause_and_resume_of_a_job_that_changed_state_meanwhile_say_so_and_succeed(
    cli: Invoke,
) -> None:
    cli("queue", "block-arms-sale")
    cli("send", "1")
    assert cli("resume", "1").stderr.startswith("Job 1 was not paused; it is scheduled.\n")
    assert cli("cancel", "1").exit_code == 0

    paused = cli("pause", "1")

    assert paused.exit_code == 0
    assert paused.stderr == "Job 1 is cancelled; it sends nothing more, so it was left as it is.\n"
    assert job(cli)["state"] == "cancelled"
    resumed = cli("resume", "1")
    assert resumed.exit_code == 1
    assert resumed.stderr == "Error: job 1 is cancelled, not paused; nothing to resume\n"


def test_send_with_a_new_rate_for_a_job_a_worker_started_meanwhile_changes_only_the_rate(
    cli: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("queue", "block-arms-sale")
    cli("send", "1")
    with open_store(workspace) as store:
        store.start_due_jobs(datetime.now(UTC), grace=load_settings(workspace).worker.grace_period)
    # `send` looks at the job first; this first look is from before the worker started it.
    real_get_job = Store.get_job
    looks: list[int] = []

    def first_look_is_stale(self: Store, job_id: int) -> Any:
        info = real_get_job(self, job_id)
        looks.append(job_id)
        return dataclasses.replace(info, state="scheduled") if len(looks) == 1 else info

    monkeypatch.setattr(Store, "get_job", first_look_is_stale)

    result = cli("send", "1", "--rate", "60/min")

    assert result.exit_code == 0, result.output
    assert result.stderr == "Job 1 is sending; at most 60/min.\n"
    assert job(cli)["options"] == {"rate": "60/min"}
    assert job(cli)["state"] == "sending"
