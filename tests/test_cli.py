"""The command line: exit codes, the exact error line, and nothing written on bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from capitolmail.cli import main

from .conftest import Invoke

LETTER = Path("letters/block-arms-sale")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _fingerprint(workspace: Path) -> dict[str, object]:
    """What a refused command must leave as it was: the jobs and the outbox files."""
    state = workspace / ".capitolmail"
    files = sorted(p for p in (state / "outbox").rglob("*") if p.is_file())
    return {
        "outbox": {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files},
    }


@pytest.fixture
def one_job(cli: Invoke, workspace: Path) -> dict[str, object]:
    """A workspace with job 1 queued, so "unchanged" is checked against real rows."""
    assert cli("queue", "block-arms-sale").exit_code == 0
    return json.loads(cli("status", "--json").stdout)


def _assert_refused(cli: Invoke, workspace: Path, before: dict[str, object], line: str) -> None:
    outbox_before = _fingerprint(workspace)
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == line
    assert "Traceback" not in result.stderr
    assert json.loads(cli("status", "--json").stdout) == before
    assert _fingerprint(workspace) == outbox_before


def test_undefined_variable_refuses_to_queue(
    cli: Invoke, workspace: Path, one_job: dict[str, object]
) -> None:
    _edit(
        workspace / LETTER / "body.txt.j2",
        "{{ legislator | salutation }}",
        "{{ legislator.nick_name }}",
    )
    _assert_refused(
        cli,
        workspace,
        one_job,
        'Error: letters/block-arms-sale/body.txt.j2:2: "legislator.nick_name" is undefined '
        '(did you mean "nickname"?) (for cos.murphy.ct@senate.example.org, Christopher Murphy)',
    )


def test_line_break_in_the_rendered_subject_refuses_to_queue(
    cli: Invoke, workspace: Path, one_job: dict[str, object]
) -> None:
    # A header injection attempt through a value the subject template prints.
    _edit(
        workspace / LETTER / "letter.toml",
        'description = "Coalition letter',
        'description = "Bcc: everyone@example.net\\r\\nCoalition letter',
    )
    _edit(
        workspace / LETTER / "letter.toml",
        'subject = "{{ signers|length }}',
        'subject = "{{ letter.description }}: {{ signers|length }}',
    )
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: letters/block-arms-sale/letter.toml:7: subject: ")
    assert "line break" in first
    assert "(for cos.murphy.ct@senate.example.org, Christopher Murphy)" in first
    assert json.loads(cli("status", "--json").stdout) == one_job


def test_line_break_in_the_sender_name_refuses_to_queue(
    cli: Invoke, workspace: Path, one_job: dict[str, object]
) -> None:
    config = workspace / "capitolmail.toml"
    good = config.read_text(encoding="utf-8")
    _edit(
        config,
        'name = "Example Rights Coalition"',
        'name = "Example Rights Coalition\\r\\nBcc: everyone@example.net"',
    )
    outbox_before = _fingerprint(workspace)
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: capitolmail.toml [organisation]: name: contains a control character, "
        "U+000D (carriage return); remove it"
    )
    # The setting is refused where it is read, so every command refuses until it is fixed.
    assert cli("status", "--json").exit_code == 1
    config.write_text(good, encoding="utf-8")
    assert json.loads(cli("status", "--json").stdout) == one_job
    assert _fingerprint(workspace) == outbox_before


def test_invalid_contact_address_refuses_to_queue(
    cli: Invoke, workspace: Path, one_job: dict[str, object]
) -> None:
    _edit(
        workspace / "recipients/offices.csv",
        "fpla.cruz.tx@senate.example.org",
        "fpla.cruz.tx@@senate.example.org",
    )
    _assert_refused(
        cli,
        workspace,
        one_job,
        'Error: recipients/offices.csv:175: email: "fpla.cruz.tx@@senate.example.org" is not a '
        "valid address (The part after the @-sign contains invalid characters: '@'); correct it",
    )


def test_malformed_signers_row_refuses_to_queue(
    cli: Invoke, workspace: Path, one_job: dict[str, object]
) -> None:
    _edit(
        workspace / LETTER / "signers.csv",
        "Faith Leaders for Peace,,,",
        "Faith Leaders, for Peace,,,",
    )
    result = cli("queue", "block-arms-sale", "--allow-resend")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        "Error: letters/block-arms-sale/signers.csv:11: row has 5 values but the header has 4"
    )
    assert json.loads(cli("status", "--json").stdout) == one_job


def test_every_problem_is_listed_at_once(cli: Invoke, workspace: Path) -> None:
    _edit(workspace / LETTER / "signers.csv", "Faith Leaders for Peace,,,", ",,,CA")
    _edit(workspace / "recipients/offices.csv", "fpla.cruz.tx@", "fpla.cruz.tx@@")
    _edit(workspace / LETTER / "letter.toml", 'committees = ["SSFR"]', 'committees = ["SSFX"]')
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith("Error: letters/block-arms-sale/signers.csv:11: ")
    assert errors[1].startswith("Error: recipients/offices.csv:175: email: ")
    assert errors[2].startswith("Error: letters/block-arms-sale/letter.toml: audience.committees: ")
    assert '"SSFR", Senate Committee on Foreign Relations' in errors[2]


def test_unknown_key_in_letter_toml_names_file_line_and_suggests(
    cli: Invoke, workspace: Path
) -> None:
    _edit(workspace / LETTER / "letter.toml", "roles = [", "rolse = [")
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: letters/block-arms-sale/letter.toml:22: unknown key "rolse" '
        '(did you mean "roles"?)\n'
    )


def test_unknown_letter_suggests_the_closest(cli: Invoke) -> None:
    result = cli("queue", "block-arm-sale")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: letters/block-arm-sale/letter.toml: no letter "block-arm-sale" '
        '(did you mean "block-arms-sale"?); letters in this workspace: '
        "block-arms-sale, protect-aid-workers, urge-senators, urge-the-administration,"
        " urge-the-president\n"
    )


def test_debug_shows_the_traceback(workspace: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--workspace", str(workspace), "--debug", "queue", "nope"])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "InputError"


def test_not_a_workspace(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--workspace", str(tmp_path), "status"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no capitolmail.toml in {tmp_path.resolve()}; run `capitolmail init DIR` "
        "to create a workspace or pass --workspace DIR\n"
    )


def test_init_refuses_to_overwrite(workspace: Path) -> None:
    before = (workspace / "capitolmail.toml").read_bytes()
    result = CliRunner().invoke(main, ["init", str(workspace)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {workspace / 'capitolmail.toml'} already exists; "
        "init never overwrites a workspace\n"
    )
    assert (workspace / "capitolmail.toml").read_bytes() == before


def test_init_writes_a_commented_worked_example(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0
    root = tmp_path / "new"
    for name, comment in [
        ("capitolmail.toml", "#"),
        ("letters/block-arms-sale/letter.toml", "#"),
        ("letters/block-arms-sale/signers.csv", "#"),
        ("recipients/offices.csv", "#"),
        ("letters/block-arms-sale/body.txt.j2", "{#"),
        ("letters/block-arms-sale/body.html.j2", "{#"),
    ]:
        assert (root / name).read_text(encoding="utf-8").startswith(comment), name
    offices = (root / "recipients/offices.csv").read_text(encoding="utf-8").splitlines()
    addresses = [line.split(",")[1] for line in offices[3:]]
    assert addresses and all(a.endswith("@senate.example.org") for a in addresses)


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in [
        "demo",
        "init",
        "config",
        "legislators",
        "contacts",
        "letters",
        "queue",
        "send",
        "worker",
        "status",
        "pause",
        "resume",
        "cancel",
        "requeue",
    ]:
        assert f"  {command} " in result.stdout, command


def test_config_show_prints_effective_settings(cli: Invoke, workspace: Path) -> None:
    result = cli("config", "show")
    data = json.loads(result.stdout)
    assert data["organisation"]["name"] == "Example Rights Coalition"
    assert data["provider"]["name"] == "file"
    assert data["database_url"] == f"sqlite:///{workspace.resolve()}/.capitolmail/capitolmail.db"


def test_legislators_list_a_committee(cli: Invoke) -> None:
    result = cli("legislators", "list", "--committee", "SSFR")
    assert result.exit_code == 0, result.output
    assert "Booker" in result.stdout
    assert "Schumer" not in result.stdout
    assert result.stderr.startswith("22 legislators")


def test_legislators_list_a_state_delegation(cli: Invoke) -> None:
    result = cli("legislators", "list", "--state", "VT")
    assert result.stderr.startswith("3 legislators")
    assert "Sanders" in result.stdout and "Welch" in result.stdout


def test_contacts_import_refuses_bad_rows_and_keeps_the_file(
    cli: Invoke, workspace: Path, tmp_path: Path
) -> None:
    before = (workspace / "recipients/offices.csv").read_bytes()
    source = tmp_path / "new-contacts.csv"
    source.write_text(
        "bioguide,email,name,role\n"
        "B001288,fp@booker.example.org,Ana Ruiz,Foreign Policy LA\n"
        "X999999,someone@example.org,Bo Li,Chief of Staff\n"
        "B001288,not-an-address,Cy Doe,\n",
        encoding="utf-8",
    )
    result = cli("contacts", "import", str(source))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"Error: {source}:3: bioguide: ")
    assert any(e.startswith(f"Error: {source}:4: email: ") for e in errors)
    assert any(e.startswith(f"Error: {source}:4: role: ") for e in errors)
    assert (workspace / "recipients/offices.csv").read_bytes() == before

    skipped = cli("contacts", "import", str(source), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "Wrote 1 contacts" in skipped.stderr
    assert "recipients/offices.csv" in skipped.stderr
    assert "2 rejected rows" in skipped.stderr
    text = (workspace / "recipients/offices.csv").read_text(encoding="utf-8")
    assert "B001288,fp@booker.example.org,Ana Ruiz,Foreign Policy LA" in text
    assert "X999999" not in text


def test_pause_resume_cancel_and_requeue(cli: Invoke, workspace: Path) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("pause", "1").exit_code == 0
    cli("worker", "--once")
    assert not (workspace / ".capitolmail/outbox").exists()
    job = json.loads(cli("status", "1", "--json").stdout)["jobs"][0]
    assert job["state"] == "paused"
    assert cli("resume", "1").exit_code == 0
    assert cli("cancel", "1").exit_code == 0
    job = json.loads(cli("status", "1", "--json").stdout)["jobs"][0]
    assert job["state"] == "cancelled"
    assert set(job["counts"]) == {"cancelled"}
    cli("worker", "--once")
    assert not (workspace / ".capitolmail/outbox").exists()

    usage = cli("requeue", "1")
    assert usage.exit_code == 2
    assert "--unknown and/or --failed" in usage.stderr


def test_status_of_a_missing_job(cli: Invoke) -> None:
    result = cli("status", "7")
    assert result.exit_code == 1
    assert result.stderr == 'Error: no job 7; "capitolmail status" lists the jobs\n'
