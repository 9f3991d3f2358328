"""Cc and Bcc per letter, through the command line, to a real SMTP relay and the SendGrid
stand-in: the exact envelope, the headers every office sees, and what is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Invoke, use_smtp_relay
from tests.servers.sendgrid import SendGridStandIn, load_spec, payload_as_email
from tests.servers.smtp import running_mail_server

TOML = Path("letters/block-arms-sale/letter.toml")
LEAD = "lead@coalition.example.org"
ARCHIVE = "archive@coalition.example.org"
AUDITOR = "auditor@coalition.example.org"
API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"
OFFICE_CONTACT = "cos.murphy.ct@senate.example.org"


def _copies(workspace: Path, lines: str) -> None:
    """Put `lines` (cc = [...], bcc = [...]) in letter.toml before its [audience] table."""
    path = workspace / TOML
    path.write_text(path.read_text().replace("[audience]", f"{lines}\n[audience]", 1))


def _queued_rows(workspace: Path) -> int:
    database = workspace / ".capitolmail" / "capitolmail.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as conn:
        return int(conn.execute("select count(*) from messages").fetchone()[0])


def test_the_relay_gets_every_copy_in_the_envelope_and_bcc_never_in_the_headers(
    cli: Invoke, workspace: Path
) -> None:
    # The lead twice (once in other case) and the To's own address never added twice.
    _copies(workspace, f'cc = ["{LEAD}", "Lead@Coalition.Example.org"]\nbcc = ["{ARCHIVE}"]')
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        preview = cli("letters", "preview", "block-arms-sale", "--format", "text")
        assert f"Cc: {LEAD}\n" in preview.stdout
        assert f"Bcc (envelope only, never in the headers): {ARCHIVE}\n" in preview.stdout
        eml = cli("letters", "preview", "block-arms-sale", "--format", "eml").stdout
        assert f"\nCc: {LEAD}\n" in eml and ARCHIVE not in eml

        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    assert len(received) == 44
    offices = set()
    for message in received:
        to = message.message["To"].addresses[0].addr_spec
        offices.add(to)
        assert message.rcpt_tos == (to, LEAD, ARCHIVE)
        assert message.message.get_all("Cc") == [LEAD]
        assert message.message.get_all("Bcc") is None
        assert ARCHIVE.encode() not in message.raw
    assert len(offices) == 44


def test_sendgrid_gets_cc_and_bcc_in_the_personalization(
    cli: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copies(workspace, f'cc = ["{LEAD}"]\nbcc = ["{ARCHIVE}", "{AUDITOR}"]')
    with _sendgrid(workspace, monkeypatch) as sendgrid:
        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
    assert len(sendgrid.accepted) == 44  # each passed the stand-in's schema and limits
    for payload in sendgrid.accepted:
        (personalization,) = payload["personalizations"]
        assert personalization["cc"] == [{"email": LEAD}]
        assert personalization["bcc"] == [{"email": ARCHIVE}, {"email": AUDITOR}]
        shown = payload_as_email(payload)
        assert shown["Cc"] == LEAD and shown["Bcc"] is None


def test_an_address_already_the_to_is_not_copied_to_itself(cli: Invoke, workspace: Path) -> None:
    """A proof-like single message: the To is removed from the copies, not doubled."""
    from capitolmail.letters.compose import compose_message
    from capitolmail.letters.identity import Sender
    from capitolmail.templates.render import RenderedLetter

    message = compose_message(
        sender=Sender(name="Org", email="policy@org.example.org", reply_to=""),
        to_email="me@org.example.org",
        to_name="Me",
        rendered=RenderedLetter(subject="s", text="t"),
        source="letter.toml",
        cc=["ME@org.example.org", LEAD],
        bcc=[LEAD, "me@org.example.org", ARCHIVE],
    )
    assert message.cc == (LEAD,)
    assert message.bcc == (ARCHIVE,)
    assert message.envelope_recipients() == ("me@org.example.org", LEAD, ARCHIVE)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            'cc = ["lead@coalition.example.org\\r\\nBcc: spy@evil.example"]',
            'letter.toml:16: cc: "lead@coalition.example.org\\r\\nBcc: spy@evil.example" is not a'
            " valid address",
        ),
        ('bcc = ["not an address"]', 'letter.toml:16: bcc: "not an address" is not a valid'),
        (
            f'cc = ["{LEAD}"]\nbcc = ["{LEAD.upper()}"]',
            f"{LEAD} is in both cc and bcc; keep it in one of them",
        ),
        (
            f'bcc = ["{OFFICE_CONTACT}"]',
            f"{OFFICE_CONTACT} is a recipient of this letter and in bcc, so it would get every"
            " recipient's copy besides its own; remove it from bcc or from the audience",
        ),
        (
            "cc = [" + ", ".join(f'"c{n}@coalition.example.org"' for n in range(1000)) + "]",
            "1,000 cc and bcc addresses; at most 999 (SendGrid takes 1,000 recipients per"
            " message, counting To, Cc and Bcc)",
        ),
    ],
)
def test_bad_copies_are_one_line_and_nothing_is_queued(
    cli: Invoke, workspace: Path, lines: str, expected: str
) -> None:
    _copies(workspace, lines)
    for command in (("letters", "check"), ("queue",)):
        result = cli(*command, "block-arms-sale")
        assert result.exit_code == 1, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0], result.stderr
        assert "Traceback" not in result.output
    assert _queued_rows(workspace) == 0


def test_an_alert_takes_no_copies(cli: Invoke, workspace: Path) -> None:
    path = workspace / "letters/urge-senators/letter.toml"
    text = path.read_text()
    path.write_text(text.replace("[audience]", f'bcc = ["{ARCHIVE}"]\n[audience]', 1))
    result = cli("letters", "check", "urge-senators")
    assert result.exit_code == 1
    assert "letter.toml: bcc is for joint letters: every alert holds one supporter's address" in (
        result.stderr
    )


def test_a_template_cannot_add_a_bcc_header(cli: Invoke, workspace: Path) -> None:
    """Copies come from letter.toml only: a header named Bcc or Cc from anywhere else is
    refused where every extra header is built."""
    from capitolmail.errors import HeaderError
    from capitolmail.message import OutgoingMessage

    for name in ("Bcc", "cc", "CC"):
        message = OutgoingMessage(
            message_id="1",
            job_id="1",
            from_email="a@b.example.org",
            from_name="",
            to_email="c@d.example.org",
            to_name="",
            subject="s",
            text="t",
            headers=((name, "spy@evil.example"),),
        )
        with pytest.raises(HeaderError, match="is set by capitolmail itself"):
            message.header_lines()


@contextmanager
def _sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    """The workspace sending through the stand-in, which validates every payload."""
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
