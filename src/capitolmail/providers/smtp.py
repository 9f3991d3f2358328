"""An SMTP relay, over pooled persistent connections (stdlib smtplib and ssl only).

The provider classifies and the sender decides: a 4xx reply becomes
`TransientSendError`, a 5xx reply `PermanentSendError`, each with the relay's
reply; a 421 or a broken connection also retires that connection. A reply that
asks the client to slow down (421, 450 4.7.1 "too much mail", see
throttling.py) is marked `rate_limited`, so it costs the message no attempt. The one
retry made here is for a connection that broke before DATA was accepted (a
pooled session the relay dropped while idle): nothing can have been delivered,
so the message goes once more on a fresh connection.

After the message data has been sent, a lost connection or a missing reply
(a timeout waiting for the answer to the final ".") means the relay may already
have accepted the message. Retrying would risk a second copy of the letter in a
Hill office, which costs more than a reported gap, so that case is a
`DeliveryUnknownError`: the message becomes `unknown`, not `failed`, because
`failed` would tell the operator it never went. A failure while the data is
still being sent is transient: the relay never saw the final "." and discards
an unterminated message.

Addresses must be ASCII: messages are 7-bit, and SMTPUTF8 is not attempted.

The provider owns its sending threads, one per connection (`connections` of
them, each with a connection of its own), taking messages from one queue:
`submit` puts a message there and returns its Future. Measured, 32 sender
threads sharing 8 connections spent more of the process's one core trading
the GIL than sending; a thread per connection waits only on its own socket.
The transaction itself, pipelined where the relay offers it, is smtp_session.py.
"""

from __future__ import annotations

import queue
import re
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import SecretStr

from capitolmail.config.sections import SmtpSettings
from capitolmail.errors import (
    ConfigError,
    HandoverRefused,
    HeaderError,
    PermanentSendError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt
from capitolmail.providers.smtp_pool import Connection, ConnectionPool, quit_quietly
from capitolmail.providers.smtp_session import (
    Disconnected,
    Handover,
    Refused,
    Transaction,
    reset,
)
from capitolmail.verp import envelope_sender

# Postfix "250 2.0.0 Ok: queued as 4Xk2Lq0Zr3z9"; Exim "250 OK id=1rT7yA-000ABC-2x".
_QUEUE_ID = re.compile(r"\bqueued as ([^\s;,]+)|\bid=([^\s;,]+)", re.IGNORECASE)

_Job = tuple[OutgoingMessage, "Future[Receipt]"]


class _Line:
    """One sending thread's own connection, None until its first message or after a break."""

    conn: Connection | None = None


class SmtpProvider(ProviderBase):
    name: ClassVar[str] = "smtp"

    def __init__(self, settings: SmtpSettings, *, password: SecretStr | None = None) -> None:
        if not settings.host:
            raise ConfigError("[provider.smtp] host is empty; set it to the relay's name")
        if settings.security == "none" and not settings.allow_plain:
            raise ConfigError(
                '[provider.smtp] security = "none" sends mail and the password unencrypted;'
                " set allow_plain = true only for a relay on the same machine"
            )
        if settings.username and (password is None or not password.get_secret_value()):
            raise ConfigError(
                "CAPITOLMAIL_SMTP_PASSWORD is not set but [provider.smtp] username is;"
                " put it in .env or the environment"
            )
        self.settings = settings
        self._pool = ConnectionPool(settings, password)
        self._where = self._pool.where
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a message

    def open(self) -> None:
        """Threads start, and connect, on the first message: opening twice or not at all
        is harmless."""

    def close(self) -> None:
        """Let each thread finish what was handed to it, QUIT its connection and end."""
        with self._lock:
            threads, self._threads = self._threads, []
            jobs, self._jobs = self._jobs, queue.SimpleQueue()
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join()

    def capacity(self, concurrency: int) -> int:
        """`concurrency` messages in flight: those beyond `connections` wait in the queue,
        so each thread has its next message at hand while the send loop claims and
        records (benchmarks/README.md: 8 connections do best at concurrency 32).

        Not more than that: every message in flight meets what the relay answers
        (a refused login, a throttle) on a session of its own, and the operator's
        `concurrency` bounds that.
        """
        return concurrency

    def submit(self, message: OutgoingMessage) -> Future[Receipt]:
        """Queue `message` for the next free sending thread; start one if none is free.

        Threads (and so connections) are added only while every one is busy, so a
        few messages do not open `connections` sessions, and a lone message after
        another reuses the connection that carried it.
        """
        future: Future[Receipt] = Future()
        with self._lock:
            self._jobs.put((message, future))
            waiting = self._jobs.qsize()
            if waiting > self._idle and len(self._threads) < self.settings.connections:
                thread = threading.Thread(
                    target=self._serve,
                    args=(self._jobs,),
                    name=f"capitolmail-smtp-{len(self._threads) + 1}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
        return future

    def send(self, message: OutgoingMessage) -> Receipt:
        return self.submit(message).result()

    def max_message_bytes(self) -> int | None:
        """The SIZE the relay declares in its EHLO reply (RFC 1870), or None without one.

        Connects (secured as for sending, without logging in) to ask; "SIZE" alone or
        "SIZE 0" means no fixed limit. A relay that cannot be reached raises as a send would.
        """
        limit = self._pool.declared_size().strip()
        return int(limit) if limit.isdigit() and int(limit) > 0 else None

    def size_limit_owner(self) -> str:
        return f"the relay {self._where} (SIZE in its EHLO reply)"

    def _serve(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        """A sending thread: one message after another on its own connection."""
        line = _Line()
        try:
            while (job := self._next(jobs)) is not None:
                message, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(self._deliver(line, message))
                except BaseException as err:  # a provider bug too: the sender classifies it
                    future.set_exception(err)
        finally:
            if line.conn is not None:
                quit_quietly(line.conn)

    def _next(self, jobs: queue.SimpleQueue[_Job | None]) -> _Job | None:
        with self._lock:
            self._idle += 1
        try:
            return jobs.get()
        finally:
            with self._lock:
                self._idle -= 1

    def _deliver(self, line: _Line, message: OutgoingMessage) -> Receipt:
        for address in (message.from_email, *message.envelope_recipients()):
            if not address.isascii():
                raise PermanentSendError(
                    f"{address} is not an ASCII address; the SMTP provider does not use SMTPUTF8"
                )
        try:
            payload = message.to_bytes(date=datetime.now(UTC))
        except HeaderError as err:  # only a row stored before compose checked headers
            raise PermanentSendError(f"cannot send the message: {err}") from err
        return_path = self.settings.return_path
        sender = (
            envelope_sender(return_path, message.message_id) if return_path else message.from_email
        )
        recipients = list(message.envelope_recipients())
        # Asked once per message, even on a fresh connection (smtp_session.py says when).
        handover = Handover(lambda: self.request_handover(message.message_id))
        try:
            for attempt in (1, 2):
                conn = line.conn = self._pool.ready(line.conn, fresh=attempt > 1)
                reusable = False
                try:
                    reply = Transaction(self._pool, conn, handover).run(sender, recipients, payload)
                    reusable = True
                    return Receipt(provider_message_id=_queue_id(reply))
                except Disconnected as err:
                    if attempt == 2:
                        raise TransientSendError(
                            f"{self._where} dropped two connections before the message was"
                            " sent; nothing was delivered"
                        ) from err.__cause__
                except Refused as refused:
                    reusable = refused.code != 421 and reset(conn.smtp)
                    raise refused.error from None
                except HandoverRefused:
                    reusable = reset(conn.smtp)  # between RCPT and DATA: nothing was sent
                    raise
                finally:
                    line.conn = self._pool.finished(conn, reusable=reusable)
        finally:
            handover.cancel()
        raise AssertionError("unreachable")  # pragma: no cover


def _queue_id(reply: str) -> str:
    """The relay's queue id when its reply names one, else the whole reply to keep."""
    match = _QUEUE_ID.search(reply)
    return (match[1] or match[2]) if match else reply
