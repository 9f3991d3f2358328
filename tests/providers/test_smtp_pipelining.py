"""SMTP PIPELINING (RFC 2920) against a real aiosmtpd relay that offers it.

Each test reads what the relay stored and which commands reached it in one
write (`MailServer.writes`), so "pipelined" is seen on the wire, not assumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC

import pytest

from capitolmail.errors import (
    DeliveryUnknownError,
    HandoverRefused,
    PermanentSendError,
    TransientSendError,
)
from capitolmail.providers.smtp import SmtpProvider

from ..servers.smtp import MailServer, running_mail_server
from .contract import sample_message
from .test_smtp import HOUSE, OTHER, SENATE, message_to, settings_for, wait_for

CC = "cc.office@house.example.org"
BCC = "bcc.office@senate.example.org"


@pytest.fixture
def relay() -> Iterator[MailServer]:
    with running_mail_server(pipelining=True) as server:
        yield server


def _joint(n: int = 1, **changes: object) -> object:
    return sample_message(
        **changes,
        to_email=SENATE,
        cc=(CC,),
        bcc=(BCC,),
        message_id=f"6f1c2d3e-0000-4000-9000-{n:012d}",
    )


def _envelope_writes(server: MailServer) -> list[bytes]:
    return [chunk for chunk in server.writes() if chunk.startswith((b"MAIL", b"RCPT", b"DATA"))]


def _refused(message_id: str) -> Future[None]:
    future: Future[None] = Future()
    future.set_exception(HandoverRefused("the worker is stopping"))
    return future


def test_mail_every_rcpt_and_data_go_in_one_write_and_arrive_exactly(relay: MailServer) -> None:
    message = _joint(html=None)  # one part: no random MIME boundary, so the bytes compare
    with SmtpProvider(settings_for(relay)) as provider:
        receipt = provider.send(message)  # type: ignore[arg-type]
    [received] = relay.received()
    assert received.rcpt_tos == (SENATE, CC, BCC)
    assert receipt.provider_message_id == "Q000001"
    date = received.message["Date"].datetime
    assert received.raw == message.to_bytes(date=date.astimezone(UTC))  # type: ignore[attr-defined]
    [envelope] = _envelope_writes(relay)
    assert envelope.count(b"\r\n") == 5 and b"RCPT TO:<" + BCC.encode() + b">" in envelope
    assert envelope.endswith(b"DATA\r\n")  # DATA ends the group (RFC 2920)
    # The message itself went in a write of its own, after the relay's 354.
    assert [chunk for chunk in relay.writes() if b"Subject:" in chunk][0].endswith(b"\r\n.\r\n")


def _refused_then_the_next(relay: MailServer, first: object) -> tuple[str, list[object]]:
    """Send `first` (refused), then a letter to HOUSE; the refusal, and what the relay
    had received between the two."""
    with SmtpProvider(settings_for(relay)) as provider:
        with pytest.raises(PermanentSendError) as refused:
            provider.send(first)  # type: ignore[arg-type]
        between = list(relay.received())
        provider.send(message_to(HOUSE, 2))
    return str(refused.value), between


def test_a_refused_rcpt_the_relay_answers_with_354_leaves_the_data_unfinished(
    relay: MailServer,
) -> None:
    """One office refused, two taken: the relay takes DATA; the message must not follow."""
    relay.answer("RCPT", "550 5.1.1 <cc.office@house.example.org>: no such user", recipient=CC)
    refusal, between = _refused_then_the_next(relay, _joint())
    assert f"refused RCPT TO:<{CC}>: 550 5.1.1" in refusal
    assert between == []  # not to the other two offices either
    assert [r.rcpt_tos for r in relay.received()] == [(HOUSE,)]
    # The first connection was dropped in the middle of DATA; the next message took a new one.
    assert [r.session for r in relay.received()] == [2]
    # Only the second message's text ever went on the wire.
    assert sum(b"Subject:" in chunk for chunk in relay.writes()) == 1


def test_every_rcpt_refused_refuses_data_too_and_rset_keeps_the_connection(
    relay: MailServer,
) -> None:
    relay.answer("RCPT", "550 5.1.1 no such user", recipient=SENATE)
    refusal, between = _refused_then_the_next(relay, message_to(SENATE, 1))
    assert f"refused RCPT TO:<{SENATE}>: 550 5.1.1" in refusal
    assert between == []
    assert [r.rcpt_tos for r in relay.received()] == [(HOUSE,)]
    assert relay.sessions == 1


def test_a_421_in_the_middle_of_the_group_is_transient_and_retires_the_connection(
    relay: MailServer,
) -> None:
    relay.answer("RCPT", "421 4.7.0 mx.capitolmail.test closing", recipient=CC, times=1)
    with SmtpProvider(settings_for(relay)) as provider:
        with pytest.raises(TransientSendError) as deferred:
            provider.send(_joint())  # type: ignore[arg-type]
        assert f"deferred RCPT TO:<{CC}>: 421 4.7.0" in str(deferred.value)
        provider.send(_joint(2))  # type: ignore[arg-type]
    assert [r.rcpt_tos for r in relay.received()] == [(SENATE, CC, BCC)]
    assert [r.session for r in relay.received()] == [2]


def test_a_connection_cut_after_the_data_is_unknown_and_not_retried(relay: MailServer) -> None:
    relay.hang_up("DATA")
    with SmtpProvider(settings_for(relay)) as provider, pytest.raises(DeliveryUnknownError):
        provider.send(_joint())  # type: ignore[arg-type]
    assert len(relay.received()) == 1  # the relay had it; no second copy
    assert relay.sessions == 1


def test_a_refused_hand_over_sends_no_message_and_drops_the_unfinished_data(
    relay: MailServer,
) -> None:
    with SmtpProvider(settings_for(relay)) as provider:
        provider.before_handover = _refused
        with pytest.raises(HandoverRefused):
            provider.send(_joint())  # type: ignore[arg-type]
        assert relay.received() == []
        assert not any(b"Subject:" in chunk for chunk in relay.writes())
        provider.before_handover = None
        provider.send(_joint(2))  # type: ignore[arg-type]
    assert len(relay.received()) == 1
    assert [r.session for r in relay.received()] == [2]


@pytest.mark.parametrize("pipelining", [True, False])
def test_the_mark_is_asked_once_the_last_rcpt_is_written_and_before_the_message(
    pipelining: bool,
) -> None:
    asked: list[list[bytes]] = []

    def hook(message_id: str) -> Future[None]:
        # Called in the sending thread: had it asked before writing the last RCPT,
        # the relay could never see it, and this wait would fail.
        wait_for(lambda: any(BCC.encode() in chunk for chunk in relay.writes()))
        asked.append(relay.writes())
        done: Future[None] = Future()
        done.set_result(None)
        return done

    with running_mail_server(pipelining=pipelining) as relay:
        with SmtpProvider(settings_for(relay)) as provider:
            provider.before_handover = hook
            provider.send(_joint())  # type: ignore[arg-type]
        [writes] = asked
        assert not any(b"Subject:" in chunk for chunk in writes)  # the message waits for it
        envelope = [chunk for chunk in writes if chunk.startswith((b"MAIL", b"RCPT", b"DATA"))]
        if pipelining:
            assert envelope[-1].endswith(b"DATA\r\n")  # DATA ends the group, unanswered yet
        else:
            assert not any(chunk.startswith(b"DATA") for chunk in envelope)  # DATA waits too
        assert len(relay.received()) == 1


def test_a_relay_without_pipelining_gets_one_command_per_write() -> None:
    with running_mail_server() as plain:
        with SmtpProvider(settings_for(plain)) as provider:
            provider.send(_joint())  # type: ignore[arg-type]
            provider.send(message_to(OTHER, 2))
        writes = _envelope_writes(plain)
    assert [r.rcpt_tos for r in plain.received()] == [(SENATE, CC, BCC), (OTHER,)]
    assert all(chunk.count(b"\r\n") == 1 for chunk in writes)
    assert [chunk[:4] for chunk in writes] == [
        b"MAIL",
        b"RCPT",
        b"RCPT",
        b"RCPT",
        b"DATA",
        b"MAIL",
        b"RCPT",
        b"DATA",
    ]
