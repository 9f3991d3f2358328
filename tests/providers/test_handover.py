"""Providers ask for the handed-over mark before their irreversible step, and wait for it.

The sender commits `handed_over_at` and only then resolves the Future; a refused
mark (the row is no longer this worker's, or the database is gone) means the
message must not reach the transport at all.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from pydantic import SecretStr

from capitolmail.config.sections import SendGridSettings
from capitolmail.errors import HandoverRefused
from capitolmail.providers import SendGridProvider
from capitolmail.providers.smtp import SmtpProvider

from ..servers.sendgrid import SendGridStandIn
from ..servers.smtp import running_mail_server
from .contract import sample_message
from .test_smtp import settings_for, wait_for

API_KEY = "SG.stand-in-key.0123456789abcdef"


def _refused(_message_id: str) -> Future[None]:
    future: Future[None] = Future()
    future.set_exception(HandoverRefused("another worker took this message back"))
    return future


def test_smtp_sends_no_data_until_the_mark_is_committed() -> None:
    with running_mail_server() as server:
        provider = SmtpProvider(settings_for(server))
        asked: list[str] = []
        arrived_when_marked: list[int] = []

        def hook(message_id: str) -> Future[None]:
            asked.append(message_id)
            future: Future[None] = Future()

            def commit() -> None:
                # The provider is in its session; nothing may have arrived yet.
                wait_for(lambda: server.sessions > 0)
                arrived_when_marked.append(len(server.received()))
                future.set_result(None)

            threading.Thread(target=commit).start()
            return future

        provider.before_handover = hook
        message = sample_message()
        with provider:
            provider.send(message)
        assert asked == [message.message_id]
        assert arrived_when_marked == [0]
        assert len(server.received()) == 1


def test_smtp_refused_mark_sends_nothing_and_keeps_the_connection() -> None:
    with running_mail_server() as server:
        provider = SmtpProvider(settings_for(server))
        with provider:
            provider.before_handover = _refused
            with pytest.raises(HandoverRefused):
                provider.send(sample_message())
            assert server.received() == []
            provider.before_handover = None
            provider.send(sample_message())
        assert len(server.received()) == 1
        assert server.sessions == 1  # RSET, then the same session carried the next


def test_sendgrid_writes_no_request_for_a_refused_mark() -> None:
    with SendGridStandIn(API_KEY) as server:
        provider = SendGridProvider(
            SendGridSettings(base_url=server.url), api_key=SecretStr(API_KEY), pool_size=2
        )
        asked: list[str] = []

        def hook(message_id: str) -> Future[None]:
            asked.append(message_id)
            return _refused(message_id)

        with provider:
            provider.before_handover = hook
            with pytest.raises(HandoverRefused):
                provider.send(sample_message())
            assert server.requests == 0
            marked: Future[None] = Future()
            marked.set_result(None)
            provider.before_handover = lambda _id: marked
            provider.send(sample_message())
        assert asked == [sample_message().message_id]
        assert server.requests == 1


def test_sendgrid_marks_no_more_messages_than_its_pool_while_more_are_claimed_ahead() -> None:
    """Claimed ahead (`capacity` > pool_size), a message waits for a slot unmarked: a
    crash then returns it to `queued` instead of leaving it `unknown`."""
    with SendGridStandIn(API_KEY) as server:
        provider = SendGridProvider(
            SendGridSettings(base_url=server.url), api_key=SecretStr(API_KEY), pool_size=2
        )
        asked: list[Future[None]] = []

        def hook(message_id: str) -> Future[None]:
            asked.append(Future())  # held: its request waits for the mark
            return asked[-1]

        with provider:
            assert provider.capacity(2) == 4
            provider.before_handover = hook
            sends = [
                provider.submit(sample_message(message_id=f"6f1c2d3e-0000-4000-8000-{n:012d}"))
                for n in range(5)
            ]
            provider.pump(lambda: len(asked) > 2, 0.5)
            assert len(asked) == 2  # the other three wait for a slot, unmarked
            while not all(send.done() for send in sends):
                for mark in asked:
                    if not mark.done():
                        mark.set_result(None)
                provider.pump(lambda: any(not mark.done() for mark in asked), 0.05)
        assert len(asked) == 5
        assert server.requests == 5
