"""A relay that throttles, and relays that refuse: what a GR team sees from the command line.

The relay is the real aiosmtpd server with a rate limit (tests/servers/smtp.py),
windows shortened for the test: Postfix limited to 10 messages a minute answered
`450 4.7.1 ... too much mail` to the rest, and 88 of 168 letters failed for good
with the job reading `done 100%` and exit code 0.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from capitolmail.outbox import EventInfo, Store
from capitolmail.sending.throttle import format_pace

from .conftest import Invoke, use_smtp_relay
from .servers.smtp import TOO_MANY_CONNECTIONS, MailServer, running_mail_server
from .test_worker_process import IN_FLIGHT, Worker, _until

_LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
TOTAL = 44  # the worked example: 22 SSFR members, two staff contacts each


@pytest.fixture
def server() -> Iterator[MailServer]:
    with running_mail_server() as running:
        yield running


@pytest.fixture
def relay_workspace(workspace: Path, server: MailServer, cli: Invoke) -> Path:
    use_smtp_relay(
        workspace,
        server.port,
        # Two attempts only: a throttle that used them up would fail letters at once.
        rest="\n[worker]\nmax_attempts = 2\nretry_base_seconds = 0.01\nretry_cap_seconds = 0.05\n",
    )
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    return workspace


def _printed(stderr: str) -> list[str]:
    """What the command printed, without log records (the servers' threads log too)."""
    return [line for line in stderr.splitlines() if not _LOG_RECORD.match(line)]


def _offices(cli: Invoke, count: int) -> list[str]:
    """The first `count` office contacts the job writes to."""
    return [m["to"] for m in _job(cli)["messages"][:count]]


def _job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def _delivered_once(server: MailServer) -> Counter[str]:
    received = Counter(r.message["Message-ID"][1:37] for r in server.received())
    assert all(count == 1 for count in received.values()), "a letter was delivered twice"
    return received


def _assert_every_letter_went_once_on_its_first_attempt(cli: Invoke, server: MailServer) -> None:
    job = _job(cli)
    assert job["state"] == "done"
    assert job["summary"] == "done"
    assert (job["failed"], job["unknown"]) == (0, 0)
    assert job["counts"] == {"sent": TOTAL}
    assert set(_delivered_once(server)) == {m["id"] for m in job["messages"]}
    # A throttle is not the message's fault: no attempt was used up by one.
    assert {m["attempts"] for m in job["messages"]} == {1}


def test_a_relay_that_says_too_much_mail_gets_every_letter_once_and_slower(
    relay_workspace: Path, server: MailServer, cli: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    server.throttle(3, 0.2)  # Postfix's anvil, sped up: 3 messages in 0.2 s
    result = cli("send", "1", "--wait")
    assert result.exit_code == 0, result.output
    assert f"Job 1 is done: sent {TOTAL}." in result.stderr
    assert server.throttled > 0, "the relay never throttled; the test proves nothing"
    _assert_every_letter_went_once_on_its_first_attempt(cli, server)
    # The worker slowed down for everyone rather than retrying each letter at full speed,
    # said so in its log, and noted the pace where `status` reads it.
    lowered = [m for m in caplog.messages if m.startswith("relay throttling: pace lowered to")]
    assert lowered
    assert "450 4.7.1 Error: too much mail from 127.0.0.1" in lowered[0]
    notes = [e.detail for e in _events(relay_workspace) if e.kind == "relay_pace"]
    # The log shows the pace as staff read it ("14 msg/s"); the note keeps it exact.
    assert f"pace lowered to {format_pace(float(notes[0] or 'nan'))}" in lowered[0]
    # Bounded refusals: the pace, not each letter's retries at full speed, found the limit
    # (at full speed each letter is refused several times over). The design allows one
    # burst: the worker's 16 threads are in flight when the first refusal comes back,
    # and those refusals are one signal, one cut. That cut halves what the threads could
    # send in a second, which lands at or below the relay's 15 msg/s, so after it only
    # a few strays are refused while the pace climbs back (AIMD) and probes the limit.
    assert server.throttled < IN_FLIGHT + TOTAL / 4


def test_a_relay_that_answers_421_and_hangs_up_gets_every_letter_once(
    relay_workspace: Path, server: MailServer, cli: Invoke
) -> None:
    server.throttle(4, 0.2, command="MAIL", reply=TOO_MANY_CONNECTIONS)
    assert cli("send", "1").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    assert server.throttled > 0
    _assert_every_letter_went_once_on_its_first_attempt(cli, server)
    assert "relay throttling: pace lowered to" in result.stderr
    # Each 421 closed its connection and the pool replaced it.
    assert server.sessions > server.throttled // 4
    assert server.sessions >= 2


def test_one_letter_deferred_many_times_still_goes_out_without_using_its_attempts(
    relay_workspace: Path, server: MailServer, cli: Invoke
) -> None:
    [office] = _offices(cli, 1)
    server.answer("RCPT", "450 4.7.1 <x>: try again later", recipient=office, times=6)
    result = cli("send", "1", "--wait")
    assert result.exit_code == 0, result.output
    _assert_every_letter_went_once_on_its_first_attempt(cli, server)
    events = _events(relay_workspace)
    waits = [e for e in events if e.kind == "retry_wait"]
    assert len(waits) == 6
    assert all(e.detail and e.detail.endswith("(attempt not counted)") for e in waits)


def test_a_relay_that_refuses_offices_for_good_makes_worker_once_exit_1_and_says_so(
    relay_workspace: Path, server: MailServer, cli: Invoke
) -> None:
    refused = _offices(cli, 2)
    for office in refused:
        server.answer("RCPT", f"550 5.1.1 <{office}>: Recipient address rejected", recipient=office)
    assert cli("send", "1").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 1
    lines = _printed(result.stderr)
    assert "Job 1 done: 2 failed." in lines
    assert lines[-1] == (
        'Not everything was sent: job 1 done: 2 failed. "capitolmail status JOB" shows why.'
    )
    job = _job(cli)
    assert (job["state"], job["summary"], job["failed"], job["unknown"]) == (
        "done",
        "done: 2 failed",
        2,
        0,
    )
    assert job["counts"] == {"sent": TOTAL - 2, "failed": 2}
    assert {m["to"] for m in job["messages"] if m["state"] == "failed"} == set(refused)
    assert len(_delivered_once(server)) == TOTAL - 2
    table = cli("status").stdout
    assert "done: 2 failed" in table
    assert "Recipient address rejected" in cli("status", "1").stdout

    # A second run has nothing to do and changes nothing: it does not cry wolf.
    again = cli("worker", "--once")
    assert again.exit_code == 0, again.output


def test_send_wait_exits_1_when_letters_failed(
    relay_workspace: Path, server: MailServer, cli: Invoke
) -> None:
    server.answer("RCPT", "550 5.7.1 relaying denied", recipient=_offices(cli, 1)[0])
    result = cli("send", "1", "--wait")
    assert result.exit_code == 1
    lines = _printed(result.stderr)
    assert lines[-2] == f"Job 1: sent {TOTAL - 1}, failed 1."
    assert lines[-1] == (
        'Not everything was sent: job 1 done: 1 failed. "capitolmail status JOB" shows why.'
    )
    assert _job(cli)["summary"] == "done: 1 failed"


def test_send_wait_exits_1_when_the_relay_refuses_the_login(
    workspace: Path, server: MailServer, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.require_auth("gr-team", "right")
    monkeypatch.setenv("CAPITOLMAIL_SMTP_PASSWORD", "wrong")
    use_smtp_relay(workspace, server.port, smtp='username = "gr-team"\n')
    assert cli("queue", "block-arms-sale").exit_code == 0
    result = cli("send", "1", "--wait")
    assert result.exit_code == 1
    assert _printed(result.stderr)[-1].startswith(
        "Not everything was sent: job 1 paused (127.0.0.1:"
    )
    assert "refused the login of 'gr-team'" in _printed(result.stderr)[-1]
    assert server.received() == []


def _events(workspace: Path) -> list[EventInfo]:
    with Store.open(f"sqlite:///{workspace / '.capitolmail' / 'capitolmail.db'}") as store:
        return store.list_events(1)


def test_status_shows_the_pace_a_throttling_relay_forced_on_a_running_worker(
    relay_workspace: Path, server: MailServer, cli: Invoke
) -> None:
    server.throttle(2, 0.5)  # slow enough that the job is still sending while we look
    assert cli("send", "1").exit_code == 0
    worker = Worker(relay_workspace)
    try:
        # The relay takes 4 a second; status follows the pace down to about that.
        _until(
            lambda: (_job(cli)["relay_pace"] or {}).get("per_second", 99) <= 4,
            what="status to show a pace the relay accepts",
        )
        table = cli("status").stdout
        assert "relay throttling:" in table
        assert "msg/s" in table
    finally:
        stderr = worker.stop()
    assert "relay throttling: pace lowered to" in stderr
    # Stopped, the worker holds no pace: status does not show a stale one.
    assert _job(cli)["relay_pace"] is None
    assert "relay throttling:" not in cli("status").stdout
    _delivered_once(server)
