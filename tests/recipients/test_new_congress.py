"""The new Congress, through the command line: a stale-data warning, and an import in
which a member left and committees changed.

Two tiny checkouts are written by tests/recipients/synthetic.py: one of the
Congress before today's (the data a workspace would have in January of an odd
year) and one of the Congress in session. Dates come from the test's own oracle,
so the tests mean the same whatever day they run.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from capitolmail.recipients.congress import congress_on, data_congress, ordinal
from capitolmail.recipients.legislators import load_roster

from ..conftest import Invoke
from .synthetic import (
    ALICE,
    BOB,
    CARA,
    DAN,
    EVE,
    FAY,
    congress_in_session,
    start_of,
    write_checkout,
)

TODAY = datetime.now(UTC).date()
CURRENT = congress_in_session(TODAY)
OFFICES = (
    "bioguide,email,name,role\n"
    "A000901,cos.able@senate.example.org,Ann Aide,Chief of Staff\n"
    "A000901,fpla.able@senate.example.org,Al Aide,Foreign Policy LA\n"
    "B000902,fpla.baker@senate.example.org,Bea Aide,Foreign Policy LA\n"
    "C000903,cos.cole@senate.example.org,Cy Aide,Chief of Staff\n"
    "D000904,cos.doe@mail.house.example.gov,Di Aide,Chief of Staff\n"
)


def _ours(stderr: str) -> list[str]:
    """The lines this test is about: not the worked example's note on a duplicate signer."""
    return [line for line in stderr.splitlines() if not line.startswith("Note: letters/")]


def _old(tmp_path: Path) -> Path:
    """The previous Congress: Alice and Bob on Foreign Relations, Cara on Armed Services."""
    members = [ALICE, BOB, CARA, DAN, EVE]
    seats = {"SSFR": [ALICE, BOB], "SSAS": [CARA], "HSFA": [DAN, EVE]}
    return write_checkout(tmp_path / "old-checkout", members, seats, congress=CURRENT - 1)


def _new(tmp_path: Path) -> Path:
    """Today's Congress: Alice left, Fay took her seat on Foreign Relations, Armed Services
    is gone from the data and Ethics is new."""
    members = [BOB, CARA, DAN, EVE, FAY]
    seats = {"SSFR": [BOB, FAY], "SLET": [CARA], "HSFA": [DAN, EVE]}
    return write_checkout(tmp_path / "new-checkout", members, seats, congress=CURRENT)


def _stale_warning(workspace: Path) -> str:
    data = workspace.resolve() / "recipients" / "legislators"
    return (
        f"Warning: the legislators data ({data}; imported {TODAY.isoformat()}, newest term "
        f"start {start_of(CURRENT - 1).isoformat()}) is of the {ordinal(CURRENT - 1)} "
        f"Congress, but the {ordinal(CURRENT)} has been in session since "
        f"{start_of(CURRENT).isoformat()}; members who left are still in it and new members "
        "are missing. Update it: capitolmail legislators import PATH-TO-congress-legislators"
    )


@pytest.fixture
def old_congress(cli: Invoke, workspace: Path, tmp_path: Path) -> Path:
    """A workspace on the previous Congress's data, with contacts for its members."""
    result = cli("legislators", "import", str(_old(tmp_path)))
    assert result.exit_code == 0, result.output
    (workspace / "recipients" / "offices.csv").write_text(OFFICES, encoding="utf-8")
    return workspace


def test_data_of_an_earlier_congress_is_warned_about_on_one_line(
    cli: Invoke, old_congress: Path
) -> None:
    warning = _stale_warning(old_congress)
    listed = cli("legislators", "list")
    assert listed.exit_code == 0
    assert listed.stderr.splitlines()[-1] == warning
    checked = cli("letters", "check", "block-arms-sale")
    assert checked.exit_code == 0, checked.output
    assert _ours(checked.stderr) == [
        "OK: block-arms-sale renders 3 messages to 2 offices.",
        warning,
    ]


def test_the_first_import_lists_who_left_and_warns_that_it_is_still_stale(
    cli: Invoke, workspace: Path, tmp_path: Path
) -> None:
    result = cli("legislators", "import", str(_old(tmp_path)))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Imported 5 legislators and 3 committees and subcommittees into recipients/legislators/ "
        f"(the {ordinal(CURRENT - 1)} Congress, newest term start "
        f"{start_of(CURRENT - 1).isoformat()})."
    )
    assert lines[1] == (
        "Note: the imported data looks older than what it replaced (newest term start "
        f"{start_of(CURRENT - 1).isoformat()}, before 2026-06-10); check the checkout is up "
        "to date"
    )
    assert lines[2] == "Left since the previous data (537):"
    assert lines[3] == "  Maria Cantwell (C000127, Sen. WA)"  # the first in the packaged file
    assert lines[540] == (
        "Arrived (5): Alice Able (A000901, Sen. TX), Bob Baker (B000902, Sen. TX), Cara Cole "
        "(C000903, Sen. VT), Dan Doe (D000904, Rep. TX-23), Eve Eng (E000905, Rep. VT at-large)."
    )
    # The worked example's contacts are all of members the new data no longer has.
    assert lines[542].startswith("Office contacts of members no longer serving (")
    assert lines[-1] == _stale_warning(workspace)


def test_a_member_who_left_is_reported_and_never_sent_to(
    cli: Invoke, old_congress: Path, tmp_path: Path
) -> None:
    workspace = old_congress
    result = cli("legislators", "import", str(_new(tmp_path)))

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Imported 5 legislators and 3 committees and subcommittees into recipients/legislators/ "
        f"(the {ordinal(CURRENT)} Congress, newest term start {start_of(CURRENT).isoformat()}).",
        "Left since the previous data (1):",
        "  Alice Able (A000901, Sen. TX)",
        "Arrived (1): Fay Fox (F000906, Sen. TX).",
        "Committees: 1 added (SLET Select Committee on Ethics); 1 removed (SSAS Committee on "
        "Armed Services); 1 with changed members (SSFR Committee on Foreign Relations).",
        "Office contacts of members no longer serving (2); they are not sent to, and letters "
        "note them until you delete the rows:",
        "  recipients/offices.csv:2: Alice Able (A000901, Sen. TX): cos.able@senate.example.org "
        "(Chief of Staff)",
        "  recipients/offices.csv:3: Alice Able (A000901, Sen. TX): fpla.able@senate.example.org "
        "(Foreign Policy LA)",
    ]
    record = json.loads((workspace / "recipients/legislators/imported.json").read_text())
    assert [entry["bioguide"] for entry in record["departed"] if entry["bioguide"] == "A000901"]
    assert "F000906" not in {entry["bioguide"] for entry in record["departed"]}

    listed = cli("legislators", "list", "--committee", "SSFR", "--format", "json")
    assert [row["bioguide"] for row in json.loads(listed.stdout)] == ["B000902", "F000906"]
    assert "Warning" not in listed.stderr

    checked = cli("letters", "check", "block-arms-sale")
    assert checked.exit_code == 0, checked.output
    assert _ours(checked.stderr) == [
        "Note: no contact for Fay Fox (F000906); this office gets nothing",
        f"Note: Alice Able (A000901, Sen. TX) is no longer serving (gone from the data imported "
        f"{TODAY.isoformat()}); 2 contacts in recipients/offices.csv (lines 2, 3) not sent to; "
        "delete them",
        "OK: block-arms-sale renders 1 messages to 2 offices.",
    ]

    queued = cli("queue", "block-arms-sale")
    assert queued.exit_code == 0, queued.output
    assert _ours(queued.stderr)[1].startswith("Note: Alice Able (A000901, Sen. TX) is no")
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    job = json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]
    assert [m["to"] for m in job["messages"]] == ["fpla.baker@senate.example.org"]
    sent = sorted((workspace / ".capitolmail" / "outbox" / "1").glob("*.eml"))
    assert len(sent) == 1
    message = BytesParser(policy=policy.default).parsebytes(sent[0].read_bytes())
    assert message["To"] == "Bea Aide <fpla.baker@senate.example.org>"


def test_an_audience_naming_a_member_who_left_says_so(
    cli: Invoke, old_congress: Path, tmp_path: Path
) -> None:
    assert cli("legislators", "import", str(_new(tmp_path))).exit_code == 0
    letter = old_congress / "letters" / "block-arms-sale" / "letter.toml"
    letter.write_text(letter.read_text().replace('committees = ["SSFR"]', 'include = ["A000901"]'))
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: letters/block-arms-sale/letter.toml: audience.include: Alice Able (A000901, Sen. "
        f"TX) is no longer serving (gone from the legislators data imported {TODAY.isoformat()}); "
        "remove the id\n"
    )


def test_importing_contacts_of_a_member_who_left_is_refused(
    cli: Invoke, old_congress: Path, tmp_path: Path
) -> None:
    assert cli("legislators", "import", str(_new(tmp_path))).exit_code == 0
    before = (old_congress / "recipients" / "offices.csv").read_bytes()
    source = tmp_path / "contacts.csv"
    source.write_text(OFFICES, encoding="utf-8")
    result = cli("contacts", "import", str(source))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"Error: {source}:2: bioguide: Alice Able (A000901, Sen. TX) is no longer serving (gone "
        f"from the legislators data imported {TODAY.isoformat()}); delete the row",
        f"Error: {source}:3: bioguide: Alice Able (A000901, Sen. TX) is no longer serving (gone "
        f"from the legislators data imported {TODAY.isoformat()}); delete the row",
    ]
    assert (old_congress / "recipients" / "offices.csv").read_bytes() == before


def test_a_member_who_comes_back_is_serving_again(
    cli: Invoke, old_congress: Path, tmp_path: Path
) -> None:
    assert cli("legislators", "import", str(_new(tmp_path))).exit_code == 0
    back = cli("legislators", "import", str(_old(tmp_path / "again")))
    assert back.exit_code == 0, back.output
    assert "Arrived (1): Alice Able (A000901, Sen. TX)." in back.stderr.splitlines()
    record = json.loads((old_congress / "recipients/legislators/imported.json").read_text())
    departed = {entry["bioguide"] for entry in record["departed"]}
    assert "A000901" not in departed and "F000906" in departed
    checked = cli("letters", "check", "block-arms-sale")
    assert "OK: block-arms-sale renders 3 messages to 2 offices." in checked.stderr


# -- hostile and broken checkouts: one line naming the file and the entry, nothing written --


def _edit(folder: Path, name: str, old: str, new: str) -> Path:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"


@pytest.mark.parametrize(
    ("name", "old", "new", "error"),
    [
        (
            "legislators-current.yaml",
            "    last: Baker\n",
            "",
            "legislators-current.yaml:{line}: name.last: B000902 has no name.last",
        ),
        (
            "legislators-current.yaml",
            "    first: Bob\n",
            "    first: [Bob, Robert]\n",
            "legislators-current.yaml:{line}: name.first: B000902 has no name.first",
        ),
        (
            "committees-current.yaml",
            "  name: Committee on Armed Services\n",
            "",
            'committees-current.yaml:{line}: name: committee "SSAS" has no name',
        ),
        (
            "committee-membership-current.yaml",
            "  bioguide: C000903\n",
            "",
            "committee-membership-current.yaml:{line}: bioguide: SSAS: member row has no "
            "bioguide id",
        ),
        (
            "committees-current.yaml",
            "- type: senate\n",
            "- &one type: senate\n  other: *one\n",
            "committees-current.yaml:2: YAML aliases (*name) are not accepted in "
            "congress-legislators files; re-download the file from upstream",
        ),
        (
            "committee-membership-current.yaml",
            "SSFR:\n",
            "x: " + "[" * 200 + "]" * 200 + "\nSSFR:\n",
            "committee-membership-current.yaml:1: nested more than 20 levels deep; this is "
            "not a congress-legislators file",
        ),
    ],
)
def test_a_broken_checkout_is_one_line_and_nothing_is_written(
    cli: Invoke, workspace: Path, tmp_path: Path, name: str, old: str, new: str, error: str
) -> None:
    checkout = _old(tmp_path)
    _edit(checkout, name, old, new)
    result = cli("legislators", "import", str(checkout))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    pattern = re.escape(f"Error: {checkout}/{error}").replace(re.escape("{line}"), r"\d+")
    assert re.fullmatch(pattern, line), line
    assert not (workspace / "recipients" / "legislators").exists()


def test_an_alias_bomb_and_an_oversized_file_are_refused_before_parsing(
    cli: Invoke, workspace: Path, tmp_path: Path
) -> None:
    checkout = _old(tmp_path)
    (checkout / "committee-membership-current.yaml").write_text(BOMB, encoding="utf-8")
    result = cli("legislators", "import", str(checkout))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {checkout}/committee-membership-current.yaml:2: YAML aliases (*name) are not "
        "accepted in congress-legislators files; re-download the file from upstream\n"
    )
    huge = checkout / "legislators-current.yaml"
    with huge.open("r+b") as handle:
        handle.truncate(40_000_000)  # sparse: costs no disk, and is never read
    result = cli("legislators", "import", str(checkout))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {huge}: is 40 MB, more than the 32 MB a congress-legislators file may be "
        "(the largest is about 1 MB); is it the right file?\n"
    )
    assert not (workspace / "recipients" / "legislators").exists()


# -- the arithmetic, on fixed dates --------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "congress"),
    [
        (date(2025, 1, 2), 118),
        (date(2025, 1, 3), 119),
        (date(2026, 6, 15), 119),
        (date(2026, 12, 31), 119),
        (date(2027, 1, 2), 119),
        (date(2027, 1, 3), 120),
        (date(1789, 3, 4), 1),
    ],
)
def test_the_congress_in_session(day: date, congress: int) -> None:
    assert congress_on(day) == congress == congress_in_session(day)


def test_the_packaged_snapshot_is_of_the_119th_congress() -> None:
    assert data_congress(load_roster()) == 119
    assert [ordinal(n) for n in (1, 2, 3, 11, 12, 13, 21, 101, 111, 119, 122)] == [
        "1st", "2nd", "3rd", "11th", "12th", "13th", "21st", "101st", "111th", "119th", "122nd",
    ]  # fmt: skip


def test_a_job_queued_before_the_import_is_named_with_its_unsent_messages(
    cli: Invoke, old_congress: Path, tmp_path: Path
) -> None:
    queued = cli("queue", "block-arms-sale")
    assert queued.exit_code == 0, queued.output
    before = cli("status", "1", "--json", "--messages").stdout

    result = cli("legislators", "import", str(_new(tmp_path)))

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == (
        "Warning: job 1 has 2 unsent messages to offices of members no longer serving; they go "
        "out unless you run `capitolmail cancel 1` and queue the letter again"
    )
    assert cli("status", "1", "--json", "--messages").stdout == before  # reported, not changed
