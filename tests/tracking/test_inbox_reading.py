"""How one mailbox message is classified: the signals autoresponders send, which of our
ids a message names, and what reaches the log from a hostile message."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from capitolmail.tracking.inbox.reading import Kind, one_line, read_mail

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OURS = "3f0c9a52-1c1e-4d7a-9a59-0d1f6a6b2c11"
UNSUBSCRIBE = "policy@example.org"


def mail(subject: str = "Re: the letter", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Jane Staffer <jane@senate.example.org>"
    message["To"] = UNSUBSCRIBE
    message["Subject"] = subject
    message["In-Reply-To"] = f"<{OURS}@example.org>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Thank you.")
    return bytes(message)


def test_a_person_replying_is_a_reply_naming_our_message() -> None:
    reading = read_mail(mail(), NOW, UNSUBSCRIBE)
    assert (reading.kind, reading.our_ids, reading.sender) == (
        Kind.REPLY,
        (OURS,),
        "jane@senate.example.org",
    )


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Re: the letter", {"Auto_Submitted": "auto-replied"}),
        ("Re: the letter", {"X_Autoreply": "yes"}),
        ("Re: the letter", {"X_Autorespond": "yes"}),
        ("Re: the letter", {"Precedence": "auto_reply"}),
        ("Thank you for contacting the office of Senator Example", {}),
        ("Automatic reply: the letter", {}),
        ("Out of Office: the letter", {}),
    ],
)
def test_autoresponders_are_told_apart(subject: str, headers: dict[str, str]) -> None:
    assert read_mail(mail(subject, **headers), NOW, UNSUBSCRIBE).kind is Kind.AUTO_REPLY


def test_auto_submitted_no_is_a_person() -> None:
    assert read_mail(mail(Auto_Submitted="no"), NOW, UNSUBSCRIBE).kind is Kind.REPLY


def test_an_id_that_is_not_one_of_ours_makes_it_other_mail() -> None:
    raw = mail().replace(f"<{OURS}@example.org>".encode(), b"<20021021.1234@example.com>")
    assert read_mail(raw, NOW, UNSUBSCRIBE).kind is Kind.OTHER


def test_a_date_in_the_future_is_not_believed() -> None:
    future = read_mail(mail(Date="Tue, 01 Dec 2099 10:00:00 +0000"), NOW, UNSUBSCRIBE)
    assert future.at is None
    past = read_mail(mail(Date="Tue, 01 Dec 2026 06:00:00 -0500"), NOW, UNSUBSCRIBE)
    assert past.at == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    # A clock a few hours fast: the time is taken as now, never as later than now.
    fast = read_mail(mail(Date="Tue, 01 Dec 2026 15:00:00 +0000"), NOW, UNSUBSCRIBE)
    assert fast.at == NOW


def test_text_for_logs_has_no_line_breaks_or_escapes() -> None:
    hostile = "a\r\nb\x1b[31mc\u2028d\u202ee"
    cleaned = one_line(hostile, 100)
    assert cleaned == "a b [31mc d e"


def test_garbage_is_unparsed_not_an_error() -> None:
    reading = read_mail(b"\x00\xff\xfe", NOW, UNSUBSCRIBE)
    assert reading.kind is Kind.UNPARSED and reading.problem
