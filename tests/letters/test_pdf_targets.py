"""A printed letter to targets beyond Congress: each PDF addressed to its own recipient.

The White House, the Secretary of State and a Senate office get the same letter in
one job; every PDF's addressee block and salutation must be its message's own, and
no PDF may carry another recipient's (a letter to the wrong office, on paper).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..conftest import Invoke
from ..pdfs import attached_pdfs, pdf_text, read_message

LETTER = Path("letters/urge-the-administration")
BOOKER = "B001288"

EXPECTED = {
    "president@whitehouse.example.org": (
        "white-house",
        "Dear Mr. President:",
        ["The President", "The White House", "1600 Pennsylvania Avenue NW"],
    ),
    "secretary@state.example.org": (
        "state-department",
        "Dear Mr. Secretary:",
        ["The Honorable Marco Rubio", "Secretary of State", "2201 C Street NW"],
    ),
}


def test_each_target_and_office_gets_a_pdf_addressed_to_it(cli: Invoke, workspace: Path) -> None:
    shutil.copy(
        workspace / "letters/block-arms-sale/letter.pdf.html.j2",
        workspace / LETTER / "letter.pdf.html.j2",
    )
    toml = workspace / LETTER / "letter.toml"
    text = toml.read_text(encoding="utf-8").replace(
        "[audience]\n", f'[audience]\ninclude = ["{BOOKER}"]\n'
    )
    toml.write_text(text + '\n[pdf]\nre = "Pending arms sale"\n', encoding="utf-8")
    queued = cli("queue", "urge-the-administration")
    assert queued.exit_code == 0, queued.output
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0

    by_address: dict[str, tuple[str, str]] = {}
    for path in (workspace / ".capitolmail/outbox/1").glob("*.eml"):
        message = read_message(path.read_bytes())
        ((filename, data),) = attached_pdfs(message)
        by_address[str(message["To"].addresses[0].addr_spec)] = (filename, pdf_text(data))

    salutations = {"Dear Mr. President:", "Dear Mr. Secretary:", "Dear Senator Booker:"}
    for address, (target_id, salutation, lines) in EXPECTED.items():
        filename, body = by_address.pop(address)
        assert salutation in body
        for line in lines:
            assert line in body, (address, line)
        assert not (salutations - {salutation}) & {s for s in salutations if s in body}
        assert filename == f"urge-the-administration-{target_id}.pdf"
    # What is left are the Senate office's two contacts: one PDF, the formal block.
    assert len(by_address) == 2
    office_pdfs = {body for _, body in by_address.values()}
    assert len(office_pdfs) == 1
    (body,) = office_pdfs
    assert "The Honorable Cory A. Booker" in body and "United States Senate" in body
    assert "Dear Senator Booker:" in body and "Mr. President" not in body
