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
"""

from __future__ import annotations

import functools
import re
import smtplib
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import SecretStr

from capitolmail.config.sections import SmtpSettings
from capitolmail.errors import (
    ConfigError,
    DeliveryUnknownError,
    HandoverRefused,
    HeaderError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt
from capitolmail.providers.smtp_pool import Connection, ConnectionPool, describe
from capitolmail.providers.throttling import is_throttling
from capitolmail.verp import envelope_sender

# Postfix "250 2.0.0 Ok: queued as 4Xk2Lq0Zr3z9"; Exim "250 OK id=1rT7yA-000ABC-2x".
_QUEUE_ID = re.compile(r"\bqueued as ([^\s;,]+)|\bid=([^\s;,]+)", re.IGNORECASE)
_LINE_STARTING_WITH_DOT = re.compile(rb"^\.", re.MULTILINE)


class _Disconnected(Exception):
    """The connection broke before DATA was accepted: a retry cannot duplicate."""


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

    def open(self) -> None:
        """Connections are made on first use, so opening twice or not at all is harmless."""

    def close(self) -> None:
        self._pool.close()

    def max_message_bytes(self) -> int | None:
        """The SIZE the relay declares in its EHLO reply (RFC 1870), or None without one.

        Connects (secured as for sending, without logging in) to ask; "SIZE" alone or
        "SIZE 0" means no fixed limit. A relay that cannot be reached raises as a send would.
        """
        limit = self._pool.declared_size().strip()
        return int(limit) if limit.isdigit() and int(limit) > 0 else None

    def size_limit_owner(self) -> str:
        return f"the relay {self._where} (SIZE in its EHLO reply)"

    def send(self, message: OutgoingMessage) -> Receipt:
        for address in (message.from_email, *message.envelope_recipients()):
            if not address.isascii():
                raise PermanentSendError(
                    f"{address} is not an ASCII address; the SMTP provider does not use SMTPUTF8"
                )
        try:
            payload = message.to_bytes(date=datetime.now(UTC))
        except HeaderError as err:  # only a row stored before compose checked headers
            raise PermanentSendError(f"cannot send the message: {err}") from err
        handover: Future[None] | None = None

        def before_data() -> None:
            if handover is not None:
                handover.result()  # HandoverRefused: DATA is never sent

        try:
            for attempt in (1, 2):
                conn = self._pool.acquire(fresh=attempt > 1)
                if handover is None:
                    # Asked for now, waited for before DATA: the sender commits the mark
                    # while MAIL and RCPT go back and forth, and the connection is not
                    # held waiting for it. Once per message, even on a fresh connection.
                    handover = self.request_handover(message.message_id)
                reusable = False
                try:
                    reply = self._transact(conn, message, payload, before_data)
                    reusable = True
                    return Receipt(provider_message_id=_queue_id(reply))
                except _Disconnected as err:
                    if attempt == 2:
                        raise TransientSendError(
                            f"{self._where} dropped two connections before the message was"
                            " sent; nothing was delivered"
                        ) from err.__cause__
                except _Refused as refused:
                    reusable = refused.code != 421 and _reset(conn.smtp)
                    raise refused.error from None
                except HandoverRefused:
                    reusable = _reset(conn.smtp)  # between RCPT and DATA: nothing was sent
                    raise
                finally:
                    self._pool.release(conn, reusable=reusable)
        finally:
            if handover is not None:
                # Ended before DATA (a refusal at MAIL or RCPT): a mark not yet
                # committed is not wanted, or a crash would call the message unknown.
                handover.cancel()
        raise AssertionError("unreachable")  # pragma: no cover

    def _transact(
        self,
        conn: Connection,
        message: OutgoingMessage,
        payload: bytes,
        before_data: Callable[[], None],
    ) -> str:
        """MAIL, RCPT and DATA one step at a time, to know how far the relay got.

        `before_data` runs once the relay has taken the recipient and before the
        DATA command: past that point a crash may leave a delivered message, so it
        waits until the sender has committed `handed_over_at` (providers/base.py).
        """
        smtp = conn.smtp
        conn.sent += 1
        return_path = self.settings.return_path
        sender = (
            envelope_sender(return_path, message.message_id) if return_path else message.from_email
        )
        size = [f"SIZE={len(payload)}"] if smtp.has_extn("size") else []
        # Every recipient must be taken (To, Cc, Bcc) or the message is not sent at all:
        # a letter that reached the office without the copy the team asked for is wrong too.
        steps = (
            (f"MAIL FROM:<{sender}>", lambda: smtp.mail(sender, size)),
            *(
                (f"RCPT TO:<{address}>", functools.partial(smtp.rcpt, address))
                for address in message.envelope_recipients()
            ),
            ("DATA", lambda: smtp.docmd("DATA")),
        )
        for step, command in steps:
            if step == "DATA":
                before_data()
            try:
                code, reply = command()
            except (smtplib.SMTPServerDisconnected, OSError) as err:
                if _timed_out(err):
                    raise TransientSendError(
                        f"{self._where} did not answer {step} within {self.settings.timeout:g} s;"
                        " nothing was delivered"
                    ) from err
                raise _Disconnected from err
            expected = 354 if step == "DATA" else 250
            if code // 100 != expected // 100:
                raise _Refused(self._where, step, code, self._pool.reply(code, reply))
        try:
            smtp.send(_LINE_STARTING_WITH_DOT.sub(b"..", payload) + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise TransientSendError(
                f"connection to {self._where} lost while sending the message data"
                f" ({describe(err.__context__ or err)}); the relay discards an unfinished message"
            ) from err
        try:
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            what = (
                f"{self._where} did not answer the end of the message data within"
                f" {self.settings.timeout:g} s"
                if _timed_out(err)
                else f"connection to {self._where} lost after the message data was sent"
                f" ({describe(err.__context__ or err)})"
            )
            raise DeliveryUnknownError(
                f"{what}; it may have been delivered (not retried, to avoid a duplicate)"
            ) from err
        if code // 100 != 2:
            raise _Refused(self._where, "the message data", code, self._pool.reply(code, reply))
        return self._pool.reply(code, reply).partition(" ")[2]


class _Refused(Exception):
    """The relay answered, and not with success; `error` is what the sender gets."""

    def __init__(self, where: str, step: str, code: int, text: str) -> None:
        super().__init__(step)
        self.code = code
        self.error: SendError
        if 400 <= code < 500:
            self.error = TransientSendError(
                f"{where} deferred {step}: {text}",
                rate_limited=is_throttling(code, text.partition(" ")[2]),
            )
        else:
            self.error = PermanentSendError(f"{where} refused {step}: {text}")


def _queue_id(reply: str) -> str:
    """The relay's queue id when its reply names one, else the whole reply to keep."""
    match = _QUEUE_ID.search(reply)
    return (match[1] or match[2]) if match else reply


def _reset(smtp: smtplib.SMTP) -> bool:
    """End the failed transaction so the connection can carry the next message."""
    try:
        return smtp.rset()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _timed_out(err: BaseException) -> bool:
    # smtplib turns a socket timeout into SMTPServerDisconnected; the timeout is its context.
    return isinstance(err, TimeoutError) or isinstance(err.__context__, TimeoutError)
