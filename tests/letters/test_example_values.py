"""The worked example's invented values never go out through a real provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capitolmail.letters.example_values import is_reserved_domain

from ..conftest import Invoke

FIX = (
    "use your own, or set allow_example_values = true in capitolmail.toml to send it through "
    "smtp anyway (for a test relay only)"
)
REAL_SETTINGS = {
    'name = "Example Rights Coalition"': 'name = "Rights Coalition"',
    "1234 Example Avenue NW": "1100 13th Street NW",
    "https://www.example.org": "https://www.rightscoalition.us",
    "advocacy@example.org": "advocacy@rightscoalition.us",
    "policy@example.org": "policy@rightscoalition.us",
    "https://act.example.org": "https://act.rightscoalition.us",
}


def _edit(path: Path, changes: dict[str, str]) -> None:
    text = path.read_text()
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


def _provider(workspace: Path, name: str, extra: str = "") -> None:
    _edit(workspace / "capitolmail.toml", {'name = "file"': f'name = "{name}"'})
    if extra:
        config = workspace / "capitolmail.toml"
        config.write_text(config.read_text() + extra)


def _jobs(cli: Invoke) -> list[dict]:
    return json.loads(cli("status", "--json").stdout)["jobs"]


@pytest.mark.parametrize("command", [("letters", "check"), ("queue",)])
def test_the_example_is_refused_on_smtp_naming_every_place(
    workspace: Path, cli: Invoke, command: tuple[str, ...]
) -> None:
    _provider(workspace, "smtp")

    result = cli(*command, "block-arms-sale")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: {line}; {FIX}"
        for line in (
            [
                'capitolmail.toml: [organisation] name: "Example Rights Coalition" is the '
                "worked example's placeholder",
                'capitolmail.toml: [organisation] postal_address: "1234 Example Avenue NW, '
                "Suite 500, Washington, DC 20005\" is the worked example's placeholder",
                'capitolmail.toml: [organisation] website: "https://www.example.org" is an '
                "example domain",
                'capitolmail.toml: [sender] email: "advocacy@example.org" is an example address',
                'capitolmail.toml: [sender] reply_to: "policy@example.org" is an example address',
                "recipients/offices.csv:30: email: 44 office contacts at example domains or "
                "with example values (cos.murphy.ct@senate.example.org, "
                "fpla.murphy.ct@senate.example.org, cos.coons.de@senate.example.org, …)",
                "letters/block-arms-sale/signers.csv:4: organisation: 1 signer at example "
                "domains or with example values (Example Rights Coalition)",
            ]
        )
    ]
    assert _jobs(cli) == []


def test_own_values_on_smtp_pass_and_only_the_remaining_example_is_named(
    workspace: Path, cli: Invoke
) -> None:
    _provider(workspace, "smtp")
    _edit(workspace / "capitolmail.toml", REAL_SETTINGS)
    _edit(
        workspace / "letters/block-arms-sale/signers.csv",
        {"Example Rights Coalition,": "Rights Coalition,"},
    )
    _edit(
        workspace / "letters/block-arms-sale/letter.toml",
        {'"Example Rights Coalition"': '"Rights Coalition"'},
    )
    offices = workspace / "recipients/offices.csv"
    offices.write_text(offices.read_text().replace("senate.example.org", "senate.gov"))
    assert cli("letters", "check", "block-arms-sale").exit_code == 0

    letter = workspace / "letters/block-arms-sale/letter.toml"
    letter.write_text(letter.read_text() + '\n[sender]\nemail = "press@example.net"\n')
    result = cli("queue", "block-arms-sale")

    assert result.exit_code == 1
    assert result.stderr == (
        'Error: letters/block-arms-sale/letter.toml: [sender] email: "press@example.net" is an '
        f"example address; {FIX}\n"
    )
    assert _jobs(cli) == []


@pytest.mark.parametrize(
    ("provider", "extra"),
    [
        ("file", ""),
        ("console", ""),
        ("sendgrid", "\n[provider.sendgrid]\nsandbox_mode = true\n"),
    ],
)
def test_providers_that_send_nowhere_take_the_example(
    workspace: Path, cli: Invoke, provider: str, extra: str
) -> None:
    _provider(workspace, provider, extra)
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1\n"


def test_sendgrid_outside_its_sandbox_refuses_the_example(workspace: Path, cli: Invoke) -> None:
    _provider(workspace, "sendgrid")
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert "send it through sendgrid anyway" in result.stderr
    assert _jobs(cli) == []


def test_allow_example_values_lifts_the_check(workspace: Path, cli: Invoke) -> None:
    _provider(workspace, "smtp")
    config = workspace / "capitolmail.toml"
    config.write_text("allow_example_values = true\n" + config.read_text())
    assert cli("queue", "block-arms-sale").stdout == "1\n"


def test_an_alert_names_its_settings_then_its_supporters(workspace: Path, cli: Invoke) -> None:
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    _provider(workspace, "smtp")

    settings = cli("letters", "check", "urge-senators")
    assert settings.exit_code == 1
    assert (
        'Error: capitolmail.toml: [web] base_url: "https://act.example.org" is an example '
        f"domain; {FIX}"
    ) in settings.stderr.splitlines()

    _edit(workspace / "capitolmail.toml", REAL_SETTINGS)
    people = cli("queue", "urge-senators")
    assert people.exit_code == 1
    assert people.stderr == (
        "Error: supporters: email: 6 supporters at example domains or with example values "
        f"(ada@example.net, ben@example.net, carmen@example.net, …); {FIX}\n"
    )
    assert _jobs(cli) == []


@pytest.mark.parametrize(
    ("domain", "reserved"),
    [
        ("example.com", True),
        ("EXAMPLE.NET", True),
        ("senate.example.org", True),
        ("mail.example", True),
        ("relay.test", True),
        ("nowhere.invalid", True),
        ("localhost", True),
        ("app.localhost.", True),
        ("senate.gov", False),
        ("myexample.org", False),
        ("example.org.uk", False),
        ("testing.org", False),
    ],
)
def test_reserved_domains(domain: str, reserved: bool) -> None:
    assert is_reserved_domain(domain) is reserved
