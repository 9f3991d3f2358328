"""SendGrid's v3 Web API over our own keep-alive urllib3 pool; the payload is built apart.

Not the official client: `python_http_client` opens a new connection per request
and sets no timeout. Not httpx either: at 64 requests in flight with 50 ms of
latency (the provider issue's figures), httpx.AsyncClient managed 131 msg/s and
httpx.Client on 64 threads 394, while urllib3 on 64/128 threads did 1,143/1,624.
The sender calls `send()` from N threads, and urllib3's pool is thread-safe.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import ClassVar

import urllib3
from pydantic import SecretStr
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from capitolmail.config import SendGridSettings, secret_variable
from capitolmail.errors import (
    ConfigError,
    PermanentSendError,
    ProviderAuthError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt
from capitolmail.providers.sendgrid_payload import build_request

SEND_PATH = "/v3/mail/send"
_KEY_VARIABLE = secret_variable("sendgrid_api_key")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})
_EXCERPT = 200


class SendGridProvider(ProviderBase):
    """One POST per message; the reply is classified, never retried here.

    2xx (202; 200 in sandbox mode) is a Receipt carrying `X-Message-Id`. 429 is
    transient and `rate_limited`, with `retry_after` taken from `X-RateLimit-Reset`
    (a Unix time): the sender slows down and does not count it against the message.
    5xx, 3xx, timeouts and dropped connections are transient; 401/403 refuse the
    key; any other 4xx is permanent with SendGrid's own `errors` list.

    A read timeout or a connection dropped after the request went out is
    ambiguous: SendGrid may already have accepted the message. It is still
    transient, as SendGrid's docs say to retry on timeouts and 5xx, so such a
    retry can deliver a duplicate; `custom_args` carry our message id on both
    copies, so webhook events still resolve to one row.
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
        self._key = key
        self._tls = url.scheme == "https"
        self._path = (url.path or "").rstrip("/") + SEND_PATH
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._pool: urllib3.HTTPConnectionPool | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SendGridProvider(base_url={self.settings.base_url!r}, pool_size={self.pool_size})"

    def open(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = self._make_pool()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _make_pool(self) -> urllib3.HTTPConnectionPool:
        tls = {"cert_reqs": "CERT_REQUIRED"} if self._tls else {}
        return urllib3.connection_from_url(
            self.settings.base_url,
            maxsize=self.pool_size,
            block=True,  # never more than pool_size connections: extra threads wait
            timeout=urllib3.Timeout(
                connect=self.settings.connect_timeout, read=self.settings.timeout
            ),
            retries=False,  # the sender owns retries
            **tls,
        )

    def send(self, message: OutgoingMessage) -> Receipt:
        _, body = build_request(
            message,
            sandbox_mode=self.settings.sandbox_mode,
            unsubscribe_group_id=self.settings.unsubscribe_group_id,
        )
        if self._pool is None:
            self.open()
        pool = self._pool
        if pool is None:  # closed by another thread in between
            raise TransientSendError("the SendGrid provider was closed while sending")
        try:
            response = pool.urlopen(
                "POST",
                self._path,
                body=body,
                headers=self._headers,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except (HTTPError, OSError) as err:
            raise self._transport_error(err) from err
        return self._classify(response.status, response.headers, response.data)

    def _classify(self, status: int, headers: urllib3.HTTPHeaderDict, data: bytes) -> Receipt:
        if 200 <= status < 300:
            return Receipt(provider_message_id=headers.get("X-Message-Id"))
        reply = self._redact(_reply_text(data))
        if status == 429:
            raise TransientSendError(
                f"429 SendGrid rate limit: {reply}",
                retry_after=_seconds_until(headers.get("X-RateLimit-Reset")),
                rate_limited=True,
            )
        if status in (401, 403):
            raise ProviderAuthError(
                f"SendGrid refused the API key ({status}): {reply}; check that "
                f"{_KEY_VARIABLE} holds a key with Mail Send access"
            )
        if status in (404, 405):
            # Every message would fail the same way: a wrong base_url is a setting to
            # fix, so the job stops (as for a refused key) instead of failing row by row.
            raise ProviderAuthError(
                f"SendGrid answered {status} at {self.settings.base_url}/v3/mail/send; "
                "check [provider.sendgrid] base_url"
            )
        if status == 400:
            raise PermanentSendError(f"SendGrid refused the message: {reply}")
        if 400 <= status < 500:
            raise PermanentSendError(f"SendGrid refused the message ({status}): {reply}")
        raise TransientSendError(f"SendGrid answered {status}: {reply}")

    def _transport_error(self, err: Exception) -> TransientSendError:
        where = self.settings.base_url
        if isinstance(err, NewConnectionError):
            text = f"cannot connect to SendGrid at {where}: {_reason(err)}"
        elif isinstance(err, ConnectTimeoutError):
            text = f"no connection to SendGrid at {where} within {self.settings.connect_timeout} s"
        elif isinstance(err, ReadTimeoutError):
            text = (
                f"SendGrid did not answer within {self.settings.timeout} s; "
                "it may have accepted the message"
            )
        elif isinstance(err, SSLError):
            text = f"TLS with {where} failed: {_reason(err)}"
        elif isinstance(err, ProtocolError):
            text = (
                f"SendGrid closed the connection without an answer ({_reason(err)}); "
                "it may have accepted the message"
            )
        else:
            text = f"request to SendGrid failed: {_reason(err)}"
        return TransientSendError(self._redact(text))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]")


def _reply_text(data: bytes) -> str:
    """SendGrid's `errors` as "field: message; …", else an excerpt of whatever came back."""
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errors"), list):
        parts = []
        for error in document["errors"]:
            if not isinstance(error, dict):
                continue
            text = str(error.get("message") or "").strip()
            field = error.get("field")
            parts.append(f"{field}: {text}" if field and field != "null" else text)
        if any(parts):
            return "; ".join(part for part in parts if part)
    text = " ".join(data.decode("utf-8", "replace").split())
    if not text:
        return "(no details in the reply)"
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def _seconds_until(reset: str | None) -> float | None:
    """`X-RateLimit-Reset` is the Unix time the window reopens; None lets the sender jitter."""
    if reset is None:
        return None
    try:
        return max(0.0, float(reset) - time.time())
    except ValueError:
        return None


def _reason(err: Exception) -> str:
    """The innermost cause's words, without urllib3's pool prefix."""
    cause: BaseException = err
    for _ in range(5):
        nested = [arg for arg in cause.args if isinstance(arg, BaseException)]
        inner = nested[-1] if nested else cause.__cause__
        if inner is None:
            break
        cause = inner
    text = str(cause) or type(cause).__name__
    return (
        text.split(": ", 1)[1] if text.startswith(("HTTPConnection", "HTTPSConnection")) else text
    )
