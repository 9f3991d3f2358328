"""What queues, sends: every message `queue` accepts passes every provider's own checks.

The contract test queues the worked example (the joint letter and the alert)
and a joint letter to offices whose contacts hold a corpus of hostile names and
addresses, then hands every stored message to SendGrid's payload builder (and
the published schema), the file provider and the SMTP provider against a real
aiosmtpd server, and reads back exactly one recipient, the one stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.errors import InputError
from capitolmail.letters.compose import clean_display_name, compose_message
from capitolmail.letters.identity import Sender
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import Store
from capitolmail.providers.file import FileProvider
from capitolmail.providers.sendgrid_payload import build_payload
from capitolmail.providers.smtp import SmtpProvider
from capitolmail.templates.render import RenderedLetter
from tests.conftest import Invoke
from tests.headers import assert_wire_format, payload_header_problems, rfc2047_display_name
from tests.servers.sendgrid import limit_problems, load_spec, request_validator, schema_problems
from tests.servers.smtp import MailServer, running_mail_server

from ..providers.test_smtp import settings_for

OFFICES = "recipients/offices.csv"
HOSTILE_NAMES = [
    "Nguyen, Jordan",
    "Doe; Jane",
    'Jordan "JJ" Nguyen',
    "Riley Back\\slash",
    "=?utf-8?q?Senator_Smith?=",
    "=?utf-8?b?U2VuYXRvcg==?= Taylor",
    "x" * 3000,
    "Ñ" * 3000,
    "Nguyễn Văn An 😀",
    "\u200fדנה כהן\u200f",
    "Dana (Chief of Staff) <boss@evil.example>",
    "evil@example.net, other@example.net",
    "O'Brien",
    "Casey\u202eMoreau",
]
HOSTILE_ADDRESSES = {
    "jose@bücher.example.org": "jose@xn--bcher-kva.example.org",
    "staff@xn--snat-dpa.example.org": "staff@xn--snat-dpa.example.org",
    "Mixed.Case@Senate.EXAMPLE.org": "Mixed.Case@senate.example.org",
}


def _rewrite_offices(workspace: Path, audience: set[str]) -> list[tuple[str, str]]:
    """Give the contacts hostile names, and some of those in `audience` IDN addresses.

    Returns (address, name) as written, for every row.
    """
    path = workspace / OFFICES
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    addresses = iter(HOSTILE_ADDRESSES)
    for n, row in enumerate(body):
        row[2] = HOSTILE_NAMES[n % len(HOSTILE_NAMES)]
        if row[1] in audience and n % 3 == 0:
            row[1] = next(addresses, row[1])
    out = io.StringIO()
    out.write("".join(comments))
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    path.write_text(out.getvalue(), encoding="utf-8")
    return [(row[1], row[2]) for row in body]


def _stored(workspace: Path, job: int) -> list[OutgoingMessage]:
    with Store.open(load_settings(workspace).database_url_for(workspace)) as store:
        return [store.get_message(info.id) for info in store.list_messages(job)]


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


def _passes_every_provider(
    messages: list[OutgoingMessage], tmp_path: Path, server: MailServer
) -> None:
    spec = load_spec()
    validator = request_validator(spec) if spec is not None else None
    for message in messages:
        payload = build_payload(message)
        problems = schema_problems(validator, payload) if validator else []
        problems += limit_problems(payload)
        problems += [{"message": p} for p in payload_header_problems(payload)]  # type: ignore[misc]
        assert not problems, (message.to_email, problems)
        [personalization] = payload["personalizations"]
        assert personalization["to"] == [
            {"email": message.to_email, **({"name": message.to_name} if message.to_name else {})}
        ]
        assert "cc" not in personalization and "bcc" not in personalization

    files = FileProvider(tmp_path / "contract-outbox")
    with files:
        written = [Path(str(files.send(m).provider_message_id)) for m in messages]
    for message, path in zip(messages, written, strict=True):
        _arrived_exactly(message, path.read_bytes())

    with SmtpProvider(settings_for(server)) as smtp:
        for message in messages:
            smtp.send(message)
    received = server.received()
    assert [r.rcpt_tos for r in received] == [(m.to_email,) for m in messages]
    for message, item in zip(messages, received, strict=True):
        assert item.mail_from == message.from_email
        _arrived_exactly(message, item.raw)


def _arrived_exactly(message: OutgoingMessage, raw: bytes) -> None:
    parsed = assert_wire_format(raw)
    [to] = parsed["To"].addresses
    [sender] = parsed["From"].addresses
    assert to.addr_spec == message.to_email
    assert sender.addr_spec == message.from_email
    assert rfc2047_display_name(raw, "To") == message.to_name
    assert rfc2047_display_name(raw, "From") == message.from_name
    assert parsed["Subject"] == message.subject
    for name in ("Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"):
        assert parsed[name] is None


def test_the_worked_example_passes_every_provider(
    workspace: Path, cli: Invoke, tmp_path: Path, mail_server: MailServer
) -> None:
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    messages = _stored(workspace, 1) + _stored(workspace, 2)
    assert len(messages) == 44 + 6
    _passes_every_provider(messages, tmp_path, mail_server)


def test_hostile_names_and_addresses_queue_as_every_provider_accepts_them(
    workspace: Path, cli: Invoke, tmp_path: Path, mail_server: MailServer
) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("cancel", "1").exit_code == 0
    contacts = _rewrite_offices(workspace, {m.to_email for m in _stored(workspace, 1)})
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.exit_code == 0, result.output
    messages = _stored(workspace, 2)
    assert len(messages) == 44
    expected = {
        (HOSTILE_ADDRESSES.get(address, address), clean_display_name(name))
        for address, name in contacts
    }
    stored = {(m.to_email, m.to_name) for m in messages}
    assert stored <= expected
    names = {m.to_name for m in messages}
    assert "Nguyen Jordan" in names and "Doe Jane" in names
    assert {m.to_email for m in messages} >= {
        "jose@xn--bcher-kva.example.org",
        "staff@xn--snat-dpa.example.org",
    }
    assert all("," not in n and ";" not in n for n in names)
    _passes_every_provider(messages, tmp_path, mail_server)
    # And the worker path writes them too (the file provider, as configured).
    assert cli("send", "2").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    outbox = sorted((workspace / ".capitolmail" / "outbox" / "2").glob("*.eml"))
    assert len(outbox) == 44


@pytest.mark.parametrize(
    ("name", "shown"), [("Riley\x00Sato", "U+0000 (NUL)"), ("Riley\x1b[2JSato", "U+001B (ESC)")]
)
def test_nul_and_esc_in_a_contact_name_are_refused_at_queue_naming_the_row(
    workspace: Path, cli: Invoke, name: str, shown: str
) -> None:
    path = workspace / OFFICES
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Riley Sato", name), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "Riley Sato" in row)
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {OFFICES}:{line}: name: contains a control character, {shown}; remove it"
    )
    assert not (workspace / ".capitolmail" / "outbox").exists()


@pytest.mark.parametrize(
    ("command", "csv_text", "field"),
    [
        (
            "contacts",
            "bioguide,email,name,role\nM001153,josé@senate.example.org,Jo,Chief of Staff\n",
            "email",
        ),
        (
            "supporters",
            "email,first_name,last_name,postal_code,state,district,consent,tags\n"
            "josé@example.net,Jo,Sé,94110,,,yes,arms-trade\n",
            "email",
        ),
        ("suppress", "email,reason\njosé@example.net,manual\n", "email"),
    ],
)
def test_a_non_ascii_local_part_is_refused_at_import_naming_row_and_field(
    workspace: Path, cli: Invoke, tmp_path: Path, command: str, csv_text: str, field: str
) -> None:
    source = tmp_path / "import.csv"
    source.write_text(csv_text, encoding="utf-8")
    result = cli(command, "import", str(source))
    # supporters import keeps the good rows and reports the rest; the others refuse the file.
    assert result.exit_code == (0 if command == "supporters" else 1)
    assert f'import.csv:2: {field}: "josé@' in result.output, result.output
    assert 'non-ASCII character before the @ ("é")' in result.output
    assert "SMTPUTF8" in result.output
    if command == "supporters":
        assert "0 new, 0 updated, 0 duplicates merged, 1 rejected" in result.output


def test_an_idn_contact_is_imported_in_the_form_it_is_sent(
    workspace: Path, cli: Invoke, tmp_path: Path
) -> None:
    source = tmp_path / "offices.csv"
    source.write_text(
        "bioguide,email,name,role\nM001153,jose@bücher.example.org,José,Chief of Staff\n",
        encoding="utf-8",
    )
    assert cli("contacts", "import", str(source)).exit_code == 0
    assert "jose@xn--bcher-kva.example.org" in (workspace / OFFICES).read_text(encoding="utf-8")


# -- compose on its own -----------------------------------------------------------------

SENDER = Sender(name="Example Rights Coalition", email="advocacy@example.org", reply_to="")
RENDERED = RenderedLetter(subject="Block the sale", text="Dear Senator:\n", html=None)


def _compose(**changes: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "sender": SENDER,
        "to_email": "fpla@senate.example.org",
        "to_name": "Jordan Nguyen",
        "rendered": RENDERED,
        "source": "letters/x/letter.toml",
        "categories": ("x",),
    }
    fields.update(changes)
    return compose_message(**fields)  # type: ignore[arg-type]


def test_compose_cleans_names_and_sends_idn_domains_as_ascii() -> None:
    message = _compose(to_name="  Nguyen,  Jordan ;", to_email="jose@bücher.example.org")
    assert (message.to_name, message.to_email) == (
        "Nguyen Jordan",
        "jose@xn--bcher-kva.example.org",
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"to_name": "A\x1bB"}, 'the recipient name "A\\x1bB" contains a control character'),
        ({"to_email": "josé@example.org"}, "the recipient address: "),
        (
            {"rendered": RenderedLetter(subject="Hi\x00", text="x", html=None)},
            'the "Subject" header contains a control character, U+0000 (NUL)',
        ),
        ({"headers": (("Bcc", "x@evil.example"),)}, 'the "Bcc" header is set by capitolmail'),
        ({"categories": ("x",) * 2}, 'SendGrid limit: each category may appear once ("x"'),
        ({"categories": ("c" * 256,)}, "SendGrid limit: a category must be at most 255"),
        (
            {"rendered": RenderedLetter(subject="Hi", text="", html=None)},
            "SendGrid limit: the text/plain part must not be empty",
        ),
    ],
)
def test_compose_refuses_what_a_provider_would_refuse_naming_the_file(
    changes: dict[str, object], error: str
) -> None:
    with pytest.raises(InputError) as caught:
        _compose(**changes)
    assert str(caught.value).startswith(f"letters/x/letter.toml: {error}"), str(caught.value)


def test_a_3000_character_name_is_cut_to_200() -> None:
    assert _compose(to_name="Jordan " * 500).to_name == ("Jordan " * 29).strip()[:200].rstrip()
    assert len(_compose(to_name="é" * 3000).to_name) == 200
