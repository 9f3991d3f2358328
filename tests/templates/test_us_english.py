"""Text a Hill office or a US supporter reads is US English.

The words checked are the British spellings that slipped in before ("Lead
organisations" headed every signer block). Jinja tags are removed before the
layouts and pages are read, since `organisation` is also a settings name that
templates use and that users depend on.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from ..conftest import Invoke
from ..pdfs import attached_pdfs, pdf_text

PACKAGE = Path(__file__).resolve().parents[2] / "src/capitolmail"
BRITISH = re.compile(
    r"\b\w*(organis|recognis|authoris|apologis|realis|prioritis|minimis|honour|favour|colour"
    r"|behaviour|labour|centre|defence|licence|programme|catalogue|whilst)\w*\b",
    re.IGNORECASE,
)
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
READ_BY_RECIPIENTS = sorted(
    [
        *(PACKAGE / "templates/layouts").iterdir(),
        *(PACKAGE / "web/templates").iterdir(),
        *(PACKAGE / "example/letters").glob("*/body.*"),
        *(PACKAGE / "example/letters").glob("*/*.pdf.html.j2"),
        *(PACKAGE / "example/templates").glob("*.j2"),
    ]
)


@pytest.mark.parametrize("path", READ_BY_RECIPIENTS, ids=lambda p: p.name)
def test_templates_read_in_us_english(path: Path) -> None:
    words = BRITISH.findall(JINJA.sub(" ", path.read_text(encoding="utf-8")))
    assert words == []


def _messages(outbox: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*/*.eml"))
    ]


def test_signer_block_headings_are_us_english(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    for job in ("1", "2"):
        assert cli("send", job).exit_code == 0
    assert cli("worker", "--once").exit_code == 0

    messages = _messages(workspace / ".capitolmail/outbox")
    assert len(messages) > 6
    for message in messages:
        for kind in ("plain", "html"):
            body = message.get_body((kind,))
            assert body is not None
            content = str(body.get_content())
            assert BRITISH.findall(content) == [], message["To"]
    # The joint letter itself is the attached PDF, its headings set in capitals.
    [(_, pdf)] = attached_pdfs(messages[0])
    letter = pdf_text(pdf)
    assert BRITISH.findall(letter) == []
    for heading in (
        "Lead organizations",
        "National organizations",
        "State and local organizations",
    ):
        assert heading.upper() in letter
