"""A real SMTP server on 127.0.0.1: aiosmtpd in a thread, with a mailbox and a script.

`MailServer` records every message it accepts and can be told, per test, to
answer a given reply to MAIL, RCPT or DATA (for one recipient or all), to hang
up instead of answering, to answer slowly, to require AUTH, and to refuse a login
with a reply of the test's making (one that echoes the credentials). Like Django's
test handler it refuses with 553 when the envelope sender and the From header
disagree, a cheap invariant every provider must keep.

A reply starting with 421 closes the connection after it is sent, as a real
relay does. Hanging up on DATA happens after the message was stored: the relay
accepted it and the client never heard, the case a provider must not retry.

Every message is checked by tests/headers.py before it is stored: a malformed
one is refused with 554 and fails the test when the server stops.

Sessions are counted as the TCP connections the client opens, with the most
that were open at once, so tests can see pooling and connection limits.

`running_mail_server(pipelining=True)` offers PIPELINING (RFC 2920) in its EHLO
reply; aiosmtpd reads commands off the stream in order, so it handles pipelined
input without being told. `writes` keeps every chunk of bytes the server read,
as the client wrote them, so tests can see which commands came in one write.

`throttle(limit, per)` makes it a relay with a rate limit, like Postfix's anvil
(`smtpd_client_message_rate_limit`) or a policy service: beyond `limit`
messages in a window of `per` seconds it defers MAIL or RCPT with `450 4.7.1
Error: too much mail from 127.0.0.1` (or any reply given, such as a 421 that
also closes the connection) until the next window, and counts its refusals.
"""

from __future__ import annotations

import asyncio
import datetime
import email.policy
import functools
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from capitolmail.verp import envelope_sender
from tests.headers import wire_format_problems

# Returned as a status: close the connection without answering.
HANG_UP = "(hang up)"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes  # exactly as it came over the wire, dot-stuffing undone
    session: int  # 1 for the first connection the client opened, and so on
    tls: bool
    at: float = field(default_factory=time.time)  # when the server took it
    helo: str = ""  # the name the client gave in EHLO or HELO

    @functools.cached_property
    def message(self) -> EmailMessage:
        """Read as a mail client would (parsed on first use: it is the slow part)."""
        return _parse(self.raw)


def _parse(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    parser = BytesParser(policy=email.policy.default)
    message = parser.parsebytes(raw.replace(b"\r\n", b"\n"), headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    return message


TOO_MUCH_MAIL = "450 4.7.1 Error: too much mail from 127.0.0.1"
TOO_MANY_CONNECTIONS = "421 4.7.0 mx.capitolmail.test Error: too many connections from 127.0.0.1"


@dataclass
class _Throttle:
    command: str
    limit: int
    per: float
    reply: str
    window_start: float = 0.0
    taken: int = 0


@dataclass
class Rule:
    command: str
    reply: str
    recipient: str | None = None
    delay: float = 0.0
    times: int | None = None


class MailServer:
    """The handler: the mailbox, the session counts, and what to answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._rules: list[Rule] = []
        self.credentials: tuple[str, str] | None = None
        # Builds the reply to a refused login from the user name and password given.
        self.login_refusal: Callable[[str, str], str] | None = None
        # Messages refused because tests/headers.py found them malformed; the
        # server raises at the end of its test when there are any.
        self.malformed: list[tuple[bytes, list[str]]] = []
        self._throttle: _Throttle | None = None
        self.throttled = 0  # throttle replies given
        self.sessions = 0
        self.open_sessions = 0
        self.most_open_sessions = 0
        self.port = 0
        # With a VERP return path (capitolmail/verp.py) the envelope sender must be its
        # +MESSAGE-ID form for the message's own id, instead of the From address.
        self.return_path: str | None = None
        self.pipelining = False
        self._writes: list[bytes] = []

    # -- the script -----------------------------------------------------------------

    def answer(
        self, command: str, reply: str, *, recipient: str | None = None, times: int | None = None
    ) -> None:
        """Answer `reply` to MAIL, RCPT or DATA (for `recipient` only, when given)."""
        with self._lock:
            self._rules.append(Rule(command, reply, recipient, times=times))

    def hang_up(self, command: str, *, times: int | None = 1) -> None:
        self.answer(command, HANG_UP, times=times)

    def slow(self, command: str, seconds: float, *, recipient: str | None = None) -> None:
        with self._lock:
            self._rules.append(Rule(command, "", recipient, delay=seconds))

    def throttle(
        self, limit: int, per: float, *, command: str = "RCPT", reply: str = TOO_MUCH_MAIL
    ) -> None:
        """Take at most `limit` messages per `per` seconds; defer the rest at `command`."""
        with self._lock:
            self._throttle = _Throttle(command, limit, per, reply)

    def _over_the_limit(self, command: str) -> str | None:
        with self._lock:
            limit = self._throttle
            if limit is None or limit.command != command:
                return None
            now = time.monotonic()
            if now - limit.window_start >= limit.per:
                limit.window_start, limit.taken = now, 0
            if limit.taken >= limit.limit:
                self.throttled += 1
                return limit.reply
            limit.taken += 1
            return None

    def require_auth(self, username: str, password: str) -> None:
        self.credentials = (username, password)

    def refuse_login(self, reply: Callable[[str, str], str]) -> None:
        """Refuse every login with `reply(username, password)`, e.g. a 535 echoing them."""
        self.login_refusal = reply
        if self.credentials is None:
            self.credentials = ("", "")  # AUTH is required, and nobody passes it

    # -- what happened ----------------------------------------------------------------

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def writes(self) -> list[bytes]:
        """What the server read, one item per chunk the network delivered."""
        with self._lock:
            return list(self._writes)

    def read(self, data: bytes) -> None:
        with self._lock:
            self._writes.append(bytes(data))

    def session_opened(self) -> int:
        with self._lock:
            self.sessions += 1
            self.open_sessions += 1
            self.most_open_sessions = max(self.most_open_sessions, self.open_sessions)
            return self.sessions

    def session_closed(self) -> None:
        with self._lock:
            self.open_sessions -= 1

    # -- aiosmtpd hooks -----------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves it to a handler with this hook
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if reply := self._over_the_limit("MAIL") or await self._scripted("MAIL", None):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if reply := self._over_the_limit("RCPT") or await self._scripted("RCPT", address):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        raw = envelope.original_content
        problems = wire_format_problems(raw)
        if problems:
            with self._lock:
                self.malformed.append((raw, problems))
            return f"554 5.6.0 malformed message: {problems[0]}"
        headers = _parse(raw, headers_only=True)
        from_header = parseaddr(str(headers["From"]))[1]
        expected = from_header
        if self.return_path is not None:
            message_id = str(headers["Message-ID"]).strip("<> ").partition("@")[0]
            expected = envelope_sender(self.return_path, message_id)
        if expected != envelope.mail_from:
            return f"553 5.7.1 envelope sender <{envelope.mail_from}> is not <{expected}>"
        rule = self._next_rule("DATA", envelope.rcpt_tos[0])
        reply = rule.reply if rule else ""
        if rule and reply not in ("", HANG_UP) and not reply.startswith("2"):
            await asyncio.sleep(rule.delay)
            return reply  # refused: not stored
        assert server.transport is not None
        with self._lock:
            self._received.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=raw,
                    session=getattr(server, "session_number", 0),
                    tls=server.transport.get_extra_info("ssl_object") is not None,
                    helo=session.host_name or "",
                )
            )
            queue_id = f"Q{len(self._received):06d}"
        if rule and rule.delay:  # stored first: a slow reply does not mean it was not taken
            await asyncio.sleep(rule.delay)
        return reply or f"250 2.0.0 Ok: queued as {queue_id}"

    async def _scripted(self, command: str, recipient: str | None) -> str | None:
        """The first matching rule's reply, after its delay; None to carry on as normal."""
        rule = self._next_rule(command, recipient)
        if rule is None:
            return None
        if rule.delay:
            await asyncio.sleep(rule.delay)
        return rule.reply or None

    def _next_rule(self, command: str, recipient: str | None) -> Rule | None:
        with self._lock:
            rule = next(
                (
                    r
                    for r in self._rules
                    if r.command == command
                    and r.recipient in (None, recipient)
                    and (r.times is None or r.times > 0)
                ),
                None,
            )
            if rule is not None and rule.times is not None:
                rule.times -= 1
            return rule

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        if not ok and self.login_refusal is not None and isinstance(data, LoginPassword):
            reply = self.login_refusal(data.login.decode(), data.password.decode())
            return AuthResult(success=False, handled=False, message=reply)
        return AuthResult(success=ok, handled=False)  # so aiosmtpd answers 535


class _SMTP(SMTP):
    """aiosmtpd's session, counted, and able to hang up or close after a 421."""

    def __init__(self, mailbox: MailServer, *, counted: bool, **kwargs: Any) -> None:
        super().__init__(mailbox, **kwargs)
        self.mailbox = mailbox
        self.counted = counted
        self.session_number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again for the TLS layer
        super().connection_made(transport)
        if first and self.counted:
            self.session_number = self.mailbox.session_opened()

    def data_received(self, data: bytes) -> None:
        if self.counted:
            self.mailbox.read(data)
        super().data_received(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self.session_number:
            self.session_number = 0
            self.mailbox.session_closed()
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        if status == HANG_UP:
            assert self.transport is not None
            self.transport.close()
            return
        await super().push(status)
        if str(status).startswith("421") and self.transport is not None:
            self.transport.close()


class _Controller(Controller):
    """Listens on a free port; the connection aiosmtpd makes to check itself is not counted."""

    def __init__(self, mailbox: MailServer, **kwargs: Any) -> None:
        super().__init__(mailbox, hostname="127.0.0.1", port=0, **kwargs)
        self._checking = False

    def factory(self) -> _SMTP:
        return _SMTP(self.handler, counted=not self._checking, loop=self.loop, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        self._checking = True
        try:
            super()._trigger_server()
        finally:
            self._checking = False


@contextmanager
def running_mail_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    idle_timeout: float = 300,
    data_size_limit: int | None = None,
    pipelining: bool = False,
) -> Iterator[MailServer]:
    """Start a server for one test and stop it after; `idle_timeout` drops quiet sessions.

    `data_size_limit` is the SIZE the relay declares in EHLO and enforces on DATA (552);
    aiosmtpd's own default is 32 MiB (0: no SIZE limit).
    """
    mailbox = MailServer()
    mailbox.pipelining = pipelining
    sizes = {} if data_size_limit is None else {"data_size_limit": data_size_limit}
    controller = _Controller(
        mailbox,
        ssl_context=implicit_tls,
        server_hostname="mx.capitolmail.test",
        tls_context=starttls,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
        timeout=idle_timeout,
        **sizes,
    )
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()
    assert not mailbox.malformed, "malformed message(s) reached the SMTP server:\n  " + (
        "\n  ".join(problem for _, problems in mailbox.malformed for problem in problems)
    )


# -- certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    other_ca_file: Path
    server_context: ssl.SSLContext


def make_certificates(directory: Path) -> Certificates:
    """A CA, a server certificate it signs for 127.0.0.1, and an unrelated CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: Any, *, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if ca:
            usage = x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            )
            builder = builder.add_extension(usage, critical=True)
        else:
            usage = x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            )
            builder = (
                builder.add_extension(usage, critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                .add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                            x509.DNSName("localhost"),
                        ]
                    ),
                    critical=False,
                )
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = certificate("capitolmail test CA", ca_key, "capitolmail test CA", ca_key, ca=True)
    other = certificate("some other CA", other_key, "some other CA", other_key, ca=True)
    server = certificate("127.0.0.1", server_key, "capitolmail test CA", ca_key, ca=False)

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(pem(ca))
    (directory / "other-ca.pem").write_bytes(pem(other))
    (directory / "server.pem").write_bytes(pem(server) + pem(ca))
    (directory / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return Certificates(directory / "ca.pem", directory / "other-ca.pem", context)
