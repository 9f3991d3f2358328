"""One SMTP mail transaction on a connection, with or without PIPELINING (RFC 2920).

Without PIPELINING each command waits for its reply, so the relay's answer to
every step is known before the next is sent, and DATA goes only once every
recipient was taken and the hand-over mark is committed. With it, MAIL FROM,
every RCPT TO and DATA go out in one write and their replies are read back in
order: each one is still classified on its own (the first refusal is the
message's verdict, a 421 ends the connection at once), and the rest of the group
is read so that the connection stays in step for RSET. DATA is not the
irreversible step (a relay keeps nothing of a message whose data never ended),
the end of the data is: so the message itself goes only once every recipient
was taken and the mark is committed. A relay that refused a recipient and took
DATA anyway is left with an unfinished DATA (the connection is dropped), so a
refused RCPT can never let a message reach the other recipients.

The mark is asked for right after the last RCPT is written (with PIPELINING,
with the whole group), so the sender commits it while the relay answers that
last round trip; it is waited for just before DATA (with PIPELINING, before the
message). Asking earlier would hide more of the commit, but a crash after the
commit leaves the message `unknown` although it never reached the relay
(benchmarks/storm.py counts how many).
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from concurrent.futures import Future

from capitolmail.errors import (
    DeliveryUnknownError,
    HandoverRefused,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from capitolmail.providers.smtp_pool import Connection, ConnectionPool, describe, drop
from capitolmail.providers.throttling import is_throttling


class Disconnected(Exception):
    """The connection broke before DATA was accepted: a retry cannot duplicate."""


class Refused(Exception):
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


class Handover:
    """The hand-over mark of one message: asked for once, even across a reconnect."""

    def __init__(self, ask: Callable[[], Future[None] | None]) -> None:
        self._ask = ask
        self._asked = False
        self._future: Future[None] | None = None

    def ask(self) -> None:
        if not self._asked:
            self._asked = True
            self._future = self._ask()

    def wait(self) -> None:
        """Block until the mark is committed; raises HandoverRefused (the message is never
        sent)."""
        self.ask()
        if self._future is not None:
            self._future.result()

    def cancel(self) -> None:
        """Ended before DATA: a mark not yet committed is not wanted, or a crash would
        call the message unknown."""
        if self._future is not None:
            self._future.cancel()


class Transaction:
    """MAIL, RCPT and DATA for one message on `conn`; `run()` returns the final reply."""

    def __init__(self, pool: ConnectionPool, conn: Connection, handover: Handover) -> None:
        self.pool = pool
        self.conn = conn
        self.smtp = conn.smtp
        self.where = pool.where
        self.timeout = pool.settings.timeout
        self.handover = handover

    def run(self, sender: str, recipients: list[str], payload: bytes) -> str:
        self.conn.sent += 1
        size = f" SIZE={len(payload)}" if self.smtp.has_extn("size") else ""
        # Every recipient must be taken (To, Cc, Bcc) or the message is not sent at all:
        # a letter that reached the office without the copy the team asked for is wrong too.
        steps = [
            (f"MAIL FROM:<{sender}>", f"MAIL FROM:<{sender}>{size}"),
            *((f"RCPT TO:<{address}>", f"RCPT TO:<{address}>") for address in recipients),
        ]
        if self.conn.pipelining:
            return self._pipelined(steps, payload)
        for step in steps:
            self._write(f"{step[1]}\r\n", step[0])
            if step is steps[-1]:
                self.handover.ask()  # one round trip (the last reply) before DATA
            self._read_group([step[0]])
        self.handover.wait()
        self._write("DATA\r\n", "DATA")
        self._expect("DATA", 354)
        return self._data(payload)

    def _pipelined(self, steps: list[tuple[str, str]], payload: bytes) -> str:
        """MAIL, every RCPT and DATA in one write (RFC 2920 lets DATA end a group).

        DATA is not the irreversible step: a relay keeps nothing of a message whose
        data never ended. So the mark is asked as the group goes out and waited for
        only before the message itself. Each reply is still read in order. When a
        step was refused but DATA was taken anyway (354: the relay took some
        recipient), or the mark is refused after it, the connection is dropped
        unfinished rather than sent a message: an unfinished DATA is discarded, and
        the letter goes to every recipient or to none.
        """
        self._write("".join(f"{wire}\r\n" for _, wire in steps) + "DATA\r\n", steps[0][0])
        self.handover.ask()  # one round trip (the group's replies) before the message
        try:
            self._read_group([label for label, _ in steps])
        except Refused as refused:
            if refused.code != 421:
                try:
                    taken = self._reply("DATA")[0] == 354
                except (Disconnected, TransientSendError):
                    taken = True  # no answer: the connection's state is unknown
                if taken:
                    drop(self.conn)
            raise
        self._expect("DATA", 354)
        try:
            self.handover.wait()
        except HandoverRefused:
            drop(self.conn)
            raise
        return self._data(payload)

    def _read_group(self, labels: list[str]) -> None:
        """Read one reply per command, in order; raise the first refusal after the last."""
        refused: Refused | None = None
        for label in labels:
            try:
                code, reply = self._reply(label)
            except (Disconnected, TransientSendError):
                if refused is None:
                    raise
                raise refused from None  # the verdict came; the connection is gone now
            if code // 100 != 2 and refused is None:
                refused = Refused(self.where, label, code, self.pool.reply(code, reply))
                if code == 421:
                    raise refused  # the relay closes the connection after a 421
        if refused is not None:
            raise refused

    def _expect(self, label: str, expected: int) -> None:
        code, reply = self._reply(label)
        if code // 100 != expected // 100:
            raise Refused(self.where, label, code, self.pool.reply(code, reply))

    def _write(self, commands: str, label: str) -> None:
        try:
            self.smtp.send(commands)
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise Disconnected(label) from err

    def _reply(self, label: str) -> tuple[int, bytes]:
        """The relay's reply code and its raw text: made readable (and redacted) only
        where it is kept, in a refusal; four replies a message pass unread."""
        try:
            code, reply = self.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            if timed_out(err):
                raise TransientSendError(
                    f"{self.where} did not answer {label} within {self.timeout:g} s;"
                    " nothing was delivered"
                ) from err
            raise Disconnected(label) from err
        return code, reply

    def _data(self, payload: bytes) -> str:
        """The message itself and the relay's verdict on it: past here, never retried."""
        try:
            self.smtp.send(dot_stuffed(payload) + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise TransientSendError(
                f"connection to {self.where} lost while sending the message data"
                f" ({describe(err.__context__ or err)}); the relay discards an unfinished message"
            ) from err
        try:
            code, reply = self.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            what = (
                f"{self.where} did not answer the end of the message data within {self.timeout:g} s"
                if timed_out(err)
                else f"connection to {self.where} lost after the message data was sent"
                f" ({describe(err.__context__ or err)})"
            )
            raise DeliveryUnknownError(
                f"{what}; it may have been delivered (not retried, to avoid a duplicate)"
            ) from err
        text = self.pool.reply(code, reply)
        if code // 100 != 2:
            raise Refused(self.where, "the message data", code, text)
        return text.partition(" ")[2]


def dot_stuffed(payload: bytes) -> bytes:
    """`payload` with a dot added before every line that starts with one (RFC 5321 4.5.2).

    Written with bytes.replace rather than a multi-line regex: four times faster
    over a letter, and it runs for every message sent."""
    stuffed = payload.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def reset(smtp: smtplib.SMTP) -> bool:
    """End the failed transaction so the connection can carry the next message."""
    try:
        return smtp.rset()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def timed_out(err: BaseException) -> bool:
    # smtplib turns a socket timeout into SMTPServerDisconnected; the timeout is its context.
    return isinstance(err, TimeoutError) or isinstance(err.__context__, TimeoutError)
