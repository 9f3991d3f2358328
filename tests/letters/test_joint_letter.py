"""The worked example, end to end: init, queue, send, and what arrives in the outbox."""

from __future__ import annotations

import csv
import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

import yaml
from click.testing import CliRunner

from capitolmail.cli import main

from ..conftest import Invoke
from ..pdfs import attached_pdfs, pdf_text

DATA = Path(__file__).resolve().parents[2] / "src/capitolmail/recipients/data/congress-legislators"

# The example signers.csv, in the order a coalition letter lists them: lead signers,
# national organisations A-Z ignoring "The", then state and local ones the same way.
EXPECTED_SIGNERS = [
    "Example Rights Coalition",
    "Center for Civilian Protection",
    "The Accountability Initiative",
    "Arms Transfer Accountability Project",
    "Campaign for Responsible Foreign Policy",
    "Coalition for Peaceful Diplomacy",
    "Committee for Humanitarian Law",
    "Council on Civilian Harm",
    "Faith Leaders for Peace",
    "Friends of International Law",
    "Global Justice Network",
    "Humanitarian Law Institute",
    "Interfaith Alliance for Peace",
    "Justice & Accountability Forum",
    "League of Peace Educators",
    "National Network for Arms Control",
    "The Peace Research Institute",
    "Physicians for Civilian Safety",
    "Refugee Rights Alliance",
    "Veterans for Diplomacy",
    "Women for Peace and Security",
    "Youth for Human Rights Action",
    "Action Network for Peace (California)",
    "Bay Area Peace Coalition",
    "Chicago Coalition for Human Rights",
    "Colorado Peace Council",
    "Connecticut Interfaith Council",
    "Delaware Human Rights Forum",
    "Idaho Justice Project",
    "Maryland Peace Action Network",
    "Massachusetts Coalition for Peace",
    "Minnesota Advocates for Peace",
    "New Jersey Peace Alliance",
    "Oregon Physicians for Peace",
    "Pittsburgh Interfaith Witness",
    "Texas Human Rights Coalition",
    "The Utah Peace Forum",
    "Virginia Justice Network",
    "Wisconsin Peace Council",
]


def _sfr_members() -> dict[str, str]:
    """Bioguide -> last name of every Foreign Relations member, read straight from the data."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    membership = yaml.load((DATA / "committee-membership-current.yaml").read_text(), loader)
    people = yaml.load((DATA / "legislators-current.yaml").read_text(), loader)
    last_names = {p["id"]["bioguide"]: p["name"]["last"] for p in people}
    return {row["bioguide"]: last_names[row["bioguide"]] for row in membership["SSFR"]}


def _contacts(workspace: Path) -> dict[str, dict[str, str]]:
    with (workspace / "recipients/offices.csv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["email"]: row for row in rows}


def _read(path: Path) -> EmailMessage:
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_demo_sends_one_email_per_committee_office_contact(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    outbox = tmp_path / "demo/.capitolmail/outbox/1"
    assert result.stdout.strip() == str(outbox)

    members = _sfr_members()
    contacts = _contacts(tmp_path / "demo")
    files = sorted(outbox.glob("*.eml"))
    # Every member of the committee has a Chief of Staff and a Foreign Policy LA.
    assert len(files) == 2 * len(members)

    seen: list[tuple[str, str]] = []
    for path in files:
        msg = _read(path)
        to_addr = msg["To"].addresses[0].addr_spec
        contact = contacts[to_addr]
        assert contact["bioguide"] in members
        seen.append((contact["bioguide"], contact["role"]))
        assert msg["To"].addresses[0].display_name == contact["name"]
        assert msg["From"] == "Example Rights Coalition <advocacy@example.org>"
        assert msg["Reply-To"] == "policy@example.org"
        assert msg["Subject"] == "39 organizations urge you to block the pending arms sale"
        assert msg["Date"] is not None
        assert msg["Message-ID"].endswith("@example.org>")
        assert msg["Message-ID"][1:37] in path.name
        # A cover email (text and HTML) with the letter itself as the office's PDF.
        assert msg.get_content_type() == "multipart/mixed"

        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        salutation = f"Dear Senator {members[contact['bioguide']]}:"
        assert text.startswith(salutation + "\n\n")
        assert f"<p>{salutation}</p>" in html
        [(filename, pdf)] = attached_pdfs(msg)
        assert filename == f"coalition-letter-{contact['bioguide']}.pdf"
        letter = pdf_text(pdf)
        assert salutation in letter
        positions = [letter.index(name) for name in EXPECTED_SIGNERS]
        assert positions == sorted(positions)
        # The duplicate row of the lead signer is listed once.
        assert letter.count("Center for Civilian Protection") == 1

    assert sorted(seen) == sorted(
        (bioguide, role) for bioguide in members for role in ("Chief of Staff", "Foreign Policy LA")
    )


def test_queue_send_status_through_the_commands(cli: Invoke, workspace: Path) -> None:
    queued = cli("queue", "block-arms-sale")
    assert queued.exit_code == 0, queued.output
    assert queued.stdout == "1\n"
    members = len(_sfr_members())
    assert (
        f"Queued job 1: {2 * members} messages to {members} offices ({members} senate)"
        in queued.stderr
    )
    assert "Center for Civilian Protection" in queued.stderr  # the dropped duplicate is reported

    status = json.loads(cli("status", "--json").stdout)
    assert status["jobs"][0]["state"] == "draft"
    assert status["jobs"][0]["counts"] == {"queued": 2 * members}

    # Nothing goes out before `send`.
    assert cli("worker", "--once").exit_code == 0
    assert not (workspace / ".capitolmail/outbox").exists()

    assert cli("send", "1").exit_code == 0
    worker = cli("worker", "--once")
    assert worker.exit_code == 0, worker.output
    assert f"sent {2 * members}" in worker.stderr
    assert len(list((workspace / ".capitolmail/outbox/1").glob("*.eml"))) == 2 * members

    status = json.loads(cli("status", "1", "--json", "--messages").stdout)
    [job] = status["jobs"]
    assert job["state"] == "done"
    assert job["counts"] == {"sent": 2 * members}
    assert {m["state"] for m in job["messages"]} == {"sent"}
    assert all(m["provider_message_id"].endswith(".eml") for m in job["messages"])

    # A second worker pass sends nothing again.
    cli("worker", "--once")
    assert len(list((workspace / ".capitolmail/outbox/1").glob("*.eml"))) == 2 * members


def test_queueing_again_is_refused_unless_allowed(cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    again = cli("queue", "block-arms-sale")
    assert again.exit_code == 1
    members = len(_sfr_members())
    assert again.stderr.startswith(
        f"Error: letters/block-arms-sale/letter.toml: {2 * members} recipient(s) already have "
        'letter "block-arms-sale"'
    )
    assert again.stderr.rstrip().endswith("pass --allow-resend to send it to them again")
    assert json.loads(cli("status", "--json").stdout)["jobs"][0]["id"] == 1
    assert cli("queue", "block-arms-sale", "--allow-resend").stdout == "2\n"


def test_cancelled_job_does_not_block_a_new_queue(cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("cancel", "1").exit_code == 0
    assert cli("queue", "block-arms-sale").stdout == "2\n"


def test_dry_run_stores_nothing(cli: Invoke) -> None:
    result = cli("queue", "block-arms-sale", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "nothing stored" in result.stderr
    assert json.loads(cli("status", "--json").stdout) == {"jobs": []}


def test_preview_for_one_office(cli: Invoke) -> None:
    # Cory Booker (B001288) sits on Foreign Relations.
    text = cli("letters", "preview", "block-arms-sale", "--to", "B001288")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == "From: Example Rights Coalition <advocacy@example.org>"
    assert lines[1].endswith("<cos.booker.nj@senate.example.org>")
    assert lines[3] == "Subject: 39 organizations urge you to block the pending arms sale"
    assert lines[5] == "Dear Senator Booker:"

    eml = cli("letters", "preview", "block-arms-sale", "--to", "B001288", "--format", "eml")
    msg = email.message_from_string(eml.stdout, policy=email.policy.default)
    assert msg["Date"] is None  # a preview has not been sent
    assert "Dear Senator Booker:" in msg.get_body(("plain",)).get_content()

    html = cli("letters", "preview", "block-arms-sale", "--to", "B001288", "--format", "html")
    assert "<p>Dear Senator Booker:</p>" in html.stdout

    missing = cli("letters", "preview", "block-arms-sale", "--to", "S000033")  # not on SFRC
    assert missing.exit_code == 1
    assert missing.stderr == (
        'Error: "S000033" is not among the recipients of block-arms-sale; '
        "`capitolmail letters check` lists the offices\n"
    )


def test_check_renders_everything_and_stores_nothing(cli: Invoke, workspace: Path) -> None:
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 0, result.output
    members = len(_sfr_members())
    assert f"OK: block-arms-sale renders {2 * members} messages to {members} offices." in (
        result.stderr
    )
    assert not (workspace / ".capitolmail/capitolmail.db").exists()
