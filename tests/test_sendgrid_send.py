"""A joint letter through SendGrid's stand-in, driven only by the commands a GR team types."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Invoke
from .servers.sendgrid import SendGridStandIn, load_spec

API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            text + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
            "\n[worker]\nconcurrency = 8\nretry_base_seconds = 0.01\n"
        )
        monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
        yield server


def _job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def test_every_office_contact_gets_one_request(cli: Invoke, sendgrid: SendGridStandIn) -> None:
    cli("queue", "block-arms-sale")
    cli("send", "1")
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    job = _job(cli)
    assert job["counts"] == {"sent": 44}
    assert len(sendgrid.accepted) == 44
    by_id = {
        p["personalizations"][0]["custom_args"]["capitolmail_message_id"]: p
        for p in sendgrid.accepted
    }
    assert set(by_id) == {m["id"] for m in job["messages"]}
    for message in job["messages"]:
        payload = by_id[message["id"]]
        assert payload["personalizations"][0]["to"][0]["email"] == message["to"]
        assert payload["categories"] == ["block-arms-sale"]
        assert payload["mail_settings"] == {"sandbox_mode": {"enable": True}}
        assert message["provider_message_id"]


def test_a_refused_key_pauses_the_job_and_never_shows_the_key(
    cli: Invoke, sendgrid: SendGridStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", "SG.revoked-key-0000")
    cli("queue", "block-arms-sale")
    cli("send", "1")
    worker = cli("worker", "--once")
    assert worker.exit_code == 1  # a paused job needs an operator: cron must hear of it
    log_record = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
    printed = [line for line in worker.stderr.splitlines() if not log_record.match(line)]
    assert printed[-1].startswith(
        "Not everything was sent: job 1 paused (SendGrid refused the API key (401)"
    )
    job = _job(cli)
    assert job["state"] == "paused"
    assert job["paused_reason"].startswith("SendGrid refused the API key (401)")
    assert sendgrid.accepted == []
    assert sendgrid.requests <= 8  # at most what was in flight; it did not grind through 44
    assert "sent" not in job["counts"]
    assert sum(job["counts"].values()) == 44
    for output in (worker.output, cli("status", "1").output, json.dumps(job)):
        assert "SG.revoked-key-0000" not in output

    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
    assert cli("resume", "1").exit_code == 0
    cli("worker", "--once")
    assert _job(cli)["counts"] == {"sent": 44}
    assert len(sendgrid.accepted) == 44


def test_a_refused_message_fails_alone_with_sendgrids_reason(
    cli: Invoke, sendgrid: SendGridStandIn
) -> None:
    sendgrid.answer(
        400,
        recipient="fpla.booker.nj@senate.example.org",
        times=None,
        errors=[{"message": "Does not contain a valid address.", "field": "personalizations.0.to"}],
    )
    cli("queue", "block-arms-sale")
    cli("send", "1")
    cli("worker", "--once")
    job = _job(cli)
    assert job["counts"] == {"sent": 43, "failed": 1}
    assert job["failures"] == [
        {
            "reason": "SendGrid refused the message: personalizations.0.to: "
            "Does not contain a valid address.",
            "count": 1,
        }
    ]
    status = cli("status", "1")
    assert "problems by reason" in status.stdout
    assert "Does not contain a valid address." in status.stdout


def test_server_errors_are_retried_until_they_pass(cli: Invoke, sendgrid: SendGridStandIn) -> None:
    sendgrid.answer(500, recipient="cos.booker.nj@senate.example.org", times=2)
    cli("queue", "block-arms-sale")
    cli("send", "1")
    for _ in range(20):  # backoff is 10 ms here; a few passes drain it
        cli("worker", "--once")
        if _job(cli)["state"] == "done":
            break
    job = _job(cli)
    assert job["counts"] == {"sent": 44}
    booker = [m for m in job["messages"] if m["to"] == "cos.booker.nj@senate.example.org"]
    assert booker[0]["attempts"] == 3
    assert len(sendgrid.accepted) == 44


def test_config_show_masks_the_key(cli: Invoke, sendgrid: SendGridStandIn) -> None:
    shown = cli("config", "show")
    assert API_KEY not in shown.output
    assert json.loads(shown.stdout)["sendgrid_api_key"] == "**********"


def test_send_rate_is_stored_with_the_job(cli: Invoke) -> None:
    cli("queue", "block-arms-sale")
    result = cli("send", "1", "--rate", "120/min")
    assert result.exit_code == 0
    assert "at most 120/min" in result.stderr
    assert _job(cli)["options"] == {"rate": "120/min"}
    bad = cli("send", "1", "--rate", "lots")
    assert bad.exit_code == 2
    assert '"lots" is not a rate; write it like "120/min" or "10/s"' in bad.stderr
