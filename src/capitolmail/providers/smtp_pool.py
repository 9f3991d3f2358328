"""Persistent SMTP connections for `SmtpProvider`: opened securely, one per sending thread.

At most `connections` are open at once, one for each of the provider's sending
threads (smtp_senders.py): a relay that sees more parallel sessions than its
limit answers 421 to all of them. A thread keeps its connection from message to
message; one that is broken, or has carried `max_messages_per_connection`
messages (some receivers drop a session after about 20), is closed and the
thread's next message opens a new one.

Failures while connecting are classified here. A refused or timed-out connect,
a 4xx greeting or an interrupted handshake become `TransientSendError`: nothing
was sent and the relay may recover. A certificate that fails verification, a
plain-text answer to `security = "tls"`, a relay without STARTTLS or AUTH, a
refused login and a 5xx greeting become
`ProviderSettingsError`, so the sender pauses the job instead of failing every
message one by one: none of them fixes itself, and each needs an operator.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field

from pydantic import SecretStr

from capitolmail.config.sections import SmtpSettings
from capitolmail.errors import ConfigError, ProviderSettingsError, SendError, TransientSendError
from capitolmail.providers.throttling import is_throttling
from capitolmail.redaction import Redactor

# A connection idle longer than this is checked with NOOP before use. Relays
# drop idle sessions (Postfix after 300 s, some after 10 s); while sending
# steadily a connection is never idle this long, so the check costs nothing.
IDLE_CHECK_AFTER = 5.0

# OpenSSL's reasons when the other side answers a TLS handshake with plain text,
# such as a STARTTLS relay's "220" greeting (the record layer's name from OpenSSL 3.2).
_PLAIN_TEXT_ANSWER = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"})


@dataclass(eq=False)
class Connection:
    smtp: smtplib.SMTP
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def pipelining(self) -> bool:
        """Whether the relay offered PIPELINING (RFC 2920) in its EHLO reply."""
        return bool(self.smtp.has_extn("pipelining"))


class ConnectionPool:
    """Opens and retires the sending threads' connections; each thread holds its own."""

    def __init__(self, settings: SmtpSettings, password: SecretStr | None) -> None:
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self._password = password
        # A relay may echo the password, or the base64 of the AUTH line, in any reply.
        self.redact = Redactor([password.get_secret_value() if password else None])
        self._context = None if settings.security == "none" else _tls_context(settings)
        self._ehlo_name = settings.local_hostname or fully_qualified_name()

    def ready(self, conn: Connection | None, *, fresh: bool = False) -> Connection:
        """The connection to send the next message on: `conn` if it still works, else a new one.

        `fresh` replaces `conn` even so: it just broke before DATA was accepted.
        """
        if conn is not None:
            if not fresh and self._alive(conn):
                return conn
            drop(conn)
        return Connection(self._connect())

    def finished(self, conn: Connection, *, reusable: bool) -> Connection | None:
        """After a message: the connection to keep for the next one, or None."""
        if not reusable:
            drop(conn)
            return None
        if conn.sent >= self.settings.max_messages_per_connection:
            quit_quietly(conn)
            return None
        conn.last_used = time.monotonic()
        return conn

    def _alive(self, conn: Connection) -> bool:
        if time.monotonic() - conn.last_used < IDLE_CHECK_AFTER:
            return True
        try:
            return conn.smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def declared_size(self) -> str:
        """The SIZE keyword's value in the relay's EHLO reply ("" without one).

        Asked on a connection of its own, secured as for sending but never logged in:
        RFC 1870's SIZE is announced before AUTH, and queueing needs no credentials.
        It takes no pool slot and is closed at once.
        """
        smtp = self._connect(login=False)
        try:
            return smtp.esmtp_features.get("size", "") if smtp.does_esmtp else ""
        finally:
            quit_quietly(Connection(smtp))

    def _connect(self, *, login: bool = True) -> smtplib.SMTP:
        """Connect, greet, secure, log in. The host name given is the one the certificate must name.

        smtplib closes the socket itself when its constructor fails, and only
        the constructor records the host that STARTTLS verifies against.
        """
        s = self.settings
        smtp: smtplib.SMTP
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    local_hostname=self._ehlo_name,
                    timeout=s.connect_timeout,
                    context=self._context,
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, s.port, local_hostname=self._ehlo_name, timeout=s.connect_timeout
                )
        except (smtplib.SMTPException, OSError) as err:
            raise self._setup_error(err) from err
        try:
            if self._ehlo_name is None:
                smtp.local_hostname = address_literal(smtp.sock.getsockname()[0])
            smtp.sock.settimeout(s.timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                smtp.starttls(context=self._context)
                smtp.ehlo()
            if s.username and login:
                assert self._password is not None  # checked by SmtpProvider
                smtp.login(s.username, self._password.get_secret_value())
        except BaseException as err:
            smtp.close()
            if isinstance(err, smtplib.SMTPException | OSError):
                raise self._setup_error(err) from err
            raise
        return smtp

    def _setup_error(self, err: smtplib.SMTPException | OSError) -> SendError:
        where, s = self.where, self.settings
        if isinstance(err, ssl.SSLCertVerificationError):
            return ProviderSettingsError(
                f"the certificate of {where} is not trusted ({_verify_reason(err)}): set"
                " [provider.smtp] ca_file to the CA that signed it, or set host to a name"
                " the certificate lists"
            )
        if isinstance(err, ssl.SSLError) and err.reason in _PLAIN_TEXT_ANSWER:
            # The relay greeted in plain text where a TLS handshake was expected.
            speaks = f"port {s.port} speaks STARTTLS" if s.port != 465 else "it expects STARTTLS"
            return ProviderSettingsError(
                f"{where} answered in plain text where TLS was expected ({err.reason}):"
                f' {speaks}; set [provider.smtp] security = "starttls"'
            )
        if isinstance(err, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(err):
            return ProviderSettingsError(
                f'{where} does not offer STARTTLS; use security = "tls" if it expects TLS'
                " from the start (port 465)"
            )
        if isinstance(err, smtplib.SMTPNotSupportedError):
            return ProviderSettingsError(
                f"{where} does not offer AUTH; leave [provider.smtp] username empty"
                " if it needs no login"
            )
        if isinstance(err, smtplib.SMTPResponseException):
            reply = self.reply(err.smtp_code, err.smtp_error)
            if 400 <= err.smtp_code < 500:
                # "421 4.7.0 Error: too many connections from ...": a throttle too.
                return TransientSendError(
                    f"{where} is not accepting mail now: {reply}",
                    rate_limited=is_throttling(err.smtp_code, reply.partition(" ")[2]),
                )
            if isinstance(err, smtplib.SMTPAuthenticationError):
                return ProviderSettingsError(
                    f"{where} refused the login of {s.username!r}: {reply}; check"
                    " [provider.smtp] username and CAPITOLMAIL_SMTP_PASSWORD"
                )
            return ProviderSettingsError(f"{where} refused the session: {reply}")
        if isinstance(err, smtplib.SMTPServerDisconnected | OSError):
            hint = (
                '; port 465 expects TLS from the first byte: set security = "tls"'
                if s.port == 465 and s.security == "starttls" and isinstance(err, TimeoutError)
                else ""
            )
            return TransientSendError(f"cannot connect to {where}: {describe(err)}{hint}")
        return ProviderSettingsError(
            self.redact(f"cannot start a session with {where}: {err}")
        )  # e.g. no AUTH method

    def reply(self, code: int, reply: bytes | str) -> str:
        """A relay's reply as one line of text, with every form of the password redacted."""
        return self.redact(reply_text(code, reply))


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Certificate and host name checks stay on; `ca_file` only changes whom we trust."""
    cafile = settings.ca_file
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"[provider.smtp] ca_file: cannot load {cafile}: {describe(err)}"
        ) from err


def fully_qualified_name() -> str | None:
    """This machine's fully qualified name for EHLO, or None when it has none.

    Relays check the EHLO name (Postfix's reject_non_fqdn_helo_hostname), and
    smtplib's own fallback, the address its host name resolves to, is often
    [127.0.0.1]; with None the pool greets with the address of the connection itself.
    """
    name = socket.getfqdn().rstrip(".")
    first = name.partition(".")[0].lower()
    if "." not in name or first in ("localhost", "localhost4", "localhost6", "ip6-localhost"):
        return None
    return name


def address_literal(address: str) -> str:
    """RFC 5321's form of an address in EHLO: [192.0.2.1] or [IPv6:2001:db8::1]."""
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _verify_reason(err: ssl.SSLCertVerificationError) -> str:
    """OpenSSL's words for why, e.g. "self-signed certificate in certificate chain"."""
    return str(err.verify_message or err.reason or err)


def reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"


def describe(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def drop(conn: Connection) -> None:
    """Close without QUIT: the connection is broken or the relay said 421."""
    conn.smtp.close()


def quit_quietly(conn: Connection) -> None:
    """QUIT politely; the relay may already be gone (a TLS session often is), so ignore it."""
    try:
        conn.smtp.quit()
    except (smtplib.SMTPException, OSError):
        conn.smtp.close()
