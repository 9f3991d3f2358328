"""VERP: each message leaves from bounces+MESSAGE-ID@, so a bounce that quotes nothing
of the message still names it.

The example letter goes through the real aiosmtpd relay with
`[provider.smtp] return_path`; the relay checks every envelope sender is the VERP
address of that message's own id. qmail's bounce (flufl.bounce's sample) returns
none of the original headers: without VERP it matches nothing (test_inbox_files),
with it the bounce finds its message by the address it was delivered to.
"""

from __future__ import annotations

import json
import mailbox
import uuid
from pathlib import Path

import pytest

from ..conftest import Invoke, use_smtp_relay
from ..servers.smtp import running_mail_server
from .test_inbox_files import BOUNCES, job, use_mailbox

RETURN_PATH = "bounces@example.org"


def _qmail_bounce(to: str, failed: str) -> bytes:
    raw = (BOUNCES / "qmail_01.txt").read_bytes()
    raw = raw.replace(b"To: psa-members-admin@python.org", f"To: {to}".encode())
    # Each its own Message-ID: a file mailbox knows a mail by it, and reads it once.
    raw = raw.replace(b"<199911042119.QAA21584@python.org>", f"<{uuid.uuid4()}@gate0>".encode())
    return raw.replace(b"userx@example.de", failed.encode())


def test_a_bounce_to_a_verp_address_names_its_message(
    workspace: Path, cli: Invoke, tmp_path: Path
) -> None:
    with running_mail_server() as server:
        server.return_path = RETURN_PATH
        use_smtp_relay(workspace, server.port, smtp=f'return_path = "{RETURN_PATH}"\n')
        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    messages = job(cli)["messages"]
    assert len(received) == len(messages) == 44
    senders = {r.mail_from for r in received}
    assert senders == {f"bounces+{m['id']}@example.org" for m in messages}  # one each

    first, second = messages[0], messages[1]
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(_qmail_bounce(f"bounces+{first['id']}@example.org", first["to"]))
    # A bounce to one message's VERP address about another address moves nothing.
    box.add(_qmail_bounce(f"bounces+{second['id']}@example.org", "stranger@example.net"))
    use_mailbox(workspace, "maildir", tmp_path / "Maildir")
    counts = json.loads(cli("inbox", "sync", "--json").stdout)
    assert (counts["read"], counts["bounces"], counts["unmatched"]) == (2, 1, 1), counts
    states = {m["id"]: m["state"] for m in job(cli)["messages"]}
    assert states[first["id"]] == "bounced"
    assert states[second["id"]] == "sent"
    suppressed = json.loads(cli("suppress", "list", "--json").stdout)
    assert [entry["email"] for entry in suppressed] == [first["to"]]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("bounces+x@example.org", "must not contain '+'"),
        ("rückläufer@example.org", "non-ASCII"),
        ("bounces@example.org\\r\\nBcc: x@example.net", "return_path"),
    ],
)
def test_a_return_path_that_cannot_be_a_verp_sender_is_refused(
    workspace: Path, cli: Invoke, value: str, said: str
) -> None:
    use_smtp_relay(workspace, 2525, smtp=f'return_path = "{value}"\n')
    result = cli("config", "show")
    assert result.exit_code == 1
    assert "return_path" in result.output and said in result.output
