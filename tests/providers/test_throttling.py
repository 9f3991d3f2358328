"""Which SMTP replies slow the whole send down, and the SMTP provider marking them so."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from capitolmail.config.sections import SmtpSettings
from capitolmail.errors import PermanentSendError, TransientSendError
from capitolmail.message import OutgoingMessage
from capitolmail.providers.smtp import SmtpProvider
from capitolmail.providers.throttling import is_throttling

from ..servers.smtp import TOO_MANY_CONNECTIONS, MailServer, running_mail_server
from .contract import sample_message


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (450, "4.7.1 Error: too much mail from 192.0.2.10"),  # Postfix anvil
        (450, "4.7.1 <cos@senate.example.org>: Recipient address rejected: policy"),
        (451, "4.7.1 Please try again later"),
        (421, "4.7.0 mx.example.org Error: too many connections from 192.0.2.10"),
        (421, "mx.example.org Service not available, closing transmission channel"),
        (452, "4.3.2 Too many recipients received this hour"),
        (451, "Rate limit exceeded for sender"),
        (450, "Message throttled; slow down"),
        (454, "Throttling failure: Daily message quota exceeded."),  # Amazon SES
    ],
)
def test_throttling_replies(code: int, text: str) -> None:
    assert is_throttling(code, text)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (451, "4.3.0 Error: queue file write error"),
        (450, "4.2.0 <x@example.org>: Recipient address rejected: Greylisted"),
        (452, "4.3.1 Insufficient system storage"),
        (550, "5.7.1 Error: too much mail from 192.0.2.10"),  # 5xx is never a throttle
        (554, "5.7.1 rate limit"),
        (250, "2.0.0 Ok"),
    ],
)
def test_other_replies_are_not_throttling(code: int, text: str) -> None:
    assert not is_throttling(code, text)


@pytest.fixture
def server() -> Iterator[MailServer]:
    with running_mail_server() as running:
        yield running


def _provider(server: MailServer) -> SmtpProvider:
    return SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=server.port, security="none", allow_plain=True)
    )


def _to(n: int) -> OutgoingMessage:
    return sample_message(
        message_id=f"00000000-0000-4000-8000-{n:012d}", to_email=f"office{n}@senate.example.org"
    )


def test_too_much_mail_at_rcpt_is_rate_limited_and_keeps_the_connection(
    server: MailServer,
) -> None:
    server.throttle(1, 60)
    with _provider(server) as provider:
        provider.send(_to(1))
        with pytest.raises(TransientSendError) as caught:
            provider.send(_to(2))
    assert caught.value.rate_limited
    assert "450 4.7.1 Error: too much mail from 127.0.0.1" in str(caught.value)
    assert server.sessions == 1  # a 450 leaves the session usable
    assert len(server.received()) == 1


def test_421_at_mail_is_rate_limited_and_the_pool_drops_the_connection(
    server: MailServer,
) -> None:
    server.throttle(1, 60, command="MAIL", reply=TOO_MANY_CONNECTIONS)
    with _provider(server) as provider:
        provider.send(_to(1))
        with pytest.raises(TransientSendError) as caught:
            provider.send(_to(2))
        server.throttle(10, 60, command="MAIL", reply=TOO_MANY_CONNECTIONS)
        provider.send(_to(3))
    assert caught.value.rate_limited
    assert "421 4.7.0" in str(caught.value)
    assert [r.session for r in server.received()] == [1, 2]


def test_421_greeting_is_rate_limited() -> None:
    """A relay at its connection limit greets with 421 and hangs up, as Postfix does."""

    class Greeter(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(TOO_MANY_CONNECTIONS.encode() + b"\r\n")

    with socketserver.TCPServer(("127.0.0.1", 0), Greeter) as relay:
        thread = threading.Thread(target=relay.serve_forever, daemon=True)
        thread.start()
        try:
            settings = SmtpSettings(
                host="127.0.0.1", port=relay.server_address[1], security="none", allow_plain=True
            )
            with SmtpProvider(settings) as provider, pytest.raises(TransientSendError) as caught:
                provider.send(_to(1))
        finally:
            relay.shutdown()
    assert caught.value.rate_limited
    assert "too many connections" in str(caught.value)


def test_a_plain_deferral_is_not_rate_limited(server: MailServer) -> None:
    server.answer("RCPT", "451 4.3.0 Error: queue file write error")
    with _provider(server) as provider, pytest.raises(TransientSendError) as caught:
        provider.send(_to(1))
    assert not caught.value.rate_limited


def test_a_permanent_refusal_stays_permanent(server: MailServer) -> None:
    server.answer("RCPT", "550 5.7.1 Error: too much mail from 127.0.0.1")
    with _provider(server) as provider, pytest.raises(PermanentSendError):
        provider.send(_to(1))
