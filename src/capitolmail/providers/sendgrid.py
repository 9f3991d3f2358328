"""SendGrid's v3 Web API over our own keep-alive aiohttp pool; the payload is built apart.

Not the official client: `python_http_client` opens a new connection per request
and sets no timeout. Not httpx either: at 64 requests in flight with 50 ms of
latency (the provider issue's figures), httpx.AsyncClient managed 131 msg/s and
httpx.Client on 64 threads 394. urllib3 on 64/128 threads did 1,143/1,624 but at
256 threads a thread per request costs more CPU than the rest of a send (claim,
payload, record), so one aiohttp pool on one event loop (providers/event_loop.py)
holds every request: aiohttp alone did 1,178/1,990/2,092 at 64/128/256 in flight.
The sender hands messages over with `submit()`, gets a Future back and runs the
loop with `pump()` while it waits, committing hand-over marks between the loop's
turns (providers/base.py); `send()` runs the loop until its own reply is in. Both
are safe from any number of threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, ClassVar

import urllib3
from pydantic import SecretStr

from capitolmail.config.names import secret_variable
from capitolmail.config.sections import SendGridSettings
from capitolmail.errors import (
    ConfigError,
    DeliveryUnknownError,
    ProviderSettingsError,
    SendError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt
from capitolmail.providers.sendgrid_payload import (
    MAX_REQUEST_BYTES,
    SIZE_LIMIT_OWNER,
    build_request,
    request_size,
)
from capitolmail.providers.sendgrid_replies import (
    certificate_reason,
    reason,
    refusal,
    reply_text,
)
from capitolmail.redaction import Redactor

if TYPE_CHECKING:
    import asyncio

    import aiohttp
    from yarl import URL

    from capitolmail.providers.event_loop import SharedLoop

SEND_PATH = "/v3/mail/send"
_KEY_VARIABLE = secret_variable("sendgrid_api_key")
# capacity(): a whole pool claimed ahead. The sender claims when half of what it keeps
# in flight is free (at most 64), so the pool is still full then (benchmarks/README.md).
CLAIM_AHEAD_POOLS = 2
_LOOPBACK = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})


class SendGridProvider(ProviderBase):
    """One POST per message; the reply is classified, never retried here.

    2xx (202; 200 in sandbox mode) is a Receipt carrying `X-Message-Id`. 429 is
    transient and `rate_limited`, with `retry_after` taken from `X-RateLimit-Reset`
    (a Unix time): the sender slows down and does not count it against the message.
    5xx and 3xx are transient; 401/403 refuse the key; any other 4xx is permanent
    with SendGrid's own `errors` list. A status line that came whole is a verdict
    even when the body after it broke off.

    Only what provably never reached SendGrid is transient without an answer: no
    connection (refused, DNS, TLS, connect timeout; aiohttp raises
    ClientConnectorError or ConnectionTimeoutError before a byte of the request is
    written). Everything else that ends a request without a status line (a read
    timeout, SocketTimeoutError; ServerDisconnectedError; a reset, ClientOSError,
    also when writing the body failed, since aiohttp reports that the same way) is
    `DeliveryUnknownError`: SendGrid may have accepted the message. SendGrid's docs
    say to retry on timeouts, and ten letters of two hundred reached Hill offices
    twice when it answered after our timeout; a webhook event for the message
    settles it later (tracking/apply.py). A certificate that is not trusted is
    `ProviderSettingsError` instead: every message would meet it, so the job pauses.
    """

    name: ClassVar[str] = "sendgrid"

    def __init__(
        self, settings: SendGridSettings, *, api_key: SecretStr, pool_size: int = 64
    ) -> None:
        key = api_key.get_secret_value()
        if not key:
            raise ConfigError(f"{_KEY_VARIABLE} is not set; put it in .env or the environment")
        if re.search(r"[\s\x00-\x1f\x7f]", key):
            # http.client would refuse the header with the value in its message.
            raise ConfigError(f"{_KEY_VARIABLE} contains a space or line break; copy the key again")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        url = urllib3.util.parse_url(settings.base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigError(
                f'capitolmail.toml [provider.sendgrid]: base_url "{settings.base_url}" '
                'is not an http(s) URL (try "https://api.sendgrid.com")'
            )
        if url.scheme == "http" and url.host not in _LOOPBACK:
            raise ConfigError(
                f'capitolmail.toml [provider.sendgrid]: base_url "{settings.base_url}" would '
                "send the API key unencrypted; use https:// (http is allowed only to localhost)"
            )
        self.settings = settings
        self.pool_size = pool_size
        self._redact = Redactor([key])
        self._url: str | URL = settings.base_url.rstrip("/") + SEND_PATH
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._loop: SharedLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None  # made on the loop, with the session
        self._refusals, self._refusal = 0, None  # the settings errors answered, the last
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SendGridProvider(base_url={self.settings.base_url!r}, pool_size={self.pool_size})"

    def max_message_bytes(self) -> int | None:
        """SendGrid's published limit: a request under 30 MB, attachments base64-encoded."""
        return MAX_REQUEST_BYTES

    def message_size(self, message: OutgoingMessage) -> int:
        return request_size(
            message,
            sandbox_mode=self.settings.sandbox_mode,
            unsubscribe_group_id=self.settings.unsubscribe_group_id,
        )

    def size_limit_owner(self) -> str:
        return SIZE_LIMIT_OWNER

    def open(self) -> None:
        # Imported here, not with the module: aiohttp and asyncio add ~0.13 s and ~10 MB
        # to every command that loads the providers, most of which never send.
        from capitolmail.providers.event_loop import SharedLoop

        with self._lock:
            if self._session is None:
                loop = SharedLoop("capitolmail-sendgrid")
                loop.start()
                self._session = loop.result(loop.submit(self._make_session()))
                self._loop = loop

    def close(self) -> None:
        with self._lock:
            loop, session = self._loop, self._session
            self._loop = self._session = None
        if loop is None:
            return
        if session is not None:
            loop.result(loop.submit(session.close()))
        loop.close()

    async def _make_session(self) -> aiohttp.ClientSession:
        import asyncio

        import aiohttp
        from yarl import URL

        self._url = URL(str(self._url))  # parsed once, not at every request
        self._slots = asyncio.Semaphore(self.pool_size)
        # limit: never more than pool_size connections; requests beyond wait for one.
        # sock_connect rather than connect, so waiting for a pooled connection is not
        # mistaken for SendGrid being unreachable; sock_read bounds each wait for the
        # reply, as urllib3's read timeout did. Certificates are verified by default.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.settings.connect_timeout,
                sock_read=self.settings.timeout,
            ),
            headers=self._headers,
        )

    def send(self, message: OutgoingMessage) -> Receipt:
        future = self.submit(message)
        loop = self._loop
        return loop.result(future) if loop is not None else future.result()

    def submit(self, message: OutgoingMessage) -> Future[Receipt]:
        """Hand a message to the provider's event loop; the Future holds the Receipt or
        the TransientSendError, PermanentSendError, DeliveryUnknownError or
        ProviderSettingsError `send` raises.
        It progresses while some thread runs the loop: `pump` or `send`."""
        if self._session is None:
            self.open()
        loop, session = self._loop, self._session
        if loop is not None and session is not None:
            try:
                return loop.submit(self._post(session, message))
            except RuntimeError:  # closed by another thread in between
                pass
        failed: Future[Receipt] = Future()
        failed.set_exception(TransientSendError("the SendGrid provider was closed while sending"))
        return failed

    def capacity(self, concurrency: int) -> int:
        """Requests in flight: the pool, and as many again claimed ahead of it.

        While the send loop claims and records, the requests that finished leave
        their connections idle; the ones claimed ahead take them at once, and the
        loop claims again when half (at most 64) are free, so the pool stays full. Claimed
        ahead, a message is not yet handed over, so a crash returns it to `queued`.
        """
        return self.pool_size * CLAIM_AHEAD_POOLS

    def pump(self, until: Callable[[], bool], timeout: float) -> bool:
        """Run the requests in flight in this thread until `until()` holds or `timeout`
        seconds have passed (0: what is ready now). `until` is checked between the
        loop's turns, after one in which a request finished or asked for its mark."""
        loop = self._loop
        if loop is None:
            return False
        loop.run_until(until, timeout)
        return True

    async def _post(self, session: aiohttp.ClientSession, message: OutgoingMessage) -> Receipt:
        """One request, once one of `pool_size` slots is free: taken before the hand-over
        mark, so a message claimed ahead of the pool (`capacity`) waits unmarked (a crash
        returns it to `queued`); aiohttp's limit is the same, so a slot finds a connection."""
        assert self._slots is not None
        refusals = self._refusals
        async with self._slots:
            if self._refusals != refusals and self._refusal is not None:
                # Refused (key, base_url) while this one waited: it would be too.
                raise ProviderSettingsError(str(self._refusal))
            try:
                return await self._request(session, message)
            except ProviderSettingsError as err:
                self._refusals, self._refusal = self._refusals + 1, err
                raise

    async def _request(self, session: aiohttp.ClientSession, message: OutgoingMessage) -> Receipt:
        import asyncio  # loaded by open() already, as is aiohttp; this only binds the names

        import aiohttp

        _, body = build_request(
            message,
            sandbox_mode=self.settings.sandbox_mode,
            unsubscribe_group_id=self.settings.unsubscribe_group_id,
        )
        status: int | None = None
        headers: Mapping[str, str] = {}
        await self._hand_over(message.message_id)
        try:
            async with session.post(self._url, data=body, allow_redirects=False) as response:
                status, headers = response.status, response.headers
                data = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            if status is not None:
                # The verdict came; only the body after it broke off (202 has none anyway).
                return self._classify(status, headers, b"")
            raise self._transport_error(err) from err
        except asyncio.CancelledError as err:
            # Only when the provider is closed with requests in flight: how far this
            # one got is unknowable, and the task has nothing left to do but say so.
            raise DeliveryUnknownError(
                "the request to SendGrid was cancelled in flight; it may have accepted the message"
            ) from err
        return self._classify(status, headers, data)

    async def _hand_over(self, message_id: str) -> None:
        """Wait, without blocking the loop, until the sender committed `handed_over_at`.

        The sender commits in the thread that pumps this loop, between its turns:
        `recheck` has its condition checked at the next turn, where one UPDATE marks
        every request that asked in this one, and the loop goes on meanwhile.
        """
        hook = self.before_handover
        if hook is None:
            return
        waiting = hook(message_id)
        loop = self._loop
        if not waiting.done() and loop is not None:
            loop.recheck()
            await loop.wrap(waiting)
        waiting.result()  # HandoverRefused: never written

    def _classify(self, status: int, headers: Mapping[str, str], data: bytes) -> Receipt:
        if 200 <= status < 300:
            return Receipt(provider_message_id=headers.get("X-Message-Id"))
        raise refusal(status, headers, reply_text(data, self._redact), self.settings.base_url)

    def _transport_error(self, err: BaseException) -> SendError:
        """Transient when no connection was made, so no byte of the request went out;
        `DeliveryUnknownError` for everything else, where aiohttp cannot say."""
        import aiohttp

        where = self.settings.base_url
        # Subclasses of ClientConnectorError first: all of them fail before any write.
        if isinstance(err, aiohttp.ClientConnectorCertificateError):
            # Every message would meet the same certificate: stop the job, as for a bad key.
            return ProviderSettingsError(
                self._redact(
                    f"the certificate of {where} is not trusted ({certificate_reason(err)}):"
                    " check [provider.sendgrid] base_url; behind a proxy that inspects TLS,"
                    " add its CA to the system's trusted certificates"
                )
            )
        if isinstance(err, aiohttp.ClientSSLError):
            return TransientSendError(self._redact(f"TLS with {where} failed: {reason(err)}"))
        if isinstance(err, aiohttp.ConnectionTimeoutError):
            return TransientSendError(
                f"no connection to SendGrid at {where} within {self.settings.connect_timeout} s"
            )
        if isinstance(err, aiohttp.ClientConnectorError):
            return TransientSendError(
                self._redact(f"cannot connect to SendGrid at {where}: {reason(err)}")
            )
        if isinstance(err, TimeoutError):  # aiohttp.SocketTimeoutError, asyncio's too
            text = f"SendGrid did not answer within {self.settings.timeout:g} s"
        elif isinstance(err, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | OSError):
            text = f"SendGrid closed the connection without an answer ({reason(err)})"
        else:
            text = f"the request to SendGrid ended without an answer: {reason(err)}"
        return DeliveryUnknownError(
            self._redact(f"{text}; it may have accepted the message (not retried)")
        )
