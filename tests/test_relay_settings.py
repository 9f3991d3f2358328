"""Relay settings a newcomer gets wrong or never sets, from the command line.

TLS settings that cannot work pause the job once with a sentence that says what to change.

A certificate the client does not trust and `security = "tls"` against a relay
that speaks STARTTLS (port 587) fail the same way for every message; retrying
them one by one as temporary used up every attempt of 168 letters. The EHLO
name is the machine's fully qualified name unless `local_hostname` is set.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from .conftest import Invoke, use_smtp_relay
from .servers.smtp import Certificates, make_certificates, running_mail_server

_LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
TOTAL = 44  # the worked example: 22 SSFR members, two staff contacts each


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def _use_relay(workspace: Path, port: int, security: str, ca_file: Path | None = None) -> None:
    use_smtp_relay(
        workspace, port, rest="\n[worker]\nmax_attempts = 2\nretry_base_seconds = 0.01\n"
    )
    config = workspace / "capitolmail.toml"
    extra = f'ca_file = "{ca_file.as_posix()}"\n' if ca_file else ""
    config.write_text(
        config.read_text().replace(
            'security = "none"\nallow_plain = true\n', f'security = "{security}"\n{extra}'
        )
    )


def _job(cli: Invoke) -> dict:
    return json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]


def _assert_paused_once(cli: Invoke, reason: str) -> None:
    """One pause with `reason`, exit 1, no attempt used, and `status` shows the sentence."""
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    worker = cli("worker", "--once")
    assert worker.exit_code == 1
    printed = [line for line in worker.stderr.splitlines() if not _LOG_RECORD.match(line)]
    assert printed[-2] == (
        "Job 1 paused: the provider cannot be used as configured (the reason is logged above"
        ' and shown by "capitolmail status 1"); fix the setting, then run'
        ' "capitolmail resume 1".'
    )
    # Printed as written: "[provider.smtp]" is text, not rich markup (issue 18).
    assert printed[-1] == (
        f'Not everything was sent: job 1 paused ({reason}). "capitolmail status JOB" shows why.'
    )
    logged = [line for line in worker.stderr.splitlines() if "job 1 paused: " in line]
    assert len(logged) == 1  # paused once, not once per message
    job = _job(cli)
    assert job["state"] == "paused"
    assert job["paused_reason"] == reason
    # Those in flight went back (retry_wait, due now) without an attempt; none failed.
    assert set(job["counts"]) <= {"queued", "retry_wait"}
    assert sum(job["counts"].values()) == TOTAL
    assert {m["attempts"] for m in job["messages"]} == {0}
    status = cli("status", "1", "--json")
    assert json.loads(status.stdout)["jobs"][0]["paused_reason"] == reason
    # The rich table wraps; compare with whitespace collapsed.
    assert _collapsed(reason) in _collapsed(cli("status", "1").stdout)


def _collapsed(text: str) -> str:
    """`text` with whitespace collapsed (the status table wraps long reasons)."""
    return " ".join(text.split())


def test_untrusted_certificate_pauses_once_and_names_ca_file(
    workspace: Path, cli: Invoke, certificates: Certificates
) -> None:
    with running_mail_server(starttls=certificates.server_context) as server:
        _use_relay(workspace, server.port, "starttls", certificates.other_ca_file)
        _assert_paused_once(
            cli,
            f"the certificate of 127.0.0.1:{server.port} is not trusted (self-signed"
            " certificate in certificate chain): set [provider.smtp] ca_file to the CA that"
            " signed it, or set host to a name the certificate lists",
        )
        assert server.received() == []

        # The operator sets ca_file to the relay's CA and resumes: every letter goes, once.
        # ... here with a path in the workspace, read from there whatever the current folder.
        (workspace / "certs").mkdir()
        (workspace / "certs" / "relay-ca.pem").write_bytes(certificates.ca_file.read_bytes())
        config = workspace / "capitolmail.toml"
        text = config.read_text()
        assert certificates.other_ca_file.as_posix() in text
        config.write_text(text.replace(certificates.other_ca_file.as_posix(), "certs/relay-ca.pem"))
        assert Path.cwd() != workspace
        assert cli("resume", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        assert _job(cli)["counts"] == {"sent": TOTAL}
        assert len(server.received()) == TOTAL
        assert all(received.tls for received in server.received())


def test_implicit_tls_against_a_starttls_relay_pauses_once(workspace: Path, cli: Invoke) -> None:
    with running_mail_server() as server:
        _use_relay(workspace, server.port, "tls")
        _assert_paused_once(
            cli,
            f"127.0.0.1:{server.port} answered in plain text where TLS was expected"
            f" (WRONG_VERSION_NUMBER): port {server.port} speaks STARTTLS; set"
            ' [provider.smtp] security = "starttls"',
        )
        assert server.received() == []


def _send_all(cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0


def test_ehlo_names_the_machine_by_its_fully_qualified_name(
    workspace: Path, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the operating system answers is the machine's business, not ours: set it.
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "gr-laptop.amnesty.example.org")
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        _send_all(cli)
        assert {received.helo for received in server.received()} == {
            "gr-laptop.amnesty.example.org"
        }


@pytest.mark.parametrize("fqdn", ["localhost", "localhost.localdomain", "vm"])
def test_without_a_qualified_name_ehlo_gives_the_connections_own_address(
    workspace: Path, cli: Invoke, monkeypatch: pytest.MonkeyPatch, fqdn: str
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": fqdn)
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        _send_all(cli)
        # The address the relay sees the connection come from (loopback here), never
        # "localhost", which a relay checking EHLO names refuses.
        assert {received.helo for received in server.received()} == {"[127.0.0.1]"}


def test_local_hostname_setting_is_the_ehlo_name(workspace: Path, cli: Invoke) -> None:
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port, smtp='local_hostname = "mail.amnesty.example.org"\n')
        _send_all(cli)
        assert len(server.received()) == TOTAL
        assert {received.helo for received in server.received()} == {"mail.amnesty.example.org"}
