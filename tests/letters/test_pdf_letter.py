"""The joint letter as a PDF on letterhead, checked through the commands a GR team types.

pypdf reads what arrived (the .eml outbox, the SMTP server's mailbox, the SendGrid
stand-in's payloads) and what `letters preview --format pdf` and `letters pdf` wrote.
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import create_engine, func, select

from capitolmail.outbox.schema import attachments

from ..conftest import Invoke, use_smtp_relay
from ..pdfs import attached_pdfs, fonts, page_count, pdf_text, read_message
from ..servers.smtp import running_mail_server

LETTER = Path("letters/block-arms-sale")
SRC = Path(__file__).resolve().parents[2] / "src"
BOOKER = "B001288"  # Cory Booker sits on Foreign Relations
MEMBERS = 22  # of the committee: two contacts each in the example
# signers.csv's organisations as the letter lists them (the duplicate row dropped).
LEAD = ("Example Rights Coalition", "Center for Civilian Protection")


def _signers(workspace: Path) -> list[str]:
    lines = (workspace / LETTER / "signers.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines if line and not line.startswith("#")][1:]
    return sorted({row[0] for row in rows})


def _today() -> str:
    day = datetime.now(ZoneInfo("America/New_York"))
    return f"{day:%B} {day.day}, {day.year}"


def _send(cli: Invoke, workspace: Path) -> list[Path]:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    worker = cli("worker", "--once")
    assert worker.exit_code == 0, worker.output
    return sorted((workspace / ".capitolmail/outbox/1").glob("*.eml"))


def _fix_date(workspace: Path, day: str = "2026-12-01") -> None:
    toml = workspace / LETTER / "letter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f"date = {day}\n", encoding="utf-8")


def test_each_office_gets_a_cover_email_with_its_own_pdf(cli: Invoke, workspace: Path) -> None:
    files = _send(cli, workspace)
    assert len(files) == 2 * MEMBERS
    signers = _signers(workspace)
    by_office: dict[str, bytes] = {}
    for path in files:
        message = read_message(path.read_bytes())
        assert message.get_content_type() == "multipart/mixed"
        [(filename, pdf)] = attached_pdfs(message)
        cover = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        salutation = cover.splitlines()[0]
        assert salutation.startswith("Dear Senator ") and salutation.endswith(":")
        assert "Attached is a letter from 39 organizations" in cover
        assert filename.startswith("coalition-letter-") and filename.endswith(".pdf")
        bioguide = filename.removeprefix("coalition-letter-").removesuffix(".pdf")
        # The two contacts of one office get the same bytes.
        assert by_office.setdefault(bioguide, pdf) == pdf

        text = pdf_text(pdf)
        assert salutation in text
        assert "United States Senate" in text
        assert "Washington, DC 20510" in text
        assert _today() in text
        assert "RE: Pending sale of precision-guided munitions" in text
        for organisation in signers:
            assert organisation in text, (filename, organisation)
        assert 1 <= page_count(pdf) <= 3
        assert f"Page 1 of {page_count(pdf)}" in text
        used = fonts(pdf)
        assert used and all(used.values()), used
        # The letterhead's serif: Liberation where installed (CI installs it), else DejaVu.
        assert any("Liberation-Serif" in name or "DejaVuSerif" in name for name in used), used
    assert len(by_office) == MEMBERS


def test_the_addressee_block_and_signer_groups_of_one_office(cli: Invoke, workspace: Path) -> None:
    out = workspace / "booker.pdf"
    result = cli("letters", "preview", "block-arms-sale", "--to", BOOKER, "--format", "pdf",
                 "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    text = pdf_text(out.read_bytes())
    block = "The Honorable Cory A. Booker United States Senate"
    assert block in text
    assert text.index(block) < text.index("Dear Senator Booker:")
    assert "Hart Senate Office Building Washington, DC 20510" in text
    lead, national, local = (
        text.index("LEAD ORGANIZATIONS"),
        text.index("NATIONAL ORGANIZATIONS"),
        text.index("STATE AND LOCAL ORGANIZATIONS"),
    )
    assert lead < national < local
    assert lead < text.index(LEAD[1]) < national
    assert local < text.index("Action Network for Peace (California)")
    assert "Jordan Avery, Director of Government Relations" in text
    # The text preview says what is attached.
    shown = cli("letters", "preview", "block-arms-sale", "--to", BOOKER).stdout.splitlines()
    assert shown[-1].startswith(f"[attached: coalition-letter-{BOOKER}.pdf, application/pdf, ")


def test_the_stored_attachment_is_byte_identical_to_the_preview(
    cli: Invoke, workspace: Path
) -> None:
    _fix_date(workspace)
    files = _send(cli, workspace)
    booker = [p for p in files if "booker" in p.name]
    assert len(booker) == 2
    # The preview runs in a process of its own: nothing it makes is shared with the queue.
    preview = workspace / "preview.pdf"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(
        [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "letters",
         "preview", "block-arms-sale", "--to", BOOKER, "--format", "pdf", "-o", str(preview)],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    for path in booker:
        [(_, sent)] = attached_pdfs(read_message(path.read_bytes()))
        assert sent == preview.read_bytes()
    assert "December 1, 2026" in pdf_text(preview.read_bytes())
    # One copy of each office's PDF is stored, however many contacts carry it.
    engine = create_engine(f"sqlite:///{workspace / '.capitolmail/capitolmail.db'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attachments)).scalar() == MEMBERS
    engine.dispose()


def test_one_shared_pdf_for_the_whole_letter(cli: Invoke, workspace: Path) -> None:
    toml = workspace / LETTER / "letter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "per_office = false\n", encoding="utf-8")
    pdf = workspace / LETTER / "letter.pdf.html.j2"
    pdf.write_text(
        pdf.read_text(encoding="utf-8").replace(
            "{% block body %}", "{% block body %}<p>Dear Members of the Committee:</p>"
        ),
        encoding="utf-8",
    )
    files = _send(cli, workspace)
    sent = {attached_pdfs(read_message(p.read_bytes()))[0] for p in files}
    assert len(sent) == 1
    [(filename, data)] = sent
    assert filename == "coalition-letter.pdf"
    text = pdf_text(data)
    assert "Dear Members of the Committee:" in text
    assert "The Honorable" not in text


def test_the_pdf_reaches_a_real_smtp_server(cli: Invoke, workspace: Path) -> None:
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").exit_code == 0
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    assert len(received) == 2 * MEMBERS
    for item in received:
        [(_, data)] = attached_pdfs(item.message)
        assert data.startswith(b"%PDF-")
        assert "Dear Senator" in pdf_text(data)


def test_the_pdf_reaches_sendgrid_as_a_base64_attachment(
    cli: Invoke, workspace: Path, sendgrid: object
) -> None:
    out = workspace / "booker.pdf"
    cli("letters", "preview", "block-arms-sale", "--to", BOOKER, "--format", "pdf", "-o", str(out))
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    payloads = sendgrid.accepted  # type: ignore[attr-defined]
    assert len(payloads) == 2 * MEMBERS
    for payload in payloads:
        [attachment] = payload["attachments"]
        assert attachment["type"] == "application/pdf"
        assert attachment["disposition"] == "attachment"
        assert attachment["filename"].startswith("coalition-letter-")
    booker = [
        p["attachments"][0]
        for p in payloads
        if p["attachments"][0]["filename"] == f"coalition-letter-{BOOKER}.pdf"
    ]
    assert len(booker) == 2
    assert all(base64.b64decode(a["content"]) == out.read_bytes() for a in booker)


def test_the_hand_delivery_packet(cli: Invoke, workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "packet"
    result = cli("letters", "pdf", "block-arms-sale", "--combined", "-o", str(folder))
    assert result.exit_code == 0, result.output
    offices = sorted(folder.glob("coalition-letter-*.pdf"))
    assert len(offices) == MEMBERS
    packet = folder / "block-arms-sale-packet.pdf"
    assert result.stdout.strip() == str(packet)
    assert f"Wrote {MEMBERS} office PDFs" in result.stderr
    letters = sum(page_count(p.read_bytes()) for p in offices)
    index_pages = page_count(packet.read_bytes()) - letters
    assert 1 <= index_pages <= 2
    reader = PdfReader(io.BytesIO(packet.read_bytes()))
    index = " ".join(reader.pages[i].extract_text() for i in range(index_pages))
    index = " ".join(index.split())
    assert "Hand-delivery packet: block-arms-sale" in index
    # The index names the page each office's letter starts on, and it does start there.
    row = re.search(r"The Honorable Cory A\. Booker United States Senate, .*?DC 20510 (\d+)", index)
    assert row is not None, index
    start = int(row.group(1))
    assert "Dear Senator Booker:" in reader.pages[start - 1].extract_text()
    assert "Dear Senator Booker:" not in reader.pages[start - 2].extract_text()
    # Each office's file is its messages' attachment.
    preview = workspace / "booker.pdf"
    cli("letters", "preview", "block-arms-sale", "--to", BOOKER, "--format", "pdf",
        "-o", str(preview))  # fmt: skip
    assert (folder / f"coalition-letter-{BOOKER}.pdf").read_bytes() == preview.read_bytes()


@pytest.fixture
def sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from ..servers.sendgrid import SendGridStandIn, load_spec

    key = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"
    with SendGridStandIn(key, spec=load_spec()) as server:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            text + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
        )
        monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", key)
        yield server
