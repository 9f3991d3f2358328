"""The send loop against a real store (SQLite, and PostgreSQL when configured).

The transport here is a scripted stand-in for a mail server: it accepts, defers
or refuses as told and records what it accepted. Everything between the store
and the transport is the real sender.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from capitolmail.errors import (
    DeliveryUnknownError,
    PermanentSendError,
    ProviderSettingsError,
    SendError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store
from capitolmail.providers import ProviderBase, Receipt, SmtpProvider
from capitolmail.sending.sender import RetryPolicy, SendOptions, send_due
from capitolmail.timing.rate import parse_rate

from .providers.contract import sample_message
from .providers.test_smtp import settings_for
from .servers.smtp import running_mail_server

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


class ScriptedTransport(ProviderBase):
    name: ClassVar[str] = "scripted"

    def __init__(self, script: dict[str, list[SendError]] | None = None) -> None:
        self.script = script or {}
        self.accepted: list[OutgoingMessage] = []
        self.calls: list[str] = []

    def send(self, message: OutgoingMessage) -> Receipt:
        self.calls.append(message.to_email)
        pending = self.script.get(message.to_email, [])
        if pending:
            raise pending.pop(0)
        self.accepted.append(message)
        return Receipt(provider_message_id=f"accepted-{len(self.accepted)}")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _queue(store: Store, count: int) -> int:
    messages = [
        QueuedMessage(
            sample_message(
                message_id=f"00000000-0000-4000-8000-{n:012d}", to_email=f"office{n}@example.org"
            ),
            bioguide="B001288",
            contact_role="Foreign Policy LA",
        )
        for n in range(count)
    ]
    job_id = store.create_job(letter_slug="arms", kind="joint", messages=messages, now=T0)
    store.schedule_job(job_id, at=T0, now=T0)
    store.start_due_jobs(T0, grace=timedelta(hours=1))
    return job_id


def _states(store: Store, job_id: int) -> dict[str, str]:
    return {m.to_email: m.state for m in store.list_messages(job_id)}


POLICY = RetryPolicy(max_attempts=3, base_seconds=60)
SERIAL = SendOptions(policy=POLICY, concurrency=1, heartbeat_seconds=3600)


def test_every_due_message_is_sent_once_and_the_job_finishes(store: Store) -> None:
    job_id = _queue(store, 5)
    transport = ScriptedTransport()
    summary = send_due(
        store, transport, options=SendOptions(policy=POLICY, concurrency=2), clock=Clock()
    )
    assert summary.sent == 5
    assert sorted(transport.calls) == [f"office{n}@example.org" for n in range(5)]
    assert set(_states(store, job_id).values()) == {"sent"}
    assert store.get_job(job_id).state == "done"
    assert summary.finished_jobs == [job_id]
    assert {m.provider_message_id for m in store.list_messages(job_id)} == {
        f"accepted-{n}" for n in range(1, 6)
    }
    again = send_due(store, transport, options=SERIAL, clock=Clock())
    assert again.sent == 0 and len(transport.calls) == 5


def test_a_draft_job_is_not_sent(store: Store) -> None:
    messages = [QueuedMessage(sample_message())]
    job_id = store.create_job(letter_slug="arms", kind="joint", messages=messages, now=T0)
    transport = ScriptedTransport()
    send_due(store, transport, options=SERIAL, clock=Clock())
    assert transport.calls == []
    assert store.get_job(job_id).state == "draft"


def test_transient_failure_waits_then_succeeds(store: Store) -> None:
    job_id = _queue(store, 2)
    clock = Clock()
    transport = ScriptedTransport(
        {"office1@example.org": [TransientSendError("451 try again later", retry_after=120)]}
    )
    first = send_due(store, transport, options=SERIAL, clock=clock)
    assert (first.sent, first.retried) == (1, 1)
    [waiting] = store.list_messages(job_id, states=["retry_wait"])
    assert waiting.to_email == "office1@example.org"
    assert waiting.last_error == "451 try again later"
    assert waiting.next_attempt_at == T0 + timedelta(seconds=120)
    assert store.get_job(job_id).state == "sending"

    clock.now = T0 + timedelta(seconds=119)
    assert send_due(store, transport, options=SERIAL, clock=clock).sent == 0
    clock.now = T0 + timedelta(seconds=120)
    assert send_due(store, transport, options=SERIAL, clock=clock).sent == 1
    assert _states(store, job_id) == {
        "office0@example.org": "sent",
        "office1@example.org": "sent",
    }
    assert [m.attempts for m in store.list_messages(job_id)] == [1, 2]
    assert [m.to_email for m in transport.accepted] == [
        "office0@example.org",
        "office1@example.org",
    ]


def test_transient_failures_give_up_after_max_attempts(store: Store) -> None:
    job_id = _queue(store, 1)
    clock = Clock()
    errors: list[SendError] = [TransientSendError("421 busy", retry_after=0) for _ in range(5)]
    transport = ScriptedTransport({"office0@example.org": errors})
    for _ in range(3):
        send_due(store, transport, options=SERIAL, clock=clock)
    [message] = store.list_messages(job_id)
    assert message.state == "failed"
    assert message.attempts == 3
    assert message.last_error == "gave up after 3 attempts: 421 busy"
    assert len(transport.calls) == 3
    assert store.get_job(job_id).state == "done"


def test_permanent_failure_fails_only_that_message(store: Store) -> None:
    job_id = _queue(store, 3)
    transport = ScriptedTransport(
        {"office1@example.org": [PermanentSendError("550 5.1.1 mailbox unavailable")]}
    )
    summary = send_due(store, transport, options=SERIAL, clock=Clock())
    assert (summary.sent, summary.failed) == (2, 1)
    assert _states(store, job_id)["office1@example.org"] == "failed"
    [failed] = store.list_messages(job_id, states=["failed"])
    assert failed.last_error == "550 5.1.1 mailbox unavailable"
    assert store.get_job(job_id).counts == {"sent": 2, "failed": 1}


def test_refused_credentials_pause_the_job_instead_of_grinding_through(store: Store) -> None:
    job_id = _queue(store, 4)
    transport = ScriptedTransport(
        {"office0@example.org": [ProviderSettingsError("401 the API key was refused")]}
    )
    summary = send_due(store, transport, options=SERIAL, clock=Clock())
    assert summary.paused_jobs == [job_id]
    assert transport.calls == ["office0@example.org"]
    job = store.get_job(job_id)
    assert job.state == "paused"
    assert job.paused_reason == "401 the API key was refused"
    assert summary.sent == 0
    # Nothing was lost: every message can still go out once the key is fixed.
    assert sum(job.counts.values()) == 4
    assert "sent" not in job.counts

    store.resume_job(job_id, now=T0)
    send_due(store, transport, options=SERIAL, clock=Clock())
    assert set(_states(store, job_id).values()) == {"sent"}
    assert sorted(m.to_email for m in transport.accepted) == [
        f"office{n}@example.org" for n in range(4)
    ]


def test_messages_left_sending_by_a_dead_worker_become_unknown_and_are_not_resent(
    store: Store,
) -> None:
    job_id = _queue(store, 5)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    store.register_worker("dead-worker", socket.gethostname(), dead_pid, T0)
    claimed = store.claim_due("dead-worker", 2, T0)
    assert len(claimed) == 2

    transport = ScriptedTransport()
    summary = send_due(store, transport, options=SERIAL, clock=Clock())
    assert summary.recovered == 2
    assert summary.sent == 3
    in_flight = {c.message.to_email for c in claimed}
    assert in_flight.isdisjoint(transport.calls)
    states = _states(store, job_id)
    assert {e for e, s in states.items() if s == "unknown"} == in_flight
    job = store.get_job(job_id)
    assert job.counts == {"sent": 3, "unknown": 2}
    assert sum(job.counts.values()) == job.total

    # The operator decides to try them again.
    assert store.requeue(job_id, ["unknown"], now=T0) == 2
    send_due(store, transport, options=SERIAL, clock=Clock())
    assert sorted(transport.calls) == [f"office{n}@example.org" for n in range(5)]


def test_a_rate_limit_slows_everyone_and_does_not_count_as_an_attempt(store: Store) -> None:
    job_id = _queue(store, 2)
    transport = ScriptedTransport(
        {
            "office0@example.org": [
                TransientSendError("429 slow down", retry_after=0.3, rate_limited=True)
            ]
        }
    )
    options = SendOptions(policy=RetryPolicy(max_attempts=1), concurrency=1)
    summary = send_due(store, transport, options=options)  # the real clock: it waits 0.3 s
    assert summary.sent == 2
    assert summary.failed == 0  # max_attempts=1, yet the 429 did not use the attempt up
    messages = {m.to_email: m for m in store.list_messages(job_id)}
    assert messages["office0@example.org"].attempts == 1
    assert messages["office0@example.org"].state == "sent"
    assert transport.calls.count("office0@example.org") == 2


class SlowTransport(ScriptedTransport):
    """Holds each message briefly and notes how many were in its hands at once."""

    def __init__(self, hold: float = 0.02) -> None:
        super().__init__()
        self.hold = hold
        self.lock = threading.Lock()
        self.current = 0
        self.most = 0

    def send(self, message: OutgoingMessage) -> Receipt:
        with self.lock:
            self.current += 1
            self.most = max(self.most, self.current)
        time.sleep(self.hold)
        with self.lock:
            self.current -= 1
        return super().send(message)


def test_at_most_concurrency_messages_are_in_flight(store: Store) -> None:
    job_id = _queue(store, 40)
    transport = SlowTransport()
    options = SendOptions(policy=POLICY, concurrency=4)
    summary = send_due(store, transport, options=options, clock=Clock())
    assert summary.sent == 40
    assert transport.most == 4
    assert sorted(transport.calls) == sorted(f"office{n}@example.org" for n in range(40))
    assert store.get_job(job_id).counts == {"sent": 40}


def test_the_providers_capacity_sets_how_many_are_in_flight(store: Store) -> None:
    gathered = threading.Barrier(6, timeout=10)  # broken unless 6 are in hand at once

    class Roomy(ScriptedTransport):
        def capacity(self, concurrency: int) -> int:
            return super().capacity(concurrency * 3)

        def send(self, message: OutgoingMessage) -> Receipt:
            gathered.wait()
            return super().send(message)

    job_id = _queue(store, 6)
    summary = send_due(store, Roomy(), options=SendOptions(policy=POLICY, concurrency=2))
    assert summary.sent == 6
    assert store.get_job(job_id).counts == {"sent": 6}


def test_smtp_through_a_pipelining_relay_sends_every_message_once_on_its_connections(
    store: Store,
) -> None:
    job_id = _queue(store, 60)
    with running_mail_server(pipelining=True) as relay:
        provider = SmtpProvider(settings_for(relay, connections=3))
        summary = send_due(store, provider, options=SendOptions(policy=POLICY, concurrency=12))
        received = sorted(to for r in relay.received() for to in r.rcpt_tos)
        assert relay.most_open_sessions <= 3
    assert summary.sent == 60
    assert received == sorted(f"office{n}@example.org" for n in range(60))
    assert store.get_job(job_id).counts == {"sent": 60}


def test_stop_finishes_what_is_in_flight_and_leaves_the_rest_queued(store: Store) -> None:
    job_id = _queue(store, 10)
    stop = threading.Event()

    class StoppingTransport(ScriptedTransport):
        def send(self, message: OutgoingMessage) -> Receipt:
            if len(self.calls) == 2:
                stop.set()  # as SIGTERM would, while the third message is in flight
            return super().send(message)

    transport = StoppingTransport()
    summary = send_due(store, transport, options=SERIAL, clock=Clock(), stop=stop, once=False)
    assert summary.stopped_early
    assert summary.sent == 3
    assert store.get_job(job_id).counts == {"sent": 3, "queued": 7}
    assert len(transport.accepted) == 3


def test_a_provider_bug_fails_the_message_without_a_retry(store: Store) -> None:
    job_id = _queue(store, 2)

    class BuggyTransport(ScriptedTransport):
        def send(self, message: OutgoingMessage) -> Receipt:
            if message.to_email == "office0@example.org":
                raise KeyError("oops")
            return super().send(message)

    summary = send_due(store, BuggyTransport(), options=SERIAL, clock=Clock())
    assert (summary.sent, summary.failed) == (1, 1)
    [failed] = store.list_messages(job_id, states=["failed"])
    assert failed.last_error == "unexpected error in the provider: KeyError('oops')"


def test_once_waits_for_a_paced_jobs_turns_until_it_is_sent(store: Store) -> None:
    job_id = _queue(store, 12)
    store.set_job_options(job_id, rate="10/s")
    transport = ScriptedTransport()
    options = SendOptions(policy=POLICY, concurrency=8, poll_seconds=0.1)
    summary = send_due(store, transport, options=options)
    assert summary.sent == 12
    assert store.get_job(job_id).state == "done"


class CancellingTransport(ScriptedTransport):
    """Cancels the job while the first message is in its hands, then raises `error`."""

    def __init__(self, store: Store, job_id: int, error: SendError) -> None:
        super().__init__()
        self.store, self.job_id, self.error = store, job_id, error

    def send(self, message: OutgoingMessage) -> Receipt:
        self.calls.append(message.to_email)
        if len(self.calls) == 1:
            self.store.cancel_job(self.job_id, T0)
            raise self.error
        return super().send(message)


def test_no_verdict_is_unknown_and_stays_unknown_when_the_job_was_cancelled_meanwhile(
    store: Store,
) -> None:
    job_id = _queue(store, 3)
    error = DeliveryUnknownError("SendGrid did not answer within 2 s; it may have accepted it")
    transport = CancellingTransport(store, job_id, error)

    summary = send_due(store, transport, options=SERIAL, clock=Clock())

    assert (summary.sent, summary.unknown, summary.retried) == (0, 1, 0)
    assert transport.calls == ["office0@example.org"]
    assert _states(store, job_id) == {
        "office0@example.org": "unknown",  # not `cancelled`: the provider may have it
        "office1@example.org": "cancelled",
        "office2@example.org": "cancelled",
    }
    [unknown] = store.list_messages(job_id, states=["unknown"])
    assert unknown.last_error == str(error)
    assert store.failure_summary(job_id) == [(str(error), 1)]


def test_a_refused_key_in_a_job_cancelled_meanwhile_cancels_the_message_and_goes_on(
    store: Store,
) -> None:
    job_id = _queue(store, 2)
    later = [
        QueuedMessage(sample_message(message_id=f"00000000-0000-4000-9000-{n:012d}"))
        for n in range(2)
    ]
    other = store.create_job(letter_slug="alert", kind="alert", messages=later, now=T0)
    store.schedule_job(other, at=T0, now=T0)
    store.start_due_jobs(T0, grace=timedelta(hours=1))
    transport = CancellingTransport(store, job_id, ProviderSettingsError("401 key refused"))

    summary = send_due(store, transport, options=SERIAL, clock=Clock())

    assert summary.paused_jobs == []
    assert store.get_job(job_id).state == "cancelled"
    assert store.get_job(job_id).counts == {"cancelled": 2}
    assert store.get_job(other).counts == {"sent": 2}  # the worker kept sending


def test_a_worker_whose_rate_differs_from_another_workers_says_so_and_keeps_to_the_lowest(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Another worker registered with worker.rate 1/s; this one says 600/min (10/s)."""
    job_id = _queue(store, 3)
    store.register_worker("other-host:1", "other-host", 1, T0, rate_per_second=1.0)
    transport = ScriptedTransport()
    stop = threading.Event()
    options = SendOptions(policy=POLICY, concurrency=4, overall_rate=parse_rate("600/min"))
    with caplog.at_level(logging.WARNING, logger="capitolmail.sender"):
        summary = send_due(
            store,
            transport,
            options=options,
            clock=Clock(),
            stop=stop,
            on_outcome=lambda claimed, label: stop.set(),
        )
    warned = [r.getMessage() for r in caplog.records if "worker.rate differs" in r.getMessage()]
    assert warned == [
        "worker.rate differs between the workers of this outbox (10 msg/s here, 1.0 msg/s on "
        "others); the lowest holds for every worker until they agree"
    ]
    # The first claim took one second's worth at the lowest rate: one message, not three.
    assert summary.sent == 1 and len(transport.calls) == 1
    assert sorted(_states(store, job_id).values()) == ["queued", "queued", "sent"]
