"""Secrets never echo: a relay or SendGrid quoting them, config show, errors, logs, the database.

Each test drives the commands a team types against a real server that echoes the
secret the way a misbehaving relay or proxy does, then looks for the secret, its
base64 and every 8-character run of them in everything the tool printed, logged
(a worker's log file) and stored (every text in every table of the SQLite file).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from capitolmail.redaction import MIN_FRAGMENT, Redactor, shorten

from .conftest import Invoke, use_smtp_relay
from .servers.sendgrid import SendGridStandIn
from .servers.smtp import MailServer, running_mail_server

SRC = Path(__file__).resolve().parents[1] / "src"
USER = "gr"  # "\0gr\0" is 4 bytes: the password sits off the 3-byte grid of base64
PASSWORD = "Tr0ub4dor&3-horse-Battery"
API_KEY = "SG.k3Yq8vR2TzW9pLm4.Xj7Nc5Hb1Qd6Fs0Ga2EkUo"
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ \S+: ")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def grams(text: str) -> set[str]:
    return {text[i : i + MIN_FRAGMENT] for i in range(len(text) - MIN_FRAGMENT + 1)}


def leaked_forms(secret: str) -> set[str]:
    """The secret, its base64 alone and inside AUTH PLAIN, URL-encoded, and all 8-char runs.

    Of the AUTH PLAIN blob only the runs that change with the password count: the
    first characters encode the user name, which is no secret.
    """
    blob = b64(f"\0{USER}\0{secret}")
    other = b64(f"\0{USER}\0{'x' * len(secret)}")
    forms = {secret, b64(secret), quote(secret, safe="")}
    runs = set().union(*(grams(form) for form in forms)) | (grams(blob) - grams(other))
    return forms | runs


def assert_nowhere(secret: str, texts: Iterable[str]) -> None:
    forbidden = leaked_forms(secret)
    for text in texts:
        found = sorted(form for form in forbidden if form in text)
        assert not found, f"{found[:3]} leaked in:\n{text[:2000]}"


def database_text(workspace: Path) -> str:
    """Every row of every table in the workspace's SQLite file, as text."""
    with sqlite3.connect(workspace / ".capitolmail" / "capitolmail.db") as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        rows = [repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')]
    assert rows
    return "\n".join(rows)


def run_worker(workspace: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`capitolmail worker --once` in its own process, its log written to a file."""
    log_file = workspace / "worker.log"
    with log_file.open("wb") as log:
        done = subprocess.run(
            [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "worker", *args],
            env={**os.environ, **env, "PYTHONPATH": str(SRC)},
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=120,
            check=False,
        )
    return done.returncode, done.stdout.decode(), log_file.read_text()


# -- SMTP: a 535 that echoes the AUTH line --------------------------------------------


def _echoing_535(username: str, password: str) -> str:
    plain = b64(f"\0{username}\0{password}")
    return (
        f"535 5.7.8 [bold]Authentication[/] failed for {plain} (LOGIN {b64(password)},"
        f" url {quote(password, safe='')}, typed {password[:-2]})"
    )


@pytest.fixture
def refusing_relay(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    with running_mail_server() as server:
        server.refuse_login(_echoing_535)
        use_smtp_relay(workspace, server.port, smtp=f'username = "{USER}"\n')
        monkeypatch.setenv("CAPITOLMAIL_SMTP_PASSWORD", PASSWORD)
        yield server


def test_a_535_echoing_the_password_leaks_it_nowhere(
    cli: Invoke, workspace: Path, refusing_relay: MailServer
) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    code, stdout, log = run_worker(
        workspace, "--once", "--log-format", "json", env={"CAPITOLMAIL_SMTP_PASSWORD": PASSWORD}
    )
    assert code == 1  # the job paused: an operator must act
    records = [json.loads(line) for line in log.splitlines()]
    paused = [r for r in records if r["message"].startswith("job 1 paused")]
    assert paused and "[redacted]" in paused[0]["message"]
    worker = cli("worker", "--once")  # in process, the text log this time: nothing left to send
    status = cli("status", "1", "--messages")
    as_json = cli("status", "1", "--json", "--messages")
    job = json.loads(as_json.stdout)["jobs"][0]
    assert job["state"] == "paused"
    assert "[redacted]" in job["paused_reason"]
    # The relay's and our own square brackets come through as typed (issue 18).
    assert "[bold]Authentication[/] failed for" in status.stdout
    assert "check [provider.smtp] username" in status.stdout
    assert refusing_relay.received() == []
    assert_nowhere(
        PASSWORD,
        [
            stdout,
            log,
            worker.stdout,
            worker.stderr,
            status.stdout,
            status.stderr,
            as_json.stdout,
            database_text(workspace),
        ],
    )


# -- SendGrid: a reply echoing the key ---------------------------------------------------


@pytest.fixture
def sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY) as server:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            text + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
            "\n[worker]\nconcurrency = 4\nmax_attempts = 1\n"
        )
        monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
        yield server


def test_a_key_straddling_the_excerpts_cut_is_redacted(
    cli: Invoke, workspace: Path, sendgrid: SendGridStandIn
) -> None:
    # A proxy's page: the key begins 181 characters in, across the 200-character cut.
    sendgrid.answer(400, times=None, body="x" * 180 + f" {API_KEY} rejected")
    cli("queue", "block-arms-sale")
    cli("send", "1")
    worker = cli("worker", "--once")
    job = json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]
    assert job["counts"] == {"failed": 44}
    assert job["messages"][0]["last_error"].endswith("x [redacted] rejected")
    assert_nowhere(
        API_KEY,
        [worker.output, cli("status", "1", "--messages").stdout, json.dumps(job)]
        + [database_text(workspace)],
    )


def test_a_reply_echoing_the_key_minus_two_characters_shows_none_of_it(
    cli: Invoke, workspace: Path, sendgrid: SendGridStandIn
) -> None:
    forged = "\r\n2025-01-01 00:00:00,000 INFO capitolmail: all sent"
    sendgrid.answer(
        401, times=None, errors=[{"message": f"key {API_KEY[:-2]} revoked{forged}", "field": None}]
    )
    cli("queue", "block-arms-sale")
    cli("send", "1")
    worker = cli("worker", "--once")
    assert worker.exit_code == 1
    # The text log and the summary keep the reply's CR/LF on their own line, escaped.
    for line in worker.stderr.splitlines():
        assert LOG_RECORD.match(line) or line.startswith(("Worker:", "Job 1", "Not every")), line
    assert "revoked\\r\\n2025-01-01" in worker.stderr
    status = cli("status", "1")
    assert "revoked\\r\\n2025-01-01" in status.stdout
    assert_nowhere(
        API_KEY,
        [worker.stdout, worker.stderr, status.stdout, cli("status", "--json").stdout]
        + [database_text(workspace)],
    )


# -- settings ----------------------------------------------------------------------------

DB_PASSWORD = "pg-Secret-4711-xyz"


def test_config_show_and_errors_mask_the_database_password(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9 of this machine: the connection is refused at once.
    url = f"postgresql+psycopg://capitol:{DB_PASSWORD}@127.0.0.1:9/capitolmail"
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", url)
    shown = cli("config", "show")
    assert shown.exit_code == 0
    settings = json.loads(shown.stdout)
    assert settings["database_url"] == "postgresql+psycopg://capitol:***@127.0.0.1:9/capitolmail"
    failed = cli("status")
    assert failed.exit_code == 1
    assert failed.stderr.startswith("Error: ")
    assert_nowhere(DB_PASSWORD, [shown.output, failed.output])


# -- control characters and markup in what is printed -------------------------------------

FORGED = "a@b.example.org\r\n2025-01-01 00:00:00,000 ERROR capitolmail: forged"


@pytest.mark.parametrize("command", ["add", "remove"])
def test_an_error_quoting_cr_lf_stays_on_one_line(cli: Invoke, command: str) -> None:
    result = cli("suppress", command, FORGED)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ")
    assert "a@b.example.org\\r\\n2025-01-01" in result.stderr


def test_square_brackets_and_emoji_codes_in_a_letter_print_as_written(
    cli: Invoke, workspace: Path
) -> None:
    letter = workspace / "letters/block-arms-sale/letter.toml"
    text = letter.read_text()
    description = 'Close [/] then [bold]open[/bold] :thumbs_up: "[provider.smtp] host"'
    letter.write_text(
        re.sub(r"^description = .*$", f"description = '{description}'", text, flags=re.M)
    )
    listed = cli("letters", "list")  # "[/]" alone made rich raise MarkupError
    assert listed.exit_code == 0
    assert description in listed.stdout


def test_supporter_names_with_markup_are_listed_as_imported(cli: Invoke, workspace: Path) -> None:
    supporters = workspace / "markup.csv"
    supporters.write_text(
        "email,first_name,last_name,postal_code,state,district,consent,tags\n"
        "ann@example.net,[bold]Ann[/],[red]Lee,94110,,,yes,arms-trade\n"
    )
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    listed = cli("supporters", "list")
    assert "[bold]Ann[/]" in listed.stdout
    assert "[red]Lee" in listed.stdout


# -- the redactor's rules ----------------------------------------------------------------------


@pytest.mark.parametrize("user", ["a", "ab", "abc", "capitol"])
def test_auth_plain_base64_is_found_whatever_the_user_names_length(user: str) -> None:
    redact = Redactor([PASSWORD])
    shown = redact(f"535 {b64(chr(0) + user + chr(0) + PASSWORD)} refused")
    other = b64(f"\0{user}\0{'x' * len(PASSWORD)}")
    blob = b64(f"\0{user}\0{PASSWORD}")
    assert "[redacted]" in shown
    assert not [run for run in grams(blob) - grams(other) if run in shown]


def test_fragments_shorter_than_eight_characters_and_other_text_are_left_alone() -> None:
    redact = Redactor([PASSWORD])
    assert redact("Tr0ub4d is not a secret run") == "Tr0ub4d is not a secret run"
    assert redact("key Tr0ub4do!") == "key [redacted]!"
    assert Redactor(["abc"])("abc stays: too short to be a secret") == (
        "abc stays: too short to be a secret"
    )


def test_a_cut_keeps_the_mark_whole() -> None:
    assert shorten("x" * 195 + " [redacted] and more", 200) == "x" * 195 + " [redacted]…"
    assert shorten("short", 200) == "short"
