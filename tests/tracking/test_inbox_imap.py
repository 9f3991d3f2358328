"""`capitolmail inbox sync` against a real IMAP server (Dovecot) holding replies to letters
the suite itself sent through a real SMTP server (aiosmtpd), and a real bounce format.

What a person checks afterwards is what these tests check: the one-line summary,
`status --json --messages`, `suppress list --json`, the message's event history,
and that the mailbox itself is as it was (nothing deleted, nothing marked read).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from capitolmail.outbox import Store

from ..conftest import Invoke, use_smtp_relay
from ..servers.imap import ImapServer, running_imap_server
from ..servers.smtp import Received, running_mail_server

BOUNCES = Path(__file__).parent / "bounces"


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with running_imap_server(tmp_path_factory.mktemp("imap")) as server:
        yield server


@pytest.fixture
def folder(imap: ImapServer) -> str:
    """A folder of its own for each test, so the module's one server is shared safely."""
    name = f"t{uuid.uuid4().hex[:10]}"
    client = imap.client()
    try:
        client.create_folder(name)
    finally:
        client.logout()
    return name


@pytest.fixture
def sent(workspace: Path, cli: Invoke) -> Iterator[list[Received]]:
    """The example letter, sent for real into a loopback SMTP server: 44 messages."""
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    assert len(received) == 44
    yield sorted(received, key=lambda item: item.rcpt_tos[0])


def use_imap(
    workspace: Path, imap: ImapServer, folder: str, *, security: str = "none", extra: str = ""
) -> None:
    port = imap.tls_port if security == "tls" else imap.port
    plain = "allow_plain = true\n" if security == "none" else ""
    with (workspace / "capitolmail.toml").open("a") as config:
        config.write(
            f'\n[inbox]\nsource = "imap"\nhost = "127.0.0.1"\nport = {port}\n'
            f'security = "{security}"\n{plain}username = "{imap.user}"\nfolder = "{folder}"\n'
            f'ca_file = "{imap.ca_file.as_posix()}"\n{extra}'
        )
    with (workspace / ".env").open("a") as env:
        env.write(f"\nCAPITOLMAIL_INBOX_PASSWORD={imap.password}\n")


def reply_to(original: Received, *, subject: str, body: str, **headers: str) -> bytes:
    """What an office's mail client sends back: In-Reply-To and References name our message."""
    message = EmailMessage()
    message["From"] = original.rcpt_tos[0]
    message["To"] = str(original.message["Reply-To"] or original.message["From"])
    message["Subject"] = subject
    message["Date"] = format_datetime(original.message["Date"].datetime)
    message["Message-ID"] = f"<{uuid.uuid4().hex}@senate.example.org>"
    message["In-Reply-To"] = original.message["Message-ID"]
    message["References"] = original.message["Message-ID"]
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def bounce_for(original: Received, sample: str, failed: str, returned_id: str) -> bytes:
    """A real bounce from flufl.bounce's samples, about our message: the failed address
    is our recipient's and the returned headers carry our Message-ID."""
    raw = (BOUNCES / sample).read_bytes()
    assert failed.encode() in raw and returned_id.encode() in raw
    ours = original.message["Message-ID"].encode()
    return raw.replace(returned_id.encode(), ours).replace(
        failed.encode(), original.rcpt_tos[0].encode()
    )


def plain_mail(sender: str, to: str, subject: str, body: str = "Hello.\n") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.net>"
    message.set_content(body)
    return bytes(message)


def messages_by_address(cli: Invoke) -> dict[str, dict]:
    job = json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]
    return {message["to"]: message for message in job["messages"]}


def events_of(workspace: Path, message_id: str) -> list[tuple[str, str | None]]:
    with Store.open(f"sqlite:///{workspace / '.capitolmail' / 'capitolmail.db'}") as store:
        return [(event.kind, event.detail) for event in store.list_events(1, message_id=message_id)]


def test_sync_marks_bounce_reply_auto_reply_and_mailto_unsubscribe(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    replied, auto, bounced, hostile = sent[0], sent[1], sent[2], sent[3]
    forged = b"=?utf-8?b?" + base64.b64encode(b"Re: ok\r\n2026-01-01 ERROR forged") + b"?="
    supporters = workspace / "recipients" / "supporters.csv"
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    imap.append(
        reply_to(replied, subject="Re: the arms sale", body="The Senator has read your letter."),
        reply_to(
            auto,
            subject="Thank you for contacting the office of Senator Example",
            body="This mailbox is not monitored.",
            Auto_Submitted="auto-replied",
        ),
        bounce_for(
            bounced, "dsn_01.txt", "userx@example.com", "<F1218V8zDv60gxapzha000001ae@hotmail.com>"
        ),
        # A subject that decodes to a CR/LF and a forged log line.
        reply_to(hostile, subject="PLACEHOLDER", body="Thanks.").replace(b"PLACEHOLDER", forged),
        plain_mail("ada@example.net", "policy@example.org", "unsubscribe"),
        plain_mail("news@example.net", "policy@example.org", "Our weekly newsletter"),
        folder=folder,
    )
    use_imap(workspace, imap, folder)

    result = cli("inbox", "sync")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Inbox: 6 read: 1 bounces, 0 soft bounces, 2 replies, 1 auto-replies, 1 unsubscribes,"
        " 0 not matched to a message, 1 other, 0 unparsed.\n"
    )
    states = messages_by_address(cli)
    assert states[bounced.rcpt_tos[0]]["state"] == "bounced"
    others = {m["state"] for address, m in states.items() if address != bounced.rcpt_tos[0]}
    assert others == {"sent"}
    suppressed = {
        entry["email"]: entry["reason"]
        for entry in json.loads(cli("suppress", "list", "--json").stdout)
    }
    assert suppressed == {bounced.rcpt_tos[0]: "bounce", "ada@example.net": "unsubscribe"}

    reply_events = events_of(workspace, states[replied.rcpt_tos[0]]["id"])
    assert reply_events[-1] == (
        "event_replied",
        f'reply: from {replied.rcpt_tos[0]}, subject "Re: the arms sale"',
    )
    auto_events = events_of(workspace, states[auto.rcpt_tos[0]]["id"])
    assert auto_events[-1][0] == "event_auto_replied"
    hostile_detail = events_of(workspace, states[hostile.rcpt_tos[0]]["id"])[-1][1]
    assert hostile_detail is not None and "\n" not in hostile_detail and "\r" not in hostile_detail
    assert "ERROR forged" in hostile_detail  # kept, as text on the same line
    assert events_of(workspace, states[bounced.rcpt_tos[0]]["id"])[-1][0] == "bounced"
    status = json.loads(cli("status", "1", "--json").stdout)["jobs"][0]
    assert status["replies"] == {"replied": 2, "auto_replied": 1}
    assert status["counts"]["bounced"] == 1
    assert "Replies: 2; auto-replies: 1" in cli("status", "1").stdout  # the report's summary
    assert "Job 1: 2 replied, 1 answered by an auto-reply" in cli("status").stdout

    # The mailbox is as it was: nothing deleted, nothing marked read.
    assert len(imap.uids(folder)) == 6
    assert len(imap.unseen(folder)) == 6
    # Each message is read once: a second sync reads nothing and changes nothing.
    again = cli("inbox", "sync", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["read"] == 0
    assert len(events_of(workspace, states[replied.rcpt_tos[0]]["id"])) == len(reply_events)


def test_new_mail_after_a_sync_is_read_and_the_rest_is_not(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    use_imap(workspace, imap, folder)
    imap.append(reply_to(sent[0], subject="Re: one", body="One."), folder=folder)
    assert json.loads(cli("inbox", "sync", "--json").stdout)["replies"] == 1
    imap.append(reply_to(sent[5], subject="Re: two", body="Two."), folder=folder)
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["read"], counts["replies"]) == (1, 1)


def test_tls_port_with_the_servers_ca_file_is_read(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    imap.append(reply_to(sent[0], subject="Re: tls", body="Over TLS."), folder=folder)
    use_imap(workspace, imap, folder, security="tls")
    result = cli("inbox", "sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["replies"] == 1


def test_starttls_is_used_when_asked(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    imap.append(reply_to(sent[0], subject="Re: starttls", body="STARTTLS."), folder=folder)
    use_imap(workspace, imap, folder, security="starttls")
    result = cli("inbox", "sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["replies"] == 1


def test_wrong_password_is_one_line_without_the_password(
    workspace: Path, cli: Invoke, imap: ImapServer, folder: str
) -> None:
    use_imap(workspace, imap, folder)
    env = workspace / ".env"
    env.write_text(env.read_text().replace(imap.password, "not-the-password-8c2e"))
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: IMAP server 127.0.0.1:{imap.port} refused the login of")
    assert "CAPITOLMAIL_INBOX_PASSWORD" in lines[0]
    assert "not-the-password-8c2e" not in result.output
    assert "Traceback" not in result.output


def test_an_untrusted_certificate_is_refused_in_one_line(
    workspace: Path, cli: Invoke, imap: ImapServer, folder: str, tmp_path: Path
) -> None:
    use_imap(workspace, imap, folder, security="tls")
    config = workspace / "capitolmail.toml"
    other = tmp_path / "certificates-other"
    from ..servers.smtp import make_certificates

    config.write_text(
        config.read_text().replace(
            imap.ca_file.as_posix(), make_certificates(other).other_ca_file.as_posix()
        )
    )
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert "TLS failed" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_delete_processed_removes_only_mail_that_changed_something(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    imap.append(
        reply_to(sent[0], subject="Re: delete me", body="Handled."),
        plain_mail("news@example.net", "policy@example.org", "Not ours"),
        folder=folder,
    )
    use_imap(workspace, imap, folder, extra="delete_processed = true\n")
    result = cli("inbox", "sync", "--json")
    assert json.loads(result.stdout)["deleted"] == 1
    client = imap.client()
    try:
        client.select_folder(folder, readonly=True)
        left = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    finally:
        client.logout()
    subjects = [data[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip() for data in left.values()]
    assert subjects == [b"Subject: Not ours"]


def test_the_imap_password_never_reaches_config_show(
    workspace: Path, cli: Invoke, imap: ImapServer, folder: str
) -> None:
    use_imap(workspace, imap, folder)
    shown = cli("config", "show")
    assert shown.exit_code == 0
    assert imap.password not in shown.output


def test_a_password_in_capitolmail_toml_is_refused(workspace: Path, cli: Invoke) -> None:
    with (workspace / "capitolmail.toml").open("a") as config:
        config.write('\n[inbox]\nsource = "imap"\nhost = "h"\nusername = "u"\npassword = "pw"\n')
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert "CAPITOLMAIL_INBOX_PASSWORD" in result.stderr


def use_oauth2_token(workspace: Path, token: str) -> None:
    """The .env of a team whose mailbox takes only OAuth2 tokens: no password at all."""
    env = workspace / ".env"
    kept = [
        line for line in env.read_text().splitlines() if "CAPITOLMAIL_INBOX_PASSWORD" not in line
    ]
    env.write_text("\n".join([*kept, f"CAPITOLMAIL_INBOX_OAUTH2_TOKEN={token}", ""]))


def test_an_xoauth2_token_logs_in_and_the_mailbox_is_read(
    workspace: Path, cli: Invoke, sent: list[Received], imap: ImapServer, folder: str
) -> None:
    imap.append(reply_to(sent[0], subject="Re: oauth", body="Read with a token."), folder=folder)
    use_imap(workspace, imap, folder, security="tls")
    token = imap.oauth2_token()
    use_oauth2_token(workspace, token)
    logins_before = imap.log_file.read_text().count("method=XOAUTH2")

    result = cli("inbox", "sync")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Inbox: 1 read: 0 bounces, 0 soft bounces, 1 replies,")
    assert messages_by_address(cli)[sent[0].rcpt_tos[0]]["state"] == "sent"
    assert events_of(workspace, messages_by_address(cli)[sent[0].rcpt_tos[0]]["id"])[-1] == (
        "event_replied",
        f'reply: from {sent[0].rcpt_tos[0]}, subject "Re: oauth"',
    )
    log = imap.log_file.read_text()
    assert log.count("method=XOAUTH2") == logins_before + 1  # Dovecot saw the token, not PLAIN
    assert token not in result.output
    assert token not in cli("config", "show").output


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "Token has expired"),
        ("wrong key", "Incorrect JWT signature"),
        ("another account", "did not match 'someone-else'"),
    ],
)
def test_a_refused_xoauth2_token_is_one_line_naming_the_variable_without_the_token(
    workspace: Path, cli: Invoke, imap: ImapServer, folder: str, case: str, reason: str
) -> None:
    if case == "expired":
        token = imap.oauth2_token(expires_in=-600)
    elif case == "wrong key":
        token = imap.oauth2_token(key=b"a-key-the-server-does-not-have")
    else:
        token = imap.oauth2_token(subject="someone-else")
    imap.append(plain_mail("news@example.net", "policy@example.org", "Unread"), folder=folder)
    use_imap(workspace, imap, folder)
    use_oauth2_token(workspace, token)

    result = cli("inbox", "sync")

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"Error: IMAP server 127.0.0.1:{imap.port} refused the XOAUTH2 login"
    )
    assert "CAPITOLMAIL_INBOX_OAUTH2_TOKEN" in lines[0]
    assert "CAPITOLMAIL_INBOX_PASSWORD" not in lines[0]  # not the credential that was tried
    assert "Traceback" not in result.output
    for piece in token.split("."):  # neither the token nor any part of it
        assert piece not in result.output
    assert reason in imap.log_file.read_text()  # refused for the reason the test means
    assert len(imap.unseen(folder)) == 1


def test_a_server_without_xoauth2_is_said_plainly_not_blamed_on_the_token(
    workspace: Path, cli: Invoke, imap: ImapServer, tmp_path: Path
) -> None:
    token = imap.oauth2_token()  # valid for `imap`, but this server takes passwords only
    with running_imap_server(tmp_path / "imap", oauth2=False) as passwords_only:
        client = passwords_only.client()
        try:
            assert not client.has_capability("AUTH=XOAUTH2")
        finally:
            client.logout()
        use_imap(workspace, passwords_only, "INBOX")
        use_oauth2_token(workspace, token)

        result = cli("inbox", "sync")

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: IMAP server 127.0.0.1:{passwords_only.port} does not offer XOAUTH2 login; "
        "remove CAPITOLMAIL_INBOX_OAUTH2_TOKEN and set CAPITOLMAIL_INBOX_PASSWORD "
        "(or an app password) instead\n"
    )
    assert token not in result.output
