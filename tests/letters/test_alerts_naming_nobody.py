"""Alerts that cannot name every member of Congress say so, and `check` counts them.

Four supporters beside the worked example's: a ZIP missing from the crosswalk
(99999), a ZIP across a state line (30165, Alabama and Georgia), and, with a
legislators snapshot in which California has one senator and CA-11 nobody (a
vacancy), Ada in San Francisco. Everything goes through the command line and the
file provider, and the test reads what each supporter was sent.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import yaml

from ..conftest import Invoke

DATA = Path(__file__).resolve().parents[2] / "src/capitolmail/recipients/data/congress-legislators"
PADILLA, PELOSI = "P000145", "P000197"
EXTRA_ROWS = (
    "zed@example.net,Zed,Unknown,99999,,,yes,arms-trade\n"
    "ann@example.net,Ann,Border,30165,,,yes,arms-trade\n"
    "gia@example.net,Gia,Given,30165,GA,14,yes,arms-trade\n"
)


@pytest.fixture
def supporters(workspace: Path) -> Path:
    csv = workspace / "recipients" / "supporters.csv"
    csv.write_text(csv.read_text() + EXTRA_ROWS)
    return csv


def _vacate(workspace: Path, *bioguides: str) -> None:
    """Import a legislators snapshot without these members: their seats are vacant."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    people = yaml.load((DATA / "legislators-current.yaml").read_text(), loader)
    kept = [p for p in people if p["id"]["bioguide"] not in bioguides]
    assert len(kept) == len(people) - len(bioguides)
    path = workspace / "vacant.yaml"
    path.write_text(yaml.dump(kept, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))


def _subjects(workspace: Path) -> dict[str, str]:
    parser = BytesParser(policy=policy.default)
    found = {}
    for path in sorted((workspace / ".capitolmail/outbox/1").glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        found[str(message["To"].addresses[0].username)] = str(message["Subject"])
    return found


def _outbox(workspace: Path) -> dict[str, tuple[str, str]]:
    parser = BytesParser(policy=policy.default)
    found = {}
    for path in sorted((workspace / ".capitolmail/outbox/1").glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        assert text is not None and html is not None
        found[str(message["To"].addresses[0].username)] = (
            " ".join(str(text.get_content()).split()),
            str(html.get_content()),
        )
    return found


def test_import_warns_of_each_supporter_it_cannot_place(
    supporters: Path, cli: Invoke, workspace: Path
) -> None:
    result = cli("supporters", "import", str(supporters))

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Read 11 rows from recipients/supporters.csv: 11 new, 0 updated, 0 duplicates merged, "
        "0 rejected."
    )
    assert lines[1:] == [
        "Warning: recipients/supporters.csv:10: postal_code: ZIP 99999 is not in the "
        "ZIP-to-district crosswalk, so this supporter's senators and representative are "
        "unknown and an alert names nobody; fill in the state (and district) column",
        "Warning: recipients/supporters.csv:11: postal_code: ZIP 30165 lies in AL and GA, so "
        "this supporter's senators and representative are unknown and an alert names nobody; "
        "fill in the state (and district) column",
        "Warning: 2 imported supporters cannot be matched to all their members of Congress; "
        "alerts to them say so and `letters check` counts them.",
    ]


def test_check_counts_alerts_that_cannot_name_everyone(
    supporters: Path, cli: Invoke, workspace: Path
) -> None:
    _vacate(workspace, PADILLA, PELOSI)
    assert cli("legislators", "import", str(workspace / "vacant.yaml")).exit_code == 0
    assert cli("supporters", "import", str(supporters)).exit_code == 0

    result = cli("letters", "check", "urge-senators")

    assert result.exit_code == 0, result.stderr
    # From 2027-01-03 on, the 119th Congress's data also earns a stale-data warning
    # (tests/recipients/test_new_congress.py); it is not what this test is about.
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Warning: the ")]
    assert lines == [
        "OK: urge-senators renders 9 alerts (0 to suppressed addresses).",
        "Note: 2 supporters without a known state (a ZIP not in the crosswalk, or one across "
        "a state line): their senators and representative are unknown, so their alert names "
        "nobody and points to senate.gov and house.gov; add their state (and district) to "
        "the supporters file and import it again.",
        "Note: 1 supporter without a known representative (a ZIP split between districts, or "
        "no ZIP): their alert names the senators and asks them to look the representative up.",
        "Note: 1 supporter in vacant seats (a Senate or House seat with nobody in the "
        "legislators data): their alert says the seat is vacant.",
    ]


def test_each_case_reads_sensibly(supporters: Path, cli: Invoke, workspace: Path) -> None:
    _vacate(workspace, PADILLA, PELOSI)
    assert cli("legislators", "import", str(workspace / "vacant.yaml")).exit_code == 0
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    sent = _outbox(workspace)

    for who in ("zed", "ann"):
        text, html = sent[who]
        assert "Please call your members of Congress today" in text
        assert (
            "We could not tell from your ZIP code which state you live in, so we cannot name "
            "your members of Congress. Find your senators at "
            "https://www.senate.gov/senators/senators-contact.htm and your representative at "
            "https://www.house.gov/representatives/find-your-representative, and call their "
            "offices."
        ) in text
        assert "Senator " not in text and "Representative " not in text
        assert "has no senators" not in text
        assert "<ul" not in html
        assert 'href="https://www.senate.gov/senators/senators-contact.htm"' in html

    ada, ada_html = sent["ada"]
    assert "- Senator Adam B. Schiff" in ada
    assert "Padilla" not in ada and "Pelosi" not in ada
    assert (
        "One of California's Senate seats is vacant; there is no senator to call for it until "
        "the seat is filled."
    ) in ada
    assert (
        "Your House seat (CA-11) is vacant, so there is no representative to call until it is "
        "filled."
    ) in ada
    assert "find your representative" not in ada.casefold()
    assert "Your House seat (CA-11) is vacant" in ada_html

    gia, _ = sent["gia"]  # the state and district given: the ZIP across a line does not matter
    assert "- Senator Jon Ossoff" in gia
    assert "GA-14" in gia

    eli, _ = sent["eli"]
    assert "Your ZIP code is split between" in eli
    assert "vacant" not in eli

    subjects = _subjects(workspace)
    assert subjects["ada"] == "Ada, call your senators today: block the arms sale"
    assert subjects["zed"] == "Zed, call Congress today: block the arms sale"
    assert subjects["dee"] == "Dee, call Congress today: block the arms sale"  # DC


def test_a_state_with_one_seat_is_located_without_the_zip(cli: Invoke, workspace: Path) -> None:
    """An unknown ZIP with the state given: an at-large state needs no district."""
    csv = workspace / "recipients" / "supporters.csv"
    csv.write_text(
        "email,first_name,last_name,postal_code,state,consent,tags\n"
        "wy@example.net,Wy,Oming,99999,WY,yes,arms-trade\n"
        "tx@example.net,Tex,Ass,99999,TX,yes,arms-trade\n"
    )
    result = cli("supporters", "import", str(csv))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[1] == (
        "Warning: recipients/supporters.csv:3: postal_code: ZIP 99999 is not in the "
        "ZIP-to-district crosswalk for TX, so this supporter's representative is unknown; fill "
        "in the district column"
    )
    assert cli("queue", "urge-senators").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    sent = _outbox(workspace)
    assert "WY at-large" in sent["wy"][0]
    assert "Find your representative at" in sent["tx"][0]
    assert "- Senator John Cornyn" in sent["tx"][0]
