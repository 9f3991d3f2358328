"""Header injection and broken headers, through the command line and the header builder.

Every setting or letter field that reaches a header or a link is refused where
it is read, naming the file and key, and nothing is queued; what is accepted
goes out as headers a strict parser reads with no line over 998 octets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.errors import HeaderError, PermanentSendError
from capitolmail.message import build_header
from capitolmail.providers.file import FileProvider

from .conftest import Invoke
from .headers import (
    assert_wire_format,
    payload_header_problems,
    rfc2047_display_name,
    wire_format_problems,
)
from .providers.contract import sample_message

INJECTION = "\\r\\nBcc: x@evil.example"  # as written inside a TOML string
ALERT = "letters/urge-senators/letter.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _count(workspace: Path) -> int:
    import sqlite3

    path = workspace / ".capitolmail" / "capitolmail.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from messages").fetchone()[0])


def _no_bcc_anywhere(workspace: Path) -> None:
    for path in (workspace / ".capitolmail").rglob("*.eml"):
        assert b"\nBcc" not in path.read_bytes() and b"evil.example" not in path.read_bytes()


@pytest.fixture
def alerts(workspace: Path, cli: Invoke) -> Path:
    result = cli("supporters", "import", str(workspace / "recipients" / "supporters.csv"))
    assert result.exit_code == 0, result.output
    return workspace


@pytest.mark.parametrize(
    ("file", "old", "new", "error"),
    [
        (
            ALERT,
            'list_name = "Action alerts"',
            f'list_name = "Action alerts{INJECTION}"',
            f"Error: {ALERT}:7: list_name: contains a control character, U+000D "
            "(carriage return); remove it",
        ),
        (
            "capitolmail.toml",
            'reply_to = "policy@example.org"',
            f'reply_to = "policy@example.org"\nunsubscribe_email = "u@example.org{INJECTION}"',
            'Error: capitolmail.toml [sender]: unsubscribe_email: "u@example.org\\r\\nBcc: '
            'x@evil.example" is not a valid address',
        ),
        (
            "capitolmail.toml",
            'base_url = "https://act.example.org"',
            f'base_url = "https://act.example.org{INJECTION}"',
            "Error: capitolmail.toml [web]: base_url: contains a control character, U+000D "
            "(carriage return); remove it",
        ),
        (
            "capitolmail.toml",
            'name = "Example Rights Coalition"',
            f'name = "Example Rights Coalition{INJECTION}"',
            "Error: capitolmail.toml [organisation]: name: contains a control character, "
            "U+000D (carriage return); remove it",
        ),
        (
            "capitolmail.toml",
            'email = "advocacy@example.org"',
            'email = "advocacy@example.org"\nname = "Advocacy\\u0000Team"',
            "Error: capitolmail.toml [sender]: name: contains a control character, "
            "U+0000 (NUL); remove it",
        ),
        (
            ALERT,
            "[audience]",
            f'[sender]\nname = "Alerts{INJECTION}"\n\n[audience]',
            f"Error: {ALERT}:15: sender.name: contains a control character, U+000D "
            "(carriage return); remove it",
        ),
    ],
    ids=["list_name", "unsubscribe_email", "base_url", "organisation", "sender-nul", "override"],
)
def test_an_injected_header_in_a_setting_is_refused_and_nothing_is_queued(
    alerts: Path, cli: Invoke, file: str, old: str, new: str, error: str
) -> None:
    _edit(alerts / file, old, new)
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(error), result.stderr
    assert "Traceback" not in result.stderr
    assert _count(alerts) == 0
    _no_bcc_anywhere(alerts)


@pytest.mark.parametrize(
    "url",
    [
        "http://act.example.org",
        "act.example.org",
        "https://act.example.org/?next=x",
        "https://act.example.org/#top",
        "https://act example.org",
        "https://user@act.example.org",
        "ftp://act.example.org",
        "https://",
    ],
)
def test_base_url_must_be_an_absolute_https_url(workspace: Path, cli: Invoke, url: str) -> None:
    _edit(
        workspace / "capitolmail.toml",
        'base_url = "https://act.example.org"',
        f'base_url = "{url}"',
    )
    result = cli("letters", "check", "urge-senators")
    assert result.exit_code == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith("Error: capitolmail.toml [web]: base_url: "), line
    assert "must be an absolute https URL" in line


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8025", "http://localhost:8025/", "https://act.example.org/mail"]
)
def test_base_url_accepts_https_and_plain_http_on_this_machine(
    workspace: Path, cli: Invoke, url: str
) -> None:
    _edit(
        workspace / "capitolmail.toml",
        'base_url = "https://act.example.org"',
        f'base_url = "{url}"',
    )
    assert load_settings(workspace).web.base_url == url.rstrip("/")


def test_a_sender_address_with_a_unicode_domain_goes_out_as_idna(alerts: Path, cli: Invoke) -> None:
    _edit(
        alerts / "capitolmail.toml",
        'email = "advocacy@example.org"',
        'email = "advocacy@bücher.example.org"',
    )
    assert load_settings(alerts).sender.email == "advocacy@xn--bcher-kva.example.org"
    assert cli("queue", "urge-senators").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    files = sorted((alerts / ".capitolmail" / "outbox" / "1").glob("*.eml"))
    assert files
    for path in files:
        message = assert_wire_format(path.read_bytes())
        assert message["From"].addresses[0].addr_spec == "advocacy@xn--bcher-kva.example.org"
        assert message["List-Id"] == "Action alerts <action-alerts.xn--bcher-kva.example.org>"
        assert "<mailto:policy@example.org?subject=unsubscribe>" in message["List-Unsubscribe"]


# -- the header builder itself ---------------------------------------------------------


@pytest.mark.parametrize(
    "char", ["\x00", "\x1b", "\r", "\n", "\t", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\x0b"]
)
@pytest.mark.parametrize("where", ["subject", "to_name", "from_name", "header"])
def test_every_control_character_in_every_header_is_refused(char: str, where: str) -> None:
    value = f"Senator{char}Bcc: x@evil.example"
    if where == "header":
        message = sample_message(headers=(("X-Campaign", value),))
    else:
        message = sample_message(**{where: value})
    with pytest.raises(HeaderError, match=f"control character, U\\+{ord(char):04X}"):
        message.to_bytes()


def test_a_header_that_only_the_message_sets_cannot_be_added() -> None:
    for name in ("Bcc", "cc", "To", "Subject", "Message-ID", "Content-Type"):
        with pytest.raises(HeaderError, match="set by capitolmail itself"):
            sample_message(headers=((name, "x@evil.example"),)).to_bytes()
    for name in ("X Bad", "X:Bad", "Xé", ""):
        with pytest.raises(HeaderError, match="not a valid header name"):
            build_header(name, "value")


def _lines(raw: bytes) -> list[bytes]:
    return raw.partition(b"\r\n\r\n")[0].split(b"\r\n")


def test_a_2000_character_subject_without_spaces_is_encoded_within_78_columns() -> None:
    subject = "x" * 2000
    raw = sample_message(subject=subject).to_bytes()
    assert max(len(line) for line in _lines(raw)) <= 78
    assert assert_wire_format(raw)["Subject"] == subject


def test_a_3000_character_name_is_encoded_within_78_columns() -> None:
    for name in ("a" * 3000, "é" * 3000, "Jordan " * 430):
        raw = sample_message(to_name=name.strip()).to_bytes()
        assert max(len(line) for line in _lines(raw)) <= 78
        message = assert_wire_format(raw)
        assert message["To"].addresses[0].addr_spec == "fpla.schatz.hi@senate.example.org"
        assert rfc2047_display_name(raw, "To") == name.strip()


def test_a_long_ascii_subject_folds_at_spaces_and_reads_back_whole() -> None:
    subject = "Coalition letter " * 30
    raw = sample_message(subject=subject.strip()).to_bytes()
    assert b"=?" not in raw.partition(b"\r\n\r\n")[0]
    assert max(len(line) for line in _lines(raw)) <= 78
    assert assert_wire_format(raw)["Subject"] == subject.strip()


@pytest.mark.parametrize(
    "name",
    [
        "Nguyen, Jordan",
        'Jordan "JJ" Nguyen',
        "Back\\slash",
        "=?utf-8?q?Senator_Smith?=",
        "Dana (Chief of Staff)",
        "שלום\u200f Dana",
        "Nguyễn Văn An 😀",
        "Jordan  Nguyen",
    ],
)
def test_display_names_are_quoted_or_encoded_and_read_back_exactly(name: str) -> None:
    raw = sample_message(to_name=name).to_bytes()
    message = assert_wire_format(raw)
    assert message["To"].addresses[0].display_name == name
    assert message["To"].addresses[0].addr_spec == "fpla.schatz.hi@senate.example.org"


@pytest.mark.parametrize(
    "subject", ["=?utf-8?q?Free_money?=", "  two  spaces ", "Carta — Luján " * 20]
)
def test_subjects_read_back_exactly(subject: str) -> None:
    raw = sample_message(subject=subject).to_bytes()
    assert assert_wire_format(raw)["Subject"] == subject


def test_a_structured_header_that_cannot_be_folded_is_refused() -> None:
    with pytest.raises(HeaderError, match="longer than a header line may be"):
        build_header("List-Unsubscribe", f"<https://act.example.org/u/{'x' * 1000}>")
    with pytest.raises(HeaderError, match="must be ASCII"):
        build_header("List-Unsubscribe-Post", "Liste-Désinscription=One-Click")


def test_a_non_ascii_list_name_is_encoded_in_list_id() -> None:
    raw = sample_message(
        headers=(("List-Id", "Alertas de acción <alertas.example.org>"),)
    ).to_bytes()
    assert assert_wire_format(raw)["List-Id"] == "Alertas de acción <alertas.example.org>"


def test_json_status_is_untouched_by_a_refused_queue(alerts: Path, cli: Invoke) -> None:
    before = json.loads(cli("status", "--json").stdout)
    _edit(alerts / ALERT, 'list_name = "Action alerts"', f'list_name = "Alerts{INJECTION}"')
    assert cli("queue", "urge-senators").exit_code == 1
    assert json.loads(cli("status", "--json").stdout) == before


def test_a_stored_message_with_a_broken_header_fails_permanently_at_send(tmp_path: Path) -> None:
    """Rows stored before compose checked headers fail one message, never the worker."""
    provider = FileProvider(tmp_path / "outbox")
    with pytest.raises(PermanentSendError, match="U\\+001B"):
        provider.send(sample_message(subject="Hi\x1b[2J"))
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").rglob("*.eml"))


def test_the_wire_checker_finds_what_it_is_for() -> None:
    """The suite-wide check (tests/headers.py) would catch each broken message."""
    good = sample_message(html=None).to_bytes()
    assert wire_format_problems(good) == []
    head, _, body = good.partition(b"\r\n\r\n")
    broken = {
        "a Bcc header": head + b"\r\nBcc: x@evil.example",
        "line 1 is 1004 octets": b"X-Long: " + b"x" * 996 + b"\r\n" + head,
        "is not ASCII": head + "\r\nX-Name: Luján".encode(),
        "2 To headers": head + b"\r\nTo: other@example.org",
        "holds a control character": head + b"\r\nX-Esc: a\x1bb",
        "bare CR or LF": head + b"\r\nX-Lf: a\nBcc: x@evil.example",
    }
    for expected, raw_head in broken.items():
        problems = wire_format_problems(raw_head + b"\r\n\r\n" + body)
        assert any(expected in problem for problem in problems), (expected, problems)
    payload = {"personalizations": [{"to": [{"email": "a@example.org", "name": "A\r\nBcc: b"}]}]}
    assert any("control character" in p for p in payload_header_problems(payload))
    assert any("not a field name" in p for p in payload_header_problems({"headers": {"X Y": "1"}}))


@pytest.mark.parametrize(
    ("char", "shown"), [("\\u0000", "U+0000 (NUL)"), ("\\u001b", "U+001B (ESC)")]
)
def test_nul_or_esc_in_a_subject_is_refused_at_queue(
    workspace: Path, cli: Invoke, char: str, shown: str
) -> None:
    letter = workspace / "letters/block-arms-sale/letter.toml"
    _edit(
        letter, 'subject = "{{ signers|length }}', f'subject = "{char}[2J{{{{ signers|length }}}}'
    )
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith(
        'Error: letters/block-arms-sale/letter.toml: the "Subject" header contains a control '
        f"character, {shown}; remove it (for "
    ), line
    assert _count(workspace) == 0
    assert not (workspace / ".capitolmail" / "outbox").exists()
