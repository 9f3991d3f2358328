"""`capitolmail supporters …` and `capitolmail suppress …`: exact output and what is stored."""

from __future__ import annotations

import json
from pathlib import Path

from capitolmail.config import load_settings
from capitolmail.outbox import Store

from .conftest import Invoke

HEADER = "email,first_name,last_name,postal_code,consent,tags\n"


def _store(workspace: Path) -> Store:
    return Store.open(load_settings(workspace).database_url_for(workspace))


def test_supporters_import_prints_the_summary_and_writes_the_report(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "recipients" / "supporters.csv"
    source.write_text(
        HEADER
        + "jane@example.org,Jane,Doe,10001,2024-05-01,volunteer\n"
        + "bad-address,X,Y,10001,yes,\n"
        + "JANE@example.org,Jane,Doe,10001,yes,donor\n",
        encoding="utf-8",
    )
    report = workspace / "rejected.csv"

    result = cli("supporters", "import", str(source), "--report", str(report))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Read 3 rows from recipients/supporters.csv: 1 new, 0 updated, 1 duplicate merged, "
        "1 rejected.",
        'Rejected: recipients/supporters.csv:3: email: "bad-address" is not a valid address '
        "(An email address must have an @-sign); correct it",
        "Rejected rows (with line, field and reason) are in rejected.csv; fix them there and "
        "import that file.",
    ]
    assert report.read_text(encoding="utf-8").splitlines()[1].startswith("bad-address,X,Y,10001,")
    with _store(workspace) as store:
        (jane,) = store.list_supporters()
    assert (jane.email, jane.state, jane.district, jane.tags) == (
        "JANE@example.org",
        "NY",
        None,
        ("volunteer", "donor"),
    )


def test_supporters_import_reports_beside_the_workspace_state_by_default(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "s.csv"
    source.write_text(HEADER + "nope,A,B,10001,yes,\n", encoding="utf-8")
    result = cli("supporters", "import", str(source))
    assert result.exit_code == 0
    (report,) = (workspace / ".capitolmail" / "reports").glob("supporters-rejected-*.csv")
    assert f"are in .capitolmail/reports/{report.name};" in result.stderr


def test_supporters_import_refuses_a_file_without_a_required_column(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "s.csv"
    source.write_text("email,first_name,last_name,consent\na@example.org,A,B,yes\n")
    result = cli("supporters", "import", str(source))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: s.csv:1: missing column "postal_code"; the header needs '
        "email,first_name,last_name,postal_code,consent (and may have state,district,tags), "
        'or name it with --map postal_code="…"; nothing was imported'
    ]
    with _store(workspace) as store:
        assert store.count_supporters() == 0


def test_supporters_list(cli: Invoke, workspace: Path) -> None:
    source = workspace / "s.csv"
    source.write_text(
        HEADER
        + "jane@example.org,Jane,Doe,19901,2024-05-01,a;b\nsam@example.org,Sam,Lee,10001,no,\n"
    )
    cli("supporters", "import", str(source))
    result = cli("supporters", "list", "--limit", "1")
    assert result.exit_code == 0
    assert "jane@example.org" in result.stdout and "2024-05-01" in result.stdout
    assert "sam@example.org" not in result.stdout
    assert result.stderr == "1 of 2 supporters\n"


def test_suppress_add_list_remove(cli: Invoke, workspace: Path) -> None:
    assert cli("suppress", "add", "Jane@Example.ORG", "--reason", "unsubscribe").stderr == (
        "Suppressed Jane@example.org (unsubscribe).\n"
    )
    assert cli("suppress", "add", "bob@example.org", "--detail", "asked by phone").exit_code == 0

    listed = json.loads(cli("suppress", "list", "--json").stdout)
    assert [(e["email"], e["reason"], e["detail"]) for e in listed] == [
        ("bob@example.org", "manual", "asked by phone"),
        ("Jane@example.org", "unsubscribe", None),
    ]
    table = cli("suppress", "list")
    assert "Jane@example.org" in table.stdout and table.stderr == "2 suppressed addresses\n"

    assert cli("suppress", "remove", "jane@example.org").stderr == (
        "Removed jane@example.org from the suppression list.\n"
    )
    again = cli("suppress", "remove", "jane@example.org")
    assert again.exit_code == 1
    assert again.stderr == (
        'Error: jane@example.org is not on the suppression list; "capitolmail suppress list" '
        "shows it\n"
    )
    with _store(workspace) as store:
        assert store.suppressed_among(["JANE@example.org", "BOB@example.org"]) == {
            "bob@example.org"
        }


def test_suppress_add_refuses_a_bad_address_or_reason(cli: Invoke) -> None:
    bad = cli("suppress", "add", "not-an-address")
    assert bad.exit_code == 1
    assert bad.stderr == (
        'Error: "not-an-address" is not a valid address (An email address must have an @-sign)\n'
    )
    assert cli("suppress", "add", "a@example.org", "--reason", "whim").exit_code == 2
    assert json.loads(cli("suppress", "list", "--json").stdout) == []


def test_suppress_import(cli: Invoke, workspace: Path) -> None:
    source = workspace / "suppressed.csv"
    source.write_text("email,reason\na@example.org,bounce\nb@example.org,\n", encoding="utf-8")
    result = cli("suppress", "import", str(source))
    assert result.exit_code == 0
    assert result.stderr == "Suppressed 2 addresses from suppressed.csv (2 rows).\n"
    listed = json.loads(cli("suppress", "list", "--json").stdout)
    assert [(e["email"], e["reason"]) for e in listed] == [
        ("a@example.org", "bounce"),
        ("b@example.org", "manual"),
    ]

    source.write_text("email\nnope\n", encoding="utf-8")
    refused = cli("suppress", "import", str(source))
    assert refused.exit_code == 1
    assert refused.stderr.startswith('Error: suppressed.csv:2: email: "nope" is not a valid')
