"""What every provider promises, checked the same way for each.

A provider's test module subclasses `ProviderContract` and says how to build the
provider and how to read back what arrived (the .eml folder, the console stream,
and later the SMTP mailbox and the SendGrid stand-in's log).
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from capitolmail.letters.compose import compose_message
from capitolmail.letters.identity import Sender
from capitolmail.message import OutgoingMessage
from capitolmail.providers import Provider
from capitolmail.templates.render import RenderedLetter
from tests.headers import assert_wire_format, rfc2047_display_name

# Names and addresses staff spreadsheets and supporter sign-ups really hold, and hostile ones.
HOSTILE_RECIPIENTS = [
    ("Nguyen, Jordan", "fpla.nguyen@senate.example.org"),
    ('Jordan "JJ" Nguyen; LA', "jj@senate.example.org"),
    ("Riley Back\\slash", "riley@house.example.org"),
    ("=?utf-8?q?Senator_Smith?=", "smith@senate.example.org"),
    ("Dana (Chief of Staff) <boss@evil.example>", "dana@senate.example.org"),
    ("evil@example.net, other@example.net", "casey@senate.example.org"),
    ("x" * 3000, "long@senate.example.org"),
    ("Ñ" * 3000, "longer@senate.example.org"),
    ("Nguyễn Văn An 😀", "an@house.example.org"),
    ("\u200fדנה כהן\u200f", "dana.cohen@house.example.org"),
    ("José Núñez", "jose@bücher.example.org"),
    ("Sénat", "staff@xn--snat-dpa.example.org"),
]


def sample_message(**changes: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "message_id": "6f1c2d3e-0000-4000-8000-000000000001",
        "job_id": "7",
        "from_email": "advocacy@example.org",
        "from_name": "Example Rights Coalition",
        "to_email": "fpla.schatz.hi@senate.example.org",
        "to_name": "Jordan Nguyen",
        "subject": "39 organizations urge you to block the pending arms sale",
        "text": "Dear Senator Schatz:\n\nWe write to urge you.\n",
        "html": "<p>Dear Senator Schatz:</p>\n<p>We write to urge you.</p>\n",
        "reply_to": "policy@example.org",
        "categories": ("block-arms-sale",),
    }
    fields.update(changes)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    """Read a message as a mail client would, with the body's line endings made plain."""
    return email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)  # type: ignore[return-value]


class ProviderContract:
    # False where the transport stamps Date itself as it sends (SendGrid).
    carries_date = True

    def make_provider(self) -> Provider:
        raise NotImplementedError

    def received(self, provider: Provider) -> list[bytes]:
        raise NotImplementedError

    def recipient_names(self, provider: Provider) -> dict[str, str] | None:
        """Address -> display name as the transport got them, where `received` only
        rebuilds the message (SendGrid: the stand-in re-parses names); None: read
        them from the received bytes."""
        return None

    def test_message_arrives_intact(self) -> None:
        provider = self.make_provider()
        with provider:
            provider.send(sample_message())
        [raw] = self.received(provider)
        msg = parse(raw)
        assert msg["From"] == "Example Rights Coalition <advocacy@example.org>"
        assert msg["To"] == "Jordan Nguyen <fpla.schatz.hi@senate.example.org>"
        assert msg["Reply-To"] == "policy@example.org"
        assert msg["Subject"] == "39 organizations urge you to block the pending arms sale"
        assert msg["Message-ID"] == "<6f1c2d3e-0000-4000-8000-000000000001@example.org>"
        assert (msg["Date"] is not None) == self.carries_date
        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None and text.get_content() == (
            "Dear Senator Schatz:\n\nWe write to urge you.\n"
        )
        assert html is not None and "<p>We write to urge you.</p>" in html.get_content()

    def test_unicode_subject_and_names_survive(self) -> None:
        provider = self.make_provider()
        with provider:
            provider.send(
                sample_message(
                    subject="Carta de la coalición — Luján, Velázquez",
                    to_name="José Núñez",
                    text="Estimado Senador Luján:\n",
                    html=None,
                )
            )
        [raw] = self.received(provider)
        msg = parse(raw)
        assert msg["Subject"] == "Carta de la coalición — Luján, Velázquez"
        assert msg["To"] == "José Núñez <fpla.schatz.hi@senate.example.org>"
        assert msg.get_content_type() == "text/plain"
        assert msg.get_content() == "Estimado Senador Luján:\n"

    def test_close_without_open_is_harmless(self) -> None:
        provider = self.make_provider()
        provider.close()
        provider.close()

    def test_each_message_arrives_once(self) -> None:
        provider = self.make_provider()
        with provider:
            for n in range(3):
                provider.send(sample_message(message_id=f"6f1c2d3e-0000-4000-8000-00000000000{n}"))
        ids = sorted(parse(raw)["Message-ID"] for raw in self.received(provider))
        assert ids == [f"<6f1c2d3e-0000-4000-8000-00000000000{n}@example.org>" for n in range(3)]

    def test_composed_hostile_recipients_arrive_exactly_and_alone(self) -> None:
        composed = [
            compose_message(
                sender=Sender("Example Rights Coalition", "advocacy@example.org", ""),
                to_email=address,
                to_name=name,
                rendered=RenderedLetter(
                    subject="x" * 2000 if n % 2 else "Carta — Luján " * 40,
                    text="Dear Senator:\n",
                    html=None,
                ),
                source="letters/x/letter.toml",
                categories=("x",),
            )
            for n, (name, address) in enumerate(HOSTILE_RECIPIENTS)
        ]
        provider = self.make_provider()
        with provider:
            for message in composed:
                provider.send(message)
        arrived = self.received(provider)
        assert len(arrived) == len(composed)
        by_address = {}
        for raw in arrived:
            # The console's stream and the SendGrid stand-in's rebuilt message end lines in LF.
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            parsed = assert_wire_format(raw)
            [to] = parsed["To"].addresses
            by_address[to.addr_spec] = (raw, parsed)
        assert sorted(by_address) == sorted(m.to_email for m in composed)
        names = self.recipient_names(provider)
        for message in composed:
            raw, parsed = by_address[message.to_email]
            if names is None:
                assert rfc2047_display_name(raw, "To") == message.to_name
            else:
                assert names[message.to_email] == message.to_name
            assert parsed["Subject"] == message.subject
            assert parsed["Bcc"] is None and parsed["Cc"] is None
