"""Message size limits checked before anything is queued: the SMTP relay's SIZE (RFC 1870)
read from a real aiosmtpd relay's EHLO, and SendGrid's 30 MB request limit."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.errors import InputError
from capitolmail.letters.sizes import refuse_oversized, size_screen
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage
from capitolmail.providers import size_limit
from capitolmail.providers.sendgrid_payload import check_message, request_size
from tests.conftest import Invoke, use_smtp_relay
from tests.servers.smtp import running_mail_server

LETTER = Path("letters/block-arms-sale")
# About 120 KB of text: over a relay's SIZE 100000, far under the render limits.
LONG_PARAGRAPH = ("The sale must be blocked until civilians are protected. " * 2200) + "\n"


def _long_letter(workspace: Path) -> None:
    body = workspace / LETTER / "body.txt.j2"
    body.write_text(body.read_text() + LONG_PARAGRAPH)


def _jobs(cli: Invoke) -> list[dict]:
    return json.loads(cli("status", "--json").stdout)["jobs"]


def test_a_relay_declaring_size_refuses_a_larger_letter_at_queue_time(
    cli: Invoke, workspace: Path
) -> None:
    _long_letter(workspace)
    with running_mail_server(data_size_limit=100_000) as server:
        use_smtp_relay(workspace, server.port)
        eml = cli("letters", "preview", "block-arms-sale", "--format", "eml").stdout
        for command in (("letters", "check"), ("queue",)):
            result = cli(*command, "block-arms-sale")
            assert result.exit_code == 1, result.output
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1, result.stderr
            prefix = (
                "Error: letters/block-arms-sale/letter.toml: the message to office M001169 "
                "(cos.murphy.ct@senate.example.org) is "
            )
            assert errors[0].startswith(prefix), errors[0]
            size = int(errors[0].removeprefix(prefix).partition(" ")[0].replace(",", ""))
            # The message as sent: the preview's bytes (CRLF) plus the Date header.
            wire = len(eml.replace("\n", "\r\n").encode())
            assert wire < size <= wire + 60
            assert errors[0].endswith(
                f"bytes, over the 100,000 bytes the relay 127.0.0.1:{server.port} (SIZE in its "
                "EHLO reply) takes; nothing was queued (make the letter or its attachments "
                "smaller)"
            )
        assert server.received() == []
    assert _jobs(cli) == []


def test_the_same_letter_goes_through_a_relay_that_takes_it(cli: Invoke, workspace: Path) -> None:
    _long_letter(workspace)
    with running_mail_server(data_size_limit=1_000_000) as server:
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    assert len(received) == 44
    assert all(100_000 < len(message.raw) < 1_000_000 for message in received)


def test_a_relay_without_size_and_an_unreachable_one(cli: Invoke, workspace: Path) -> None:
    _long_letter(workspace)
    with running_mail_server(data_size_limit=0) as server:
        use_smtp_relay(workspace, server.port)
        result = cli("queue", "block-arms-sale")
        assert result.stdout == "1\n" and "sizes were not checked" not in result.stderr
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = workspace / "capitolmail.toml"
    config.write_text(config.read_text().replace(f"port = {server.port}", f"port = {port}"))
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.stdout == "2\n"
    assert (
        "Note: message sizes were not checked against the provider's limit "
        f"(cannot connect to 127.0.0.1:{port}" in result.stderr
    )


def _sendgrid_workspace(workspace: Path) -> Path:
    config = workspace / "capitolmail.toml"
    config.write_text(config.read_text().replace('name = "file"', 'name = "sendgrid"'))
    return workspace


def _message(text: str, html: str | None = None) -> QueuedMessage:
    return QueuedMessage(
        OutgoingMessage(
            message_id="7d4c2f7e-0a43-4a59-9a54-1e0f6d1c2b3a",
            job_id="1",
            from_email="policy@org.example.org",
            from_name="Org",
            to_email="cos.coons.de@senate.example.org",
            to_name="Alex Rivera",
            subject="The sale",
            text=text,
            html=html,
        ),
        bioguide="C001088",
    )


def test_sendgrid_counts_the_request_itself_against_30_mb(workspace: Path) -> None:
    """16 MB of bodies pass the body check, but JSON escapes every quote and line
    break: the request is 32 MB, and that is what SendGrid refuses."""
    settings = load_settings(_sendgrid_workspace(workspace))  # no API key: queueing needs none
    limit = size_limit(settings, outbox_dir=workspace)
    assert limit is not None and limit.max_bytes == 29_999_999
    big = _message("\n" * 8_000_000, '"' * 8_000_000)
    check_message(big.message)  # what compose checks: the bodies alone are under 30 MB
    assert request_size(big.message) > 32_000_000
    with pytest.raises(InputError) as refused:
        refuse_oversized(big, limit, "letters/block-arms-sale/letter.toml")
    assert str(refused.value) == (
        "letters/block-arms-sale/letter.toml: the message to office C001088 "
        f"(cos.coons.de@senate.example.org) is {request_size(big.message):,} bytes, over the "
        "29,999,999 bytes SendGrid (requests under 30 MB, attachments counted base64-encoded) "
        "takes; nothing was queued (make the letter or its attachments smaller)"
    )
    fits = _message("\n" * 7_000_000, '"' * 7_000_000)  # 28 MB of JSON
    refuse_oversized(fits, limit, "letters/block-arms-sale/letter.toml")


def test_file_and_console_have_no_limit(workspace: Path) -> None:
    settings = load_settings(workspace)
    assert size_limit(settings, outbox_dir=workspace) is None
    assert size_screen(settings, outbox_dir=workspace, source="x") == (None, "")


def test_the_size_question_never_logs_in(
    cli: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIZE is in the EHLO reply before AUTH: queueing reads it without the credentials."""
    _long_letter(workspace)
    monkeypatch.setenv("CAPITOLMAIL_SMTP_PASSWORD", "not-the-password")
    logins: list[str] = []
    with running_mail_server(data_size_limit=100_000) as server:
        server.refuse_login(lambda user, password: logins.append(user) or "535 5.7.8 no")
        use_smtp_relay(workspace, server.port, smtp='username = "gr"\n')
        result = cli("queue", "block-arms-sale")
        assert result.exit_code == 1
        assert "over the 100,000 bytes the relay" in result.stderr
        assert "not-the-password" not in result.output
    assert logins == []
    assert _jobs(cli) == []
