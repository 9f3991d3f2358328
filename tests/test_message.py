"""The wire form of a message, read back the way a mail client would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from capitolmail.attachment import Attachment, safe_filename
from capitolmail.message import OutgoingMessage

from .providers.contract import parse, sample_message


def test_long_lines_are_encoded_so_no_line_passes_998_characters() -> None:
    body = "word " * 1000 + "\n"
    raw = sample_message(text=body, html=None).to_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = parse(raw)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content() == body


def test_ascii_bodies_stay_readable_and_unicode_ones_survive() -> None:
    raw = sample_message(text="Dear Senator Luján:\n\n— Signed\n", html=None).to_bytes()
    msg = parse(raw)
    assert msg.get_content() == "Dear Senator Luján:\n\n— Signed\n"
    plain = sample_message(html=None).to_bytes()
    assert b"Dear Senator Schatz:\r\n\r\nWe write to urge you.\r\n" in plain
    assert raw.isascii() and plain.isascii()


def test_long_and_unicode_headers_fold_and_read_back_whole() -> None:
    subject = "Carta de la coalición — Luján, Velázquez, " + "and more words " * 8
    name = "Oficina de Política Exterior, Senador Luján"
    msg = parse(sample_message(subject=subject.strip(), to_name=name).to_bytes())
    assert msg["Subject"] == subject.strip()
    assert msg["To"].addresses[0].display_name == name
    assert msg["To"].addresses[0].addr_spec == "fpla.schatz.hi@senate.example.org"


def test_date_only_when_sent_and_extra_headers_kept() -> None:
    message = sample_message(headers=(("List-Id", "<alerts.example.org>"),))
    assert parse(message.to_bytes())["Date"] is None
    sent = parse(message.to_bytes(date=datetime(2026, 11, 26, 14, 0, tzinfo=UTC)))
    assert sent["Date"] == "Thu, 26 Nov 2026 14:00:00 +0000"
    assert sent["List-Id"] == "<alerts.example.org>"


PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_an_attachment_makes_multipart_mixed_with_the_bodies_first() -> None:
    letter = Attachment("coalition-letter-B001288.pdf", "application/pdf", PDF)
    for html in (None, "<p>Dear Senator Schatz:</p>\n"):
        raw = sample_message(html=html, attachments=(letter,)).to_bytes()
        assert raw.isascii()
        assert max(len(line) for line in raw.split(b"\r\n")) <= 78
        msg = parse(raw)
        assert msg.get_content_type() == "multipart/mixed"
        body, attached = list(msg.iter_parts())
        assert body.get_content_type() == (
            "text/plain" if html is None else "multipart/alternative"
        )
        assert (
            msg.get_body(("plain",)).get_content()
            == "Dear Senator Schatz:\n\nWe write to urge you.\n"
        )
        assert attached.get_content_type() == "application/pdf"
        assert attached.get_content_disposition() == "attachment"
        assert attached.get_filename() == "coalition-letter-B001288.pdf"
        assert attached.get_content() == PDF


def test_attachment_names_cannot_carry_a_header() -> None:
    for name in ('a".pdf', "a\r\nBcc: x@example.org.pdf", "ä.pdf", "", "../x.pdf"):
        with pytest.raises(ValueError, match="attachment file name"):
            Attachment(name, "application/pdf", PDF)
    assert safe_filename('Coalition letter: "Booker"/NJ.pdf') == "Coalition-letter-Booker-NJ.pdf"


def test_what_an_attachment_says_counts_in_the_content_hash() -> None:
    def message(fingerprint: str) -> OutgoingMessage:
        letter = Attachment("letter.pdf", "application/pdf", PDF, fingerprint=fingerprint)
        return sample_message(attachments=(letter,))

    assert message("one").content_hash() == message("one").content_hash()
    assert message("one").content_hash() != message("two").content_hash()
    assert sample_message().content_hash() != message("one").content_hash()
