"""`capitolmail inbox sync` from a Maildir and an mbox: real bounce formats (flufl.bounce's
samples, about messages this test sent), hostile mail, and each message read once."""

from __future__ import annotations

import csv
import email
import email.policy
import email.utils
import io
import json
import mailbox
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from capitolmail.outbox import Store

from ..conftest import Invoke

BOUNCES = Path(__file__).parent / "bounces"
# sample, the address it reports, the returned message's id, permanent?
SAMPLES = [
    ("dsn_01.txt", "userx@example.com", "<F1218V8zDv60gxapzha000001ae@hotmail.com>", True),
    ("dsn_10.txt", "anne.person@dom.ain", "<200210211625.12753.b.a.dude@example.com>", True),
    ("exim_01.txt", "userx@its.example.nl", "<19990920022322.A19735@stereo.rotzorg.org>", True),
    ("postfix_02.txt", "yyyyy@digicool.com", "<14915.64162.965657.699956@anthem.concentric.net>",
     True),
    ("groupwise_01.txt", "userx@example.edu", "<20010720085308.H17468@magic.example.org>", True),
    ("yahoo_13.txt", "bogus-address@example.net",
     "<130907fb-848c-d154-8e59-ed1e08319fcf@yahoo.com>", True),
    ("bounce_02.txt", "userx@example.com",
     "<mailman.0.1037840296.16399.macarthur1975@example.org>", True),
    ("dsn_05.txt", "userx@example.cz", "<pfchbtkf3j0p7prf0sp45vi21fro3bs7ad@4ax.com>", False),
]  # fmt: skip


@pytest.fixture
def messages(cli: Invoke) -> list[dict]:
    """The example letter sent into the .eml outbox: 44 messages, each with its id."""
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    return job(cli)["messages"]


def job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def our_message_id(message: dict) -> str:
    return f"<{message['id']}@example.org>"  # the example sends as advocacy@example.org


def bounce_about(message: dict, sample: str, failed: str, returned_id: str) -> bytes:
    raw = (BOUNCES / sample).read_bytes()
    assert returned_id.encode() in raw
    raw = raw.replace(returned_id.encode(), our_message_id(message).encode())
    pattern = re.compile(re.escape(failed.encode()), re.IGNORECASE)
    assert pattern.search(raw)
    return pattern.sub(message["to"].encode(), raw)


def reply(message: dict, subject: str = "Re: your letter") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = message["to"]
    mail["To"] = "policy@example.org"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@senate.example.org>"
    mail["In-Reply-To"] = our_message_id(message)
    mail.set_content("Received, thank you.")
    return mail


def use_mailbox(workspace: Path, source: str, path: Path, extra: str = "") -> None:
    with (workspace / "capitolmail.toml").open("a") as config:
        config.write(f'\n[inbox]\nsource = "{source}"\npath = "{path.as_posix()}"\n{extra}')


def events(workspace: Path, message_id: str) -> list[tuple[str, str | None]]:
    with Store.open(f"sqlite:///{workspace / '.capitolmail' / 'capitolmail.db'}") as store:
        return [(e.kind, e.detail) for e in store.list_events(1, message_id=message_id)]


def test_real_bounce_formats_are_matched_by_the_returned_message_id(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for message, (sample, failed, returned_id, _) in zip(messages, SAMPLES, strict=False):
        box.add(bounce_about(message, sample, failed, returned_id))
    # qmail's bounce does not return the message's headers: nothing names our message.
    box.add((BOUNCES / "qmail_01.txt").read_bytes())
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")

    result = cli("inbox", "sync", "--json")

    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    hard = sum(1 for *_, permanent in SAMPLES if permanent)
    assert counts["bounces"] == hard
    assert counts["soft_bounces"] == len(SAMPLES) - hard
    assert counts["unmatched"] == 1
    assert counts["read"] == len(SAMPLES) + 1
    states = {m["id"]: m["state"] for m in job(cli)["messages"]}
    for message, (sample, *_, permanent) in zip(messages, SAMPLES, strict=False):
        assert states[message["id"]] == ("bounced" if permanent else "sent"), sample
    soft = messages[len(SAMPLES) - 1]
    assert events(workspace, soft["id"])[-1][0] == "event_blocked"
    suppressed = json.loads(cli("suppress", "list", "--json").stdout)
    assert sorted(entry["email"] for entry in suppressed) == sorted(
        message["to"] for message, (*_, permanent) in zip(messages, SAMPLES, strict=False)
        if permanent
    )  # fmt: skip
    assert sum(state == "bounced" for state in states.values()) == hard


def test_a_bounce_for_another_address_moves_nothing(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    """A bounce naming our message but reporting someone else's address is not ours to apply."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    raw = (
        (BOUNCES / "dsn_01.txt")
        .read_bytes()
        .replace(b"<F1218V8zDv60gxapzha000001ae@hotmail.com>", our_message_id(messages[0]).encode())
    )
    box.add(raw)
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["bounces"], counts["unmatched"]) == (0, 1)
    assert {m["state"] for m in job(cli)["messages"]} == {"sent"}
    assert json.loads(cli("suppress", "list", "--json").stdout) == []


def test_a_reply_from_someone_else_is_not_recorded_as_the_office_replying(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    forged = reply(messages[0])
    forged.replace_header("From", "stranger@example.net")
    box.add(bytes(forged))
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["replies"], counts["unmatched"]) == (0, 1)
    assert not [
        kind for kind, _ in events(workspace, messages[0]["id"]) if kind.startswith("event_")
    ]


def test_a_colleague_answering_another_contacts_copy_is_the_office_replying(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    """The Chief of Staff forwards the letter; the foreign-policy aide, who got a copy
    of their own, answers the forwarded one. The office replied: recorded on the
    aide's own copy, the one that went to the address the reply came from. A contact
    of another office quoting the same Message-ID records nothing."""
    first = messages[0]
    colleague = next(
        m for m in messages if m["bioguide"] == first["bioguide"] and m["to"] != first["to"]
    )
    elsewhere = next(m for m in messages if m["bioguide"] != first["bioguide"])
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    answered = reply(first)
    answered.replace_header("From", colleague["to"].upper())  # as their server writes it
    box.add(bytes(answered))
    other_office = reply(first, subject="Re: your letter (from another office)")
    other_office.replace_header("From", elsewhere["to"])
    box.add(bytes(other_office))
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["replies"], counts["unmatched"]) == (1, 1)

    def replied(message: dict) -> list[str]:
        return [kind for kind, _ in events(workspace, message["id"]) if kind == "event_replied"]

    assert replied(colleague) == ["event_replied"]
    assert replied(first) == [] and replied(elsewhere) == []
    report = cli("report", "1")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(report.stdout))}
    assert rows[colleague["to"]]["replied_at"]
    assert rows[first["to"]]["replied_at"] == rows[elsewhere["to"]]["replied_at"] == ""


def test_hostile_mail_is_logged_in_one_line_and_left_alone(
    workspace: Path,
    cli: Invoke,
    messages: list[dict],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    huge = reply(messages[0])
    huge.set_content("x" * 300_000)
    box.add(bytes(huge))
    box.add(b"\x00\xff\xfe not a message at all")
    # A multipart with no boundary and a header folded into nonsense: still read as a reply.
    broken = (
        b"From: " + messages[1]["to"].encode() + b"\r\n"
        b"In-Reply-To: " + our_message_id(messages[1]).encode() + b"\r\n"
        b"Subject: =?utf-8?q?Re=3A_broken=0D=0AX-Forged=3A_yes?=\r\n"
        b"Content-Type: multipart/mixed\r\n"
        b"\r\n--nothing\r\nnot really mime\r\n"
    )
    box.add(broken)
    # MIME nested deeper than any parser's stack: read as unparsed, not a crash.
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(3000)
    )
    box.add(b"From: a@example.net\r\nMessage-ID: <deep@example.net>\r\n" + nested)
    use_mailbox(workspace, "maildir", tmp_path / "Maildir", "max_message_bytes = 200000\n")

    result = cli("inbox", "sync", "--json")

    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["read"], counts["unparsed"], counts["replies"]) == (4, 3, 1)
    warnings = [r.getMessage() for r in caplog.records if "left alone" in r.getMessage()]
    assert len(warnings) == 3
    assert all("\n" not in line and "\r" not in line for line in warnings)
    assert "over max_message_bytes" in " ".join(warnings)
    detail = events(workspace, messages[1]["id"])[-1][1]
    assert detail is not None and "\n" not in detail and "\r" not in detail
    assert len(box) == 4  # nothing deleted
    # Unparsed mail is remembered too: the next sync does not log it again.
    caplog.clear()
    again = cli("inbox", "sync", "--json")
    assert json.loads(again.stdout)["read"] == 0
    assert not [r for r in caplog.records if "left alone" in r.getMessage()]


def test_mbox_is_read_once_and_a_second_copy_of_a_message_is_skipped(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(path, create=True)
    answer = bytes(reply(messages[0]))
    box.add(answer)
    box.add(answer)  # the same message delivered twice
    box.add(bytes(reply(messages[1], subject="Automatic reply: out of the office")))
    box.flush()
    box.close()
    use_mailbox(workspace, "mbox", path)
    result = cli("inbox", "sync")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Inbox: 2 read: 0 bounces, 0 soft bounces, 1 replies, 1 auto-replies, 0 unsubscribes,"
        " 0 not matched to a message, 0 other, 0 unparsed.\n"
    )
    assert [kind for kind, _ in events(workspace, messages[0]["id"])].count("event_replied") == 1
    assert cli("inbox", "sync", "--json").stdout.count('"read": 0') == 1


def test_an_ordinary_reply_to_the_unsubscribe_address_does_not_unsubscribe(
    workspace: Path, cli: Invoke, messages: list[dict], tmp_path: Path
) -> None:
    """policy@example.org is the Reply-To and the mailto: only "unsubscribe" unsubscribes."""
    supporters = workspace / "recipients" / "supporters.csv"
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for subject in ("Re: Urge your senators", "UNSUBSCRIBE"):
        mail = EmailMessage()
        mail["From"] = "Ben Alvarez <ben@example.net>"
        mail["To"] = "policy@example.org"
        mail["Subject"] = subject
        mail.set_content("...")
        box.add(bytes(mail))
    # And a stranger's unsubscribe changes nothing: only supporters are suppressed.
    stranger = EmailMessage()
    stranger["From"] = "someone@example.com"
    stranger["To"] = "policy@example.org"
    stranger["Subject"] = "unsubscribe"
    box.add(bytes(stranger))
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["unsubscribes"], counts["other"], counts["unmatched"]) == (1, 1, 1)
    suppressed = json.loads(cli("suppress", "list", "--json").stdout)
    assert [(entry["email"], entry["reason"]) for entry in suppressed] == [
        ("ben@example.net", "unsubscribe")
    ]


def test_no_mailbox_configured_is_one_line(cli: Invoke) -> None:
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: no inbound mailbox: set [inbox] source = "imap", "maildir" or "mbox" in '
        "capitolmail.toml\n"
    )


def test_a_missing_maildir_is_one_line(workspace: Path, cli: Invoke, tmp_path: Path) -> None:
    use_mailbox(workspace, "maildir", tmp_path / "nowhere")
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert "is not a Maildir" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('source = "imap"\nusername = "u"\n', "needs host"),
        ('source = "mbox"\n', "needs path"),
        ('source = "imap"\nhost = "h"\nusername = "u"\nsecurity = "none"\n', "allow_plain"),
        ('source = "pop3"\n', "source"),
    ],
)
def test_incomplete_inbox_settings_are_one_line_naming_the_table(
    workspace: Path, cli: Invoke, table: str, expected: str
) -> None:
    with (workspace / "capitolmail.toml").open("a") as config:
        config.write(f"\n[inbox]\n{table}")
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "inbox" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.output


def test_imap_without_a_password_or_token_names_the_variables(workspace: Path, cli: Invoke) -> None:
    with (workspace / "capitolmail.toml").open("a") as config:
        config.write('\n[inbox]\nsource = "imap"\nhost = "127.0.0.1"\nusername = "u"\n')
    result = cli("inbox", "sync")
    assert result.exit_code == 1
    assert "CAPITOLMAIL_INBOX_PASSWORD" in result.stderr
    assert "CAPITOLMAIL_INBOX_OAUTH2_TOKEN" in result.stderr


def test_a_mailto_unsubscribe_dated_before_the_send_still_counts_in_the_report(
    workspace: Path, cli: Invoke, tmp_path: Path
) -> None:
    """The mail's Date is the supporter's clock: it may read earlier than our send."""
    supporters = workspace / "recipients" / "supporters.csv"
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    assert cli("queue", "urge-senators").stdout == "1\n"
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    first = sorted((workspace / ".capitolmail/outbox/1").glob("*.eml"))[0]
    alert = email.message_from_bytes(first.read_bytes(), policy=email.policy.default)
    mailto = next(
        part.strip(" <>") for part in str(alert["List-Unsubscribe"]).split(",") if "mailto:" in part
    )
    address, _, query = mailto.removeprefix("mailto:").partition("?subject=")
    mail = EmailMessage()
    mail["From"] = str(alert["To"])
    mail["To"] = address
    mail["Subject"] = query or "unsubscribe"
    mail["Date"] = email.utils.format_datetime(datetime.now(UTC) - timedelta(hours=1))
    mail.set_content("Please take me off this list.")
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(bytes(mail))
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    assert json.loads(cli("inbox", "sync", "--json").stdout)["unsubscribes"] == 1
    (job,) = json.loads(cli("status", "1", "--json").stdout)["jobs"]
    assert job["report"]["unsubscribes"] == 1
