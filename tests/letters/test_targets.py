"""Recipients beyond Congress (issue 14), through the command line.

A joint letter to targets (recipients/targets.csv) and offices reaches each once at
a real SMTP server, addressed and greeted as each is; an alert names a target;
hostile or unknown targets stop the queue with one line and nothing stored.
"""

from __future__ import annotations

import json
import sqlite3
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from capitolmail.cli import main
from tests.conftest import Invoke, use_smtp_relay
from tests.servers.smtp import running_mail_server

LETTER = Path("letters/urge-the-administration")
TOML = LETTER / "letter.toml"
TARGETS = Path("recipients/targets.csv")
HEADER = "id,name,title,organization,email,salutation,address,tags,contact_url,phone\n"
GOOD_ROW = (
    "white-house,The President,,The White House,president@whitehouse.example.org,"
    'Dear Mr. President:,"1600 Pennsylvania Avenue NW | Washington, DC 20500",executive,'
    "https://www.whitehouse.gov/contact/,202-456-1111\n"
)


def _audience(ws: Path, lines: str) -> None:
    """Replace the example letter's [audience] table with `lines`."""
    path = ws / TOML
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("[audience]")] + "[audience]\n" + lines, encoding="utf-8")


def _jobs(ws: Path) -> int:
    database = ws / ".capitolmail" / "capitolmail.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        return conn.execute("SELECT count(*) FROM jobs").fetchone()[0] if "jobs" in tables else 0


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def test_a_letter_to_targets_and_an_office_reaches_each_once_addressed_as_each(
    cli: Invoke, workspace: Path, database_url: str
) -> None:
    """On SQLite and on PostgreSQL (whose bulk COPY writes the target id column too)."""
    config = workspace / "capitolmail.toml"
    config.write_text(f'database_url = "{database_url}"\n' + config.read_text())
    _audience(
        workspace,
        'targets = ["white-house"]\ntarget_tags = ["state-department"]\n'
        'include = ["M001153"]\nroles = ["Chief of Staff"]\n',
    )
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        queued = cli("queue", "urge-the-administration")
        assert queued.exit_code == 0, queued.output
        assert queued.stdout == "1\n"
        assert (
            "Queued job 1: 3 messages to 1 offices (1 senate) and 2 targets. "
            "Send it with: capitolmail send 1"
        ) in queued.stderr
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()

    by_rcpt = {r.rcpt_tos: r for r in received}
    assert sorted(by_rcpt) == [
        ("cos.murkowski.ak@senate.example.org",),
        ("president@whitehouse.example.org",),
        ("secretary@state.example.org",),
    ]
    assert len(received) == 3  # nobody twice
    president = _parsed(by_rcpt[("president@whitehouse.example.org",)].raw)
    assert president["To"] == "The President <president@whitehouse.example.org>"
    assert president["Cc"] is None and president["Bcc"] is None
    assert president["Subject"] == "39 organizations urge you to suspend the pending arms sale"
    assert _text(president).startswith(
        "The President\nThe White House\n1600 Pennsylvania Avenue NW\n"
        "Washington, DC 20500\n\nDear Mr. President:\n"
    )
    secretary = _parsed(by_rcpt[("secretary@state.example.org",)].raw)
    assert secretary["To"] == "The Honorable Marco Rubio <secretary@state.example.org>"
    assert _text(secretary).startswith(
        "The Honorable Marco Rubio\nSecretary of State\nU.S. Department of State\n"
        "2201 C Street NW\nWashington, DC 20520\n\nDear Mr. Secretary:\n"
    )
    html = secretary.get_body(preferencelist=("html",))
    assert html is not None and "<p>Dear Mr. Secretary:</p>" in html.get_content()
    office = _parsed(by_rcpt[("cos.murkowski.ak@senate.example.org",)].raw)
    assert office["To"] == "Alex Rivera <cos.murkowski.ak@senate.example.org>"
    assert _text(office).startswith(
        "Lisa Murkowski\nSenator\nUnited States Senate\n522 Hart Senate Office Building\n"
        "Washington, DC 20510\n\nDear Senator Murkowski:\n"
    )

    job = json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]
    assert job["counts"] == {"sent": 3}
    shown = {(m["target"], m["bioguide"], m["name"]) for m in job["messages"]}
    assert shown == {
        ("white-house", None, "The President"),
        ("state-department", None, "The Honorable Marco Rubio"),
        (None, "M001153", "Alex Rivera"),
    }
    table = cli("status", "1", "--messages").stdout
    assert "white-house" in table and "state-department" in table and "M001153" in table


def test_the_worked_example_letter_goes_to_the_white_house_and_the_state_department(
    cli: Invoke,
) -> None:
    check = cli("letters", "check", "urge-the-administration")
    assert check.exit_code == 0, check.output
    assert "OK: urge-the-administration renders 2 messages to 2 targets." in check.stderr
    preview = cli("letters", "preview", "urge-the-administration", "--to", "white-house")
    assert preview.exit_code == 0, preview.output
    assert "To: The President <president@whitehouse.example.org>" in preview.stdout
    assert "\nDear Mr. President:\n" in preview.stdout


def test_an_unknown_target_names_the_letter_file_and_the_closest_id(
    cli: Invoke, workspace: Path
) -> None:
    _audience(workspace, 'targets = ["white-hose", "EOP0001"]\ntarget_tags = ["executiv"]\n')
    result = cli("queue", "urge-the-administration")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: letters/urge-the-administration/letter.toml: audience.targets: unknown target "
        '"white-hose" (did you mean "white-house"?); recipients/targets.csv has: white-house, '
        "state-department, sfrc-staff-director",
        "Error: letters/urge-the-administration/letter.toml: audience.targets: unknown target "
        '"EOP0001"; recipients/targets.csv has: white-house, state-department, '
        "sfrc-staff-director",
        "Error: letters/urge-the-administration/letter.toml: audience.target_tags: unknown "
        'target tag "executiv" (did you mean "executive"?); recipients/targets.csv has: '
        "executive, state-department, committee-staff",
    ]
    assert _jobs(workspace) == 0


def test_a_target_without_an_email_cannot_get_a_joint_letter(cli: Invoke, workspace: Path) -> None:
    path = workspace / TARGETS
    path.write_text(
        path.read_text().replace("president@whitehouse.example.org", ""), encoding="utf-8"
    )
    result = cli("queue", "urge-the-administration")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: letters/urge-the-administration/letter.toml: target white-house (line 6) in "
        "recipients/targets.csv has no email, and a joint letter is sent by email; fill in the "
        "email column or take the target out of audience.targets / target_tags"
    ]
    assert _jobs(workspace) == 0


def test_a_letter_naming_no_target_does_not_read_targets_csv(cli: Invoke, workspace: Path) -> None:
    (workspace / TARGETS).write_text("not,a,targets,file\n", encoding="utf-8")
    assert cli("letters", "check", "block-arms-sale").exit_code == 0


WH = "white-house,The President"
HOSTILE_ROWS = {
    "carriage return in name": ('white-house,"The\rPresident"', "name", "line break"),
    "line feed in title": (f'{WH},"President\nBcc: x@evil.test"', "title", "line break"),
    "escape in salutation": (f"{WH},,,,Dear \x1b[31mSir", "salutation", "U+001B"),
    "formula in organization": (f'{WH},,"=HYPERLINK(""http://x"")"', "organization", "formula"),
    "formula in name": ("white-house,@SUM(A1)", "name", "formula"),
    "over-long address": (f"{WH},,,,," + "A" * 501, "address", "characters long"),
    "over-long name": ("white-house," + "N" * 201, "name", "characters long"),
    "bad email": (f"{WH},,,president@@whitehouse", "email", "not a valid address"),
    "header in email": (f'{WH},,,"p@x.org\r\nBcc: y@evil.test"', "email", "line break"),
    "id with spaces": ("White House,The President", "id", "not an id"),
    "empty id": (",The President", "id", "empty"),
    "empty name": ("white-house,", "name", "empty"),
    "javascript contact url": (f"{WH},,,,,,,javascript:alert(1)", "contact_url", "https"),
    "formula phone": (f"{WH},,,,,,,,=1+1", "phone", "phone number"),
    "bad tag": (f"{WH},,,,,,bad tag!", "tags", "not a tag"),
}


def _row(start: str) -> str:
    """A ten-column row that begins with `start` (commas pad it out)."""
    import csv
    import io

    fields = next(csv.reader(io.StringIO(start, newline="")))
    return start + "," * (10 - len(fields)) + "\n"


@pytest.mark.parametrize(("start", "field", "why"), HOSTILE_ROWS.values(), ids=HOSTILE_ROWS.keys())
def test_a_hostile_targets_row_is_one_line_naming_row_and_field_and_nothing_is_queued(
    workspace: Path, start: str, field: str, why: str
) -> None:
    (workspace / TARGETS).write_bytes(
        ("# targets\n" + HEADER + _row(start)).encode("utf-8").replace(b"\n", b"\r\n")
        if "\r" not in start
        else ("# targets\n" + HEADER + _row(start)).encode("utf-8")
    )
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "queue", LETTER.name])
    lines = result.stderr.splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: recipients/targets.csv:3: {field}: "), lines[0]
    assert why in lines[0]
    assert "Traceback" not in result.output
    assert _jobs(workspace) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            HEADER + GOOD_ROW + GOOD_ROW.replace("president@", "other@"),
            'recipients/targets.csv:3: id: "white-house" is also the id on line 2',
        ),
        (
            HEADER + GOOD_ROW + GOOD_ROW.replace("white-house,", "white-house-2,", 1),
            "recipients/targets.csv:3: email: same email as line 2; one row per address",
        ),
        (
            HEADER.replace("salutation", "salutaton") + GOOD_ROW,
            'recipients/targets.csv:1: unknown column "salutaton" (did you mean "salutation"?)',
        ),
        (
            "id,name,email\nwhite-house,The President,p@x.org\n",
            'recipients/targets.csv:1: missing column "title"',
        ),
        (
            HEADER + "white-house,The President,extra,,,,,,,,,\n",
            "recipients/targets.csv:2: row has 12 fields but the header has 10",
        ),
    ],
    ids=["duplicate id", "duplicate email", "misspelled column", "missing column", "shifted row"],
)
def test_a_bad_targets_file_is_refused_naming_the_line(
    workspace: Path, content: str, expected: str
) -> None:
    (workspace / TARGETS).write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "queue", LETTER.name])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {expected}"), result.stderr
    assert _jobs(workspace) == 0


def test_a_targets_file_linking_out_of_the_workspace_is_refused(
    workspace: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + GOOD_ROW.replace("The President", "root:secret"))
    (workspace / TARGETS).unlink()
    (workspace / TARGETS).symlink_to(secret)
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "queue", LETTER.name])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: recipients/targets.csv: is a symbolic link")
    assert "root:secret" not in result.output
    assert _jobs(workspace) == 0


def _alert_with_target(ws: Path, table: str) -> None:
    toml = ws / "letters/urge-senators/letter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + table, encoding="utf-8")
    for name in ("body.txt.j2", "body.html.j2"):
        body = ws / "letters/urge-senators" / name
        text = body.read_text(encoding="utf-8")
        line = (
            "{% for t in targets %}Urge {{ t.name }} ({{ t.organization }}): "
            "{{ t.contact_url }} or call {{ t.phone }}.{% endfor %}{{ '\\n' }}"
        )
        if name.endswith(".html.j2"):
            text = text.replace("{% block body %}", "{% block body %}\n<p>" + line + "</p>", 1)
        else:
            text = line + text
        body.write_text(text, encoding="utf-8")


def test_an_alert_asks_supporters_to_contact_a_named_target(cli: Invoke, workspace: Path) -> None:
    _alert_with_target(workspace, '\n[alert]\ntargets = ["white-house"]\n')
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    queued = cli("queue", "urge-senators")
    assert queued.exit_code == 0, queued.output
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    job = json.loads(cli("status", "1", "--json").stdout)["jobs"][0]
    assert received and len(received) == job["total"] == job["counts"]["sent"]
    urge = "Urge The President (The White House): https://www.whitehouse.gov/contact/ or call "
    for item in received:
        message = _parsed(item.raw)
        assert _text(message).startswith(urge + "202-456-1111.\n")
        html = message.get_body(preferencelist=("html",))
        assert html is not None and urge in html.get_content()
    # The target is named in the alert, not sent to.
    assert all(r.rcpt_tos != ("president@whitehouse.example.org",) for r in received)


def test_an_alert_naming_an_unknown_target_or_tag_is_refused(cli: Invoke, workspace: Path) -> None:
    _alert_with_target(workspace, '\n[alert]\ntarget_tags = ["executve"]\n')
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: letters/urge-senators/letter.toml: alert.target_tags: unknown target tag "
        '"executve" (did you mean "executive"?); recipients/targets.csv has: executive, '
        "state-department, committee-staff"
    ]
    assert _jobs(workspace) == 1 - 1  # nothing queued: the import made no job


def test_targets_keys_belong_to_their_kind(cli: Invoke, workspace: Path) -> None:
    toml = workspace / TOML
    toml.write_text(toml.read_text() + '\n[alert]\ntargets = ["white-house"]\n')
    result = cli("queue", "urge-the-administration")
    assert result.exit_code == 1
    assert '[alert] is for kind = "alert"' in result.stderr
    alert = workspace / "letters/urge-senators/letter.toml"
    alert.write_text(alert.read_text() + 'targets = ["white-house"]\n')
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "audience.targets is for a joint letter" in result.stderr
    assert "[alert] targets" in result.stderr


def test_a_target_put_among_the_offices_says_where_it_belongs(cli: Invoke, workspace: Path) -> None:
    """The seed's own letters wrote to the President as "EOP0001"; that is not a member."""
    _audience(workspace, 'include = ["EOP0001", "S000033"]\n')
    result = cli("queue", "urge-the-administration")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: letters/urge-the-administration/letter.toml: audience.include: unknown bioguide "
        'id "EOP0001": not a current legislator (packaged congress-legislators snapshot); look '
        "it up with `capitolmail legislators list`; a recipient beyond Congress (the White "
        "House, a department, a governor) goes in recipients/targets.csv and the audience's "
        "targets"
    ]
    assert _jobs(workspace) == 0


def test_a_target_sharing_an_office_contacts_address_is_refused(
    cli: Invoke, workspace: Path
) -> None:
    path = workspace / TARGETS
    path.write_text(
        path.read_text().replace(
            "president@whitehouse.example.org", "cos.murkowski.ak@senate.example.org"
        ),
        encoding="utf-8",
    )
    _audience(workspace, 'targets = ["white-house"]\ninclude = ["M001153"]\n')
    result = cli("queue", "urge-the-administration")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: letters/urge-the-administration/letter.toml: target white-house "
        "(recipients/targets.csv line 6) and the contact of Lisa Murkowski "
        "(recipients/offices.csv line 4) share the address "
        "cos.murkowski.ak@senate.example.org, which would get this letter twice; keep one"
    ]
    assert _jobs(workspace) == 0


def test_targets_list_shows_what_letters_will_read(cli: Invoke, workspace: Path) -> None:
    listed = cli("targets", "list", "--json")
    assert listed.exit_code == 0, listed.output
    targets = json.loads(listed.stdout)
    assert [t["id"] for t in targets] == ["white-house", "state-department", "sfrc-staff-director"]
    assert targets[0]["address_lines"] == ["1600 Pennsylvania Avenue NW", "Washington, DC 20500"]
    assert targets[1]["tags"] == ["executive", "state-department"]
    table = cli("targets", "list")
    assert "3 targets in recipients/targets.csv." in table.stderr
    (workspace / TARGETS).write_text(HEADER + GOOD_ROW + GOOD_ROW, encoding="utf-8")
    refused = cli("targets", "list")
    assert refused.exit_code == 1
    assert refused.stderr == (
        'Error: recipients/targets.csv:3: id: "white-house" is also the id on line 2\n'
    )


def test_the_worked_example_alert_urges_the_president(cli: Invoke, workspace: Path) -> None:
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    check = cli("letters", "check", "urge-the-president")
    assert check.exit_code == 0, check.output
    preview = cli("letters", "preview", "urge-the-president", "--to", "ada@example.net")
    assert preview.exit_code == 0, preview.output
    assert "Subject: Ada, urge the President: suspend the arms sale" in preview.stdout
    assert (
        "The President, The White House\n  Write: https://www.whitehouse.gov/contact/\n"
        "  Call: 202-456-1111\n"
    ) in preview.stdout
    html = cli("letters", "preview", "urge-the-president", "--format", "html").stdout
    assert '<a href="https://www.whitehouse.gov/contact/">Write to The White House</a>' in html


def test_a_template_using_legislator_for_a_target_says_what_a_target_has(
    cli: Invoke, workspace: Path
) -> None:
    toml = workspace / "letters/block-arms-sale/letter.toml"
    added = 'committees = ["SSFR"]\ntargets = ["white-house"]'
    toml.write_text(toml.read_text().replace('committees = ["SSFR"]', added))
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: letters/block-arms-sale/body.html.j2:4: "legislator" is undefined (for '
        "president@whitehouse.example.org, The President (target white-house: templates see it "
        "as recipient and target, not legislator or contact))"
    ]
    assert _jobs(workspace) == 0


def test_example_target_addresses_are_refused_on_a_real_provider(
    cli: Invoke, workspace: Path
) -> None:
    config = workspace / "capitolmail.toml"
    config.write_text(
        config.read_text().replace('name = "file"', 'name = "smtp"')
        + '\n[provider.smtp]\nhost = "127.0.0.1"\nport = 2525\n'
    )
    result = cli("letters", "check", "urge-the-administration")
    assert result.exit_code == 1
    shown = [line for line in result.stderr.splitlines() if "targets.csv" in line]
    assert shown == [
        "Error: recipients/targets.csv:6: email: 2 targets at example domains or with example "
        "values (president@whitehouse.example.org, secretary@state.example.org); use your own, "
        "or set allow_example_values = true in capitolmail.toml to send it through smtp anyway "
        "(for a test relay only)"
    ]
