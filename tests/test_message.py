"""The wire form of a message, read back the way a mail client would."""

from __future__ import annotations

from datetime import UTC, datetime

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
