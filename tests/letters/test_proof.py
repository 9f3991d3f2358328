"""`capitolmail proof`: one recipient's real letter to the staffer, and to no one else.

Driven through the command line against the real aiosmtpd relay and the SendGrid
stand-in: the exact RCPT list and personalizations, the headers, the bodies
compared with `letters preview` of the same recipient, and `status` and the
suppression list unchanged afterwards (no job, no stored message).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.letters.tokens import verify_token

from ..conftest import Invoke, use_smtp_relay
from ..servers.sendgrid import SendGridStandIn, load_spec
from ..servers.smtp import MailServer, running_mail_server

ME = "me@example.org"
OFFICE = "C001088"  # Christopher Coons, on Foreign Relations
SENDER = "advocacy@example.org"
API_KEY = "SG.capitolmail-proof-test.abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def relay(workspace: Path) -> Iterator[MailServer]:
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        yield server


@pytest.fixture
def sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            "allow_example_values = true\n"
            + text
            + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
        )
        monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
        yield server


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def _preview(cli: Invoke, slug: str, to: str) -> EmailMessage:
    result = cli("letters", "preview", slug, "--to", to, "--format", "eml")
    assert result.exit_code == 0, result.output
    return _parse(result.stdout.encode())


def _bodies(message: EmailMessage) -> tuple[str, str | None]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    return text.get_content(), html.get_content() if html is not None else None


def _state(cli: Invoke) -> tuple[str, str]:
    return cli("status", "--json").stdout, cli("suppress", "list", "--json").stdout


def test_a_proof_over_smtp_goes_to_the_staffer_alone_and_is_the_office_letter(
    cli: Invoke, workspace: Path, relay: MailServer
) -> None:
    before = _state(cli)
    preview = _preview(cli, "block-arms-sale", OFFICE)

    result = cli("proof", "block-arms-sale", "--to", ME, "--as", OFFICE)

    assert result.exit_code == 0, result.output
    [received] = relay.received()
    assert received.rcpt_tos == (ME,)
    assert received.mail_from == SENDER
    proof = received.message
    assert proof["To"] == ME
    assert proof["From"] == preview["From"]
    assert proof["Reply-To"] == preview["Reply-To"]
    assert proof["Subject"] == "[PROOF] " + preview["Subject"]
    for header in ("Cc", "Bcc", "List-Unsubscribe"):
        assert proof[header] is None
    assert _bodies(proof) == _bodies(preview)
    assert preview["To"].endswith(f"<{preview['To'].addresses[0].addr_spec}>")
    assert preview["To"].addresses[0].addr_spec not in received.raw.decode()
    assert result.stderr == (
        f"Sent a proof of block-arms-sale (the message for "
        f"{preview['To'].addresses[0].addr_spec}, Christopher A. Coons) to {ME} through smtp; "
        "no job was created.\n"
    )
    assert _state(cli) == before
    assert not (workspace / ".capitolmail" / "outbox").exists()


def test_the_first_recipient_by_default_and_several_staff_one_message_each(
    cli: Invoke, relay: MailServer
) -> None:
    first = _preview(cli, "block-arms-sale", "")  # --to "": the first recipient
    result = cli("proof", "block-arms-sale", "--to", f"{ME}, lead@example.net", "--to", ME)
    assert result.exit_code == 0, result.output
    received = relay.received()
    assert [r.rcpt_tos for r in received] == [(ME,), ("lead@example.net",)]
    assert [r.message["To"] for r in received] == [ME, "lead@example.net"]
    for message in received:
        assert _bodies(message.message) == _bodies(first)
    assert len({r.message["Message-ID"] for r in received}) == 2


@pytest.mark.parametrize(
    ("to", "error"),
    [
        ("me@@example.org", '--to: "me@@example.org" is not a valid address'),
        ("me@example.org\r\nBcc: x@example.net", '--to: "me@example.org\\r\\nBcc: x@'),
        (" , ", "--to: give the address the proof goes to (your own)"),
        (",".join(f"s{n}@example.org" for n in range(11)), "--to: 11 addresses; a proof goes"),
        (
            "fpla.coons.de@senate.example.org",
            '--to: "fpla.coons.de@senate.example.org" is a recipient of block-arms-sale '
            "(Christopher A. Coons's office); a proof goes to yourself, never to an office",
        ),
    ],
)
def test_a_bad_or_office_address_is_one_line_and_nothing_is_sent(
    cli: Invoke, relay: MailServer, to: str, error: str
) -> None:
    before = _state(cli)
    result = cli("proof", "block-arms-sale", "--to", to)
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"Error: {error}")
    assert relay.received() == []
    assert _state(cli) == before


def test_a_relay_refusal_is_one_line_without_a_traceback(cli: Invoke, relay: MailServer) -> None:
    relay.answer("RCPT", "550 5.1.1 <me@example.org>: Recipient address rejected")
    before = _state(cli)
    result = cli("proof", "block-arms-sale", "--to", ME)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: the proof to {ME} was not sent: ")
    assert "550 5.1.1" in result.stderr
    assert result.stderr.endswith("the provider will not take it as it is\n")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output
    assert _state(cli) == before


def test_an_unknown_letter_or_recipient_sends_nothing(cli: Invoke, relay: MailServer) -> None:
    result = cli("proof", "block-arms-sale", "--to", ME, "--as", "S000033")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: "S000033" is not among the recipients of block-arms-sale; '
        "`capitolmail letters check` lists the offices\n"
    )
    assert cli("proof", "no-such-letter", "--to", ME).exit_code == 1
    assert relay.received() == []


def test_a_proof_through_sendgrid_has_one_personalization_for_the_staffer(
    cli: Invoke, sendgrid: SendGridStandIn
) -> None:
    before = _state(cli)
    preview = _preview(cli, "block-arms-sale", OFFICE)
    result = cli("proof", "block-arms-sale", "--to", ME, "--as", OFFICE)
    assert result.exit_code == 0, result.output
    [payload] = sendgrid.accepted
    [personalization] = payload["personalizations"]
    assert personalization["to"] == [{"email": ME}]
    assert "cc" not in personalization and "bcc" not in personalization
    assert payload["subject"] == "[PROOF] " + preview["Subject"]
    assert payload["categories"] == ["block-arms-sale", "proof"]
    content = {part["type"]: part["value"] for part in payload["content"]}
    text, html = _bodies(preview)
    assert content == {"text/plain": text, "text/html": html}
    message_id = personalization["custom_args"]["capitolmail_message_id"]
    assert message_id not in cli("status", "--json", "--messages").stdout
    assert _state(cli) == before


def test_a_refused_api_key_is_one_line_and_the_key_is_never_shown(
    cli: Invoke, sendgrid: SendGridStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", "SG.revoked-proof-key-0000")
    result = cli("proof", "block-arms-sale", "--to", ME)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: the proof to {ME} was not sent: SendGrid refused")
    assert result.stderr.endswith("fix the provider settings and run proof again\n")
    assert len(result.stderr.splitlines()) == 1
    assert "SG.revoked-proof-key-0000" not in result.output
    assert sendgrid.accepted == []


def _unsubscribe_url(message: EmailMessage) -> str:
    match = re.match(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    assert match is not None
    return match.group(1)


def test_an_alert_proof_cannot_unsubscribe_the_supporter(
    cli: Invoke, workspace: Path, relay: MailServer
) -> None:
    supporters = workspace / "recipients" / "supporters.csv"
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    before = _state(cli)
    preview = _preview(cli, "urge-senators", "carmen@example.net")

    result = cli("proof", "urge-senators", "--to", ME, "--as", "carmen@example.net")

    assert result.exit_code == 0, result.output
    [received] = relay.received()
    assert received.rcpt_tos == (ME,)
    proof = received.message
    assert proof["To"] == ME
    assert proof["Subject"] == "[PROOF] " + preview["Subject"]
    real_url, proof_url = _unsubscribe_url(preview), _unsubscribe_url(proof)
    secret = load_settings(workspace).unsubscribe_secret
    assert secret is not None
    key = secret.get_secret_value()
    subject, list_id = verify_token(key, real_url.rsplit("/", 1)[1])
    assert isinstance(subject, int)  # the supporter's id
    assert verify_token(key, proof_url.rsplit("/", 1)[1]) == (ME, list_id)
    assert proof["List-Unsubscribe-Post"] == preview["List-Unsubscribe-Post"]
    assert proof["List-Id"] == preview["List-Id"]
    text, html = _bodies(preview)
    assert html is not None and real_url in text and real_url in html
    proof_text, proof_html = _bodies(proof)
    assert real_url not in received.raw.decode()
    assert (proof_text, proof_html) == (
        text.replace(real_url, proof_url),
        html.replace(real_url, proof_url),
    )
    assert json.loads(_state(cli)[1]) == json.loads(before[1]) == []
    assert _state(cli) == before

    carmen = "carmen@example.net"
    itself = cli("proof", "urge-senators", "--to", carmen, "--as", carmen)
    assert itself.exit_code == 1
    assert itself.stderr.startswith('Error: --to: "carmen@example.net" is the supporter')
    assert len(relay.received()) == 1
