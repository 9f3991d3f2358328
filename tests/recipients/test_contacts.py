"""recipients/offices.csv: loading, validating and importing office contacts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import capitolmail
from capitolmail.errors import InputError
from capitolmail.recipients.contacts import (
    ContactImport,
    OfficeContact,
    import_contacts,
    load_contacts,
)
from capitolmail.recipients.legislators import Roster

EXAMPLE = Path(capitolmail.__file__).parent / "example" / "recipients" / "offices.csv"

GOOD = """\
# Our contacts on the Hill.
# Kept by the policy team.
bioguide,email,name,role
S000033,cos.sanders@Senate.EXAMPLE.org,Alex Rivera,Chief of Staff
w000800,fpla.welch@senate.example.org,,Foreign Policy LA
"""

# Line numbers on the right; lines 1-3 are comments and the header.
BAD = """\
# Contacts to import.
bioguide,email,name,role
S000033,cos.sanders@senate.example.org,Alex Rivera,Chief of Staff
X999999,someone@senate.example.org,Sam,Chief of Staff
W000800,not-an-address,Jo,Foreign Policy LA
B001318,lc.balint@house.example.org,Kim,
B001318,lc.balint@house.example.org,Kim,Legislative Correspondent
B001318,LC.balint@HOUSE.example.org,Kim Again,Scheduler
W000800,fpla.welch@senate.example.org,"Two
Lines",Foreign Policy LA
W000800,extra@senate.example.org,Pat,LA,surplus
,,Nobody,Intern
"""
# 1 comment, 2 header, 3 good, 4 unknown bioguide, 5 bad email, 6 empty role,
# 7 good, 8 duplicate of 7 (case-insensitive), 9-10 name with a line break,
# 11 one field too many, 12 empty bioguide and email.
EXPECTED_BAD = [
    (4, "bioguide"),
    (5, "email"),
    (6, "role"),
    (8, "email"),
    (9, "name"),
    (11, None),
    (12, "bioguide"),
    (12, "email"),
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_example_workspace_contacts_load(roster: Roster) -> None:
    contacts = load_contacts(EXAMPLE, roster, display_path="recipients/offices.csv")
    assert len(contacts) > 10
    assert all(roster.get(contact.bioguide) for contact in contacts)
    assert contacts[0].line == 4  # two comment lines and the header come first


def test_contacts_are_normalised_and_keep_real_line_numbers(tmp_path: Path, roster: Roster) -> None:
    contacts = load_contacts(write(tmp_path / "offices.csv", GOOD), roster, display_path="o.csv")
    assert contacts == [
        OfficeContact(
            "S000033", "cos.sanders@senate.example.org", "Alex Rivera", "Chief of Staff", 4
        ),
        OfficeContact("W000800", "fpla.welch@senate.example.org", "", "Foreign Policy LA", 5),
    ]


def test_every_bad_row_is_reported_with_line_and_field(tmp_path: Path, roster: Roster) -> None:
    path = write(tmp_path / "offices.csv", BAD)
    with pytest.raises(InputError) as caught:
        load_contacts(path, roster, display_path="recipients/offices.csv")
    problems = caught.value.problems
    assert [(p.line, p.field) for p in problems] == EXPECTED_BAD
    assert {p.path for p in problems} == {"recipients/offices.csv"}
    by_line = {p.line: p.message for p in problems}
    assert 'unknown bioguide id "X999999"' in by_line[4]
    assert '"not-an-address" is not a valid address' in by_line[5]
    assert "line 7" in by_line[8]
    assert "has 5 fields but the header has 4" in by_line[11]
    assert str(problems[0]).startswith("recipients/offices.csv:4: bioguide: unknown bioguide id")


def test_header_must_name_exactly_the_four_columns(tmp_path: Path, roster: Roster) -> None:
    path = write(tmp_path / "offices.csv", "# note\nbioguide,e-mail,name,role,notes\n")
    with pytest.raises(InputError) as caught:
        load_contacts(path, roster, display_path="offices.csv")
    found = [(p.line, p.field) for p in caught.value.problems]
    assert found == [(2, "e-mail"), (2, "notes"), (2, "email")]
    messages = [p.message for p in caught.value.problems]
    assert messages[0].startswith('unknown column "e-mail" (did you mean "email"?)')
    assert messages[2].startswith('missing column "email"')


def test_missing_contacts_file_says_how_to_create_it(tmp_path: Path, roster: Roster) -> None:
    with pytest.raises(InputError, match="contacts import"):
        load_contacts(tmp_path / "offices.csv", roster, display_path="recipients/offices.csv")


def test_import_with_bad_rows_writes_nothing(tmp_path: Path, roster: Roster) -> None:
    destination = write(tmp_path / "recipients" / "offices.csv", GOOD)
    before = destination.read_bytes()
    source = write(tmp_path / "new.csv", BAD)

    with pytest.raises(InputError) as caught:
        import_contacts(source, destination, roster, skip_invalid=False, display_path="new.csv")

    assert [(p.line, p.field) for p in caught.value.problems] == EXPECTED_BAD
    assert destination.read_bytes() == before
    assert sorted(p.name for p in destination.parent.iterdir()) == ["offices.csv"]


def test_import_skipping_invalid_rows_writes_good_rows_and_rejects(
    tmp_path: Path, roster: Roster
) -> None:
    destination = tmp_path / "ws" / "recipients" / "offices.csv"
    source = write(tmp_path / "new.csv", BAD)

    result = import_contacts(source, destination, roster, skip_invalid=True, display_path="new.csv")

    rejects = destination.with_name("offices.rejects.csv")
    assert result == ContactImport(
        written=2, rejected=7, rejects_path=rejects, problems=result.problems
    )
    assert [(p.line, p.field) for p in result.problems] == EXPECTED_BAD
    assert destination.read_text(encoding="utf-8") == (
        "# Contacts to import.\n"
        "bioguide,email,name,role\n"
        "S000033,cos.sanders@senate.example.org,Alex Rivera,Chief of Staff\n"
        "B001318,lc.balint@house.example.org,Kim,Legislative Correspondent\n"
    )
    with rejects.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["line"] for row in rows] == ["4", "5", "6", "8", "9", "11", "12"]
    assert list(rows[0]) == ["bioguide", "email", "name", "role", "line", "field", "reason"]
    assert rows[0]["bioguide"] == "X999999" and rows[0]["field"] == "bioguide"
    assert rows[4]["name"] == "Two\nLines"
    assert rows[6]["field"] == "bioguide; email"
    assert "unknown bioguide id" in rows[0]["reason"]
    again = load_contacts(destination, roster, display_path="recipients/offices.csv")
    assert [(c.bioguide, c.line) for c in again] == [("S000033", 3), ("B001318", 4)]


def test_import_puts_columns_in_canonical_order_and_keeps_existing_comment(
    tmp_path: Path, roster: Roster
) -> None:
    destination = write(tmp_path / "offices.csv", GOOD)
    source = write(
        tmp_path / "export.csv",
        "\ufeffrole,name,email,bioguide\r\n"
        "Chief of Staff,Alex Rivera,COS@Senate.example.org,s000033\r\n",
    )
    result = import_contacts(source, destination, roster, skip_invalid=False, display_path="x")
    assert (result.written, result.rejected, result.rejects_path) == (1, 0, None)
    assert destination.read_text(encoding="utf-8") == (
        "# Our contacts on the Hill.\n"
        "# Kept by the policy team.\n"
        "bioguide,email,name,role\n"
        "S000033,COS@senate.example.org,Alex Rivera,Chief of Staff\n"
    )


def test_import_refuses_to_empty_the_contacts(tmp_path: Path, roster: Roster) -> None:
    destination = write(tmp_path / "offices.csv", GOOD)
    before = destination.read_bytes()
    source = write(tmp_path / "bad.csv", "bioguide,email,name,role\nX999999,a@example.org,,LA\n")
    with pytest.raises(InputError, match="no valid contact rows"):
        import_contacts(source, destination, roster, skip_invalid=True, display_path="bad.csv")
    assert destination.read_bytes() == before
    assert not destination.with_name("offices.rejects.csv").exists()
