"""`capitolmail report` on a joint letter sent over SMTP into the aiosmtpd sink, with a
bounce, an office's reply and an auto-reply recorded as the inbound mailbox records them."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys
import threading
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from capitolmail.tracking.events import EventType
from tests.conftest import Invoke, use_smtp_relay
from tests.servers.smtp import running_mail_server

from .conftest import ADDRESS, Elements, figures, mailbox_event, messages, record

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_SUBJECT = "<script>alert('subject')</script>"
FORMULA_NAME = '=HYPERLINK("http://evil.example" "click")'
BOUNCE = (
    "550 5.1.1 <cos.schatz.hi@senate.example.org>: user unknown "
    "<script>alert('bounce')</script> (relay smtp-out.internal.example.net)"
)


@pytest.fixture
def sent(workspace: Path, cli: Invoke) -> dict[str, dict[str, Any]]:
    """The example joint letter, sent through a real SMTP server; messages by address."""
    offices = workspace / "recipients" / "offices.csv"
    text = offices.read_text()
    text = text.replace("Morgan Chen", HOSTILE_NAME).replace(
        "Taylor Fischer", '"' + FORMULA_NAME.replace('"', '""') + '"'
    )
    offices.write_text(text)
    letter = workspace / "letters" / "block-arms-sale" / "letter.toml"
    letter.write_text(
        letter.read_text().replace('subject = "', f'subject = "{HOSTILE_SUBJECT} ', 1)
    )
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        result = cli("worker", "--once")
        assert result.exit_code == 0, result.output
        received = server.received()
    by_address = {m["to"]: m for m in messages(cli)}
    assert len(received) == len(by_address) == 44
    # The replies below answer what the offices really got: the Message-ID on the wire.
    for item in received:
        header = message_from_bytes(item.raw)["Message-ID"]
        (address,) = item.rcpt_tos
        assert header.startswith(f"<{by_address[address]['id']}@")
    return by_address


def _record_outcomes(workspace: Path, sent: dict[str, dict[str, Any]]) -> None:
    record(
        workspace,
        mailbox_event(EventType.BOUNCED, sent["cos.schatz.hi@senate.example.org"], BOUNCE),
        mailbox_event(EventType.REPLIED, sent["fpla.risch.id@senate.example.org"]),
        mailbox_event(EventType.AUTO_REPLIED, sent["cos.shaheen.nh@senate.example.org"]),
        mailbox_event(EventType.AUTO_REPLIED, sent["fpla.shaheen.nh@senate.example.org"]),
    )


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_one_row_per_office_contact_with_names_times_and_outcomes(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]]
) -> None:
    _record_outcomes(workspace, sent)
    result = cli("report", "1")
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert len(rows) == 44
    assert [row["number"] for row in rows] == [str(n) for n in range(1, 45)]
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == set(sent)

    bounced = by_email["cos.schatz.hi@senate.example.org"]
    assert bounced["member"] == "Brian Schatz"
    assert (bounced["title"], bounced["state"], bounced["district"]) == ("Senator", "HI", "HI")
    assert bounced["committee_role"] == "Senate Committee on Foreign Relations: Member"
    assert bounced["contact_role"] == "Chief of Staff"
    assert bounced["status"] == "bounced"
    assert bounced["reason"] == f"bounced: {BOUNCE}"
    assert bounced["bounced_at"] and bounced["sent_at"] and bounced["queued_at"]
    assert bounced["replied_at"] == ""

    replied = by_email["fpla.risch.id@senate.example.org"]
    assert replied["committee_role"] == "Senate Committee on Foreign Relations: Chairman"
    assert replied["replied_at"] and replied["auto_replied_at"] == ""
    assert replied["status"] == "sent"
    ranking = by_email["cos.shaheen.nh@senate.example.org"]
    assert ranking["committee_role"] == "Senate Committee on Foreign Relations: Ranking Member"
    assert ranking["auto_replied_at"] and ranking["replied_at"] == ""

    summary = figures(cli)
    assert summary["offices_targeted"] == 22
    assert summary["offices_reached"] == 22  # Schatz's other contact got it
    assert summary["bounces"] == 1
    assert summary["bounces_by_reason"] == [{"reason": f"bounced: {BOUNCE}", "count": 1}]
    assert (summary["replies"], summary["auto_replies"]) == (1, 2)
    assert summary["counts"] == {"sent": 43, "bounced": 1}

    status = cli("status", "1").stdout
    assert "Offices reached: 22 of 22 targeted" in status
    assert "Replies: 1; auto-replies: 2" in status


def test_csv_cells_that_spreadsheets_would_run_are_neutralised(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]]
) -> None:
    raw = cli("report", "1").stdout
    rows = list(csv.reader(io.StringIO(raw)))
    contacts = [row[8] for row in rows[1:]]
    assert "'" + FORMULA_NAME in contacts
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert not raw.startswith("\ufeff")
    with_bom = cli("report", "1", "--bom").stdout_bytes
    assert with_bom.startswith(b"\xef\xbb\xbf") and with_bom[3:] == raw.encode()


def test_html_escapes_every_hostile_value_and_draws_both_charts(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    _record_outcomes(workspace, sent)
    target = tmp_path / "report.html"
    result = cli("report", "1", "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    page = Elements(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert not any(name.startswith("on") for name, _ in page.attributes)
    text = "".join(page.text)
    assert HOSTILE_NAME in text and "<script>alert('bounce')</script>" in text
    assert HOSTILE_SUBJECT in text
    assert page.tags.count("svg") == 2
    assert 'id="funnel-chart"' in html and 'id="timeline-chart"' in html
    assert "polyline" in page.tags
    assert "Brian Schatz" in text and "22 of 22" in text


def test_pdf_holds_the_summary_and_every_office(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    _record_outcomes(workspace, sent)
    target = tmp_path / "report.pdf"
    result = cli("report", "1", "--format", "pdf", "-o", str(target))
    assert result.exit_code == 0, result.output
    text = " ".join(page.extract_text() for page in PdfReader(target).pages)
    text = " ".join(text.split())
    assert "Delivery report: block-arms-sale" in text
    assert "22 of 22" in text and "offices reached" in text
    assert "Brian Schatz" in text and "James E. Risch" in text
    assert "cos.schatz.hi@senate.example.org" in text  # staff version: addresses kept


def test_the_partner_version_names_no_address_and_none_of_our_infrastructure(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    _record_outcomes(workspace, sent)
    outputs = {
        "csv": cli("report", "1", "--for-partners").stdout,
        "html": cli("report", "1", "--format", "html", "--for-partners").stdout,
    }
    pdf = tmp_path / "partners.pdf"
    assert cli("report", "1", "--format", "pdf", "--for-partners", "-o", str(pdf)).exit_code == 0
    outputs["pdf"] = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    for name, output in outputs.items():
        assert not ADDRESS.search(output), (name, ADDRESS.search(output))
        assert "internal.example.net" not in output and "smtp" not in output.lower(), name
        assert "Morgan Chen" not in output and "Alex Rivera" not in output, name
        assert "Brian Schatz" in " ".join(output.split()), name
    rows = _csv(outputs["csv"])
    assert "email" not in rows[0] and "contact" not in rows[0]
    schatz = [row for row in rows if row["status"] == "bounced"]
    assert [row["reason"] for row in schatz] == [
        "permanent failure 5.1.1 (bad destination mailbox address)"
    ]
    assert "Prepared for coalition partners" in outputs["html"]


def test_an_unknown_job_and_a_bad_format_are_one_line_each(cli: Invoke) -> None:
    missing = cli("report", "7")
    assert missing.exit_code == 1
    assert missing.stderr.count("\n") == 1 and "7" in missing.stderr
    bad = cli("report", "1", "--format", "docx")
    assert bad.exit_code == 2
    assert re.search(r"'docx' is not one of 'csv', 'html', 'pdf'", bad.stderr)


def test_a_report_file_appears_whole_or_not_at_all(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Written as it is read from the outbox, beside its name, and moved into place:
    the folder never holds half a report, nor the temporary file after."""
    folder = tmp_path / "out"
    folder.mkdir()
    streamed = cli("report", "1")
    for fmt in ("csv", "html"):
        target = folder / f"job-1.{fmt}"
        written = cli("report", "1", "--format", fmt, "-o", str(target))
        assert written.exit_code == 0, written.output
        assert f"({target.stat().st_size:,} bytes)" in written.stderr
    assert sorted(path.name for path in folder.iterdir()) == ["job-1.csv", "job-1.html"]
    assert (folder / "job-1.csv").read_text() == streamed.stdout
    assert (folder / "job-1.html").read_text().rstrip().endswith("</html>")
    # A report kept private stays private when it is written again.
    (folder / "job-1.csv").chmod(0o600)
    assert cli("report", "1", "-o", str(folder / "job-1.csv")).exit_code == 0
    assert stat.S_IMODE((folder / "job-1.csv").stat().st_mode) == 0o600

    missing = folder / "no-such-folder" / "job-1.csv"
    refused = cli("report", "1", "-o", str(missing))
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and str(missing) in refused.stderr
    assert sorted(path.name for path in folder.iterdir()) == ["job-1.csv", "job-1.html"]


def test_a_reader_that_stops_early_ends_the_report_quietly(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]]
) -> None:
    """`capitolmail report 1 | head`: the pipe is closed before the report is written;
    the command stops with no traceback, and the stream it was reading from the outbox
    is closed without a word on stderr either."""
    command = [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "report", "1"]
    for fmt in ("csv", "html"):
        process = subprocess.Popen(
            [*command, "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # nothing will read it: every write gets EPIPE
        with process.stderr:
            errors = process.stderr.read().decode()
        assert process.wait(timeout=60) == 1
        assert errors == ""


def test_a_report_to_a_named_pipe_is_written_into_it(
    workspace: Path, cli: Invoke, sent: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """`-o /dev/stdout` or a FIFO: the report goes into it, and it stays what it was."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    written = cli("report", "1", "-o", str(fifo))
    reader.join(timeout=60)
    assert written.exit_code == 0, written.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].decode() == cli("report", "1").stdout
