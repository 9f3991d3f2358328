"""Reading SendGrid's answers: the error a status stands for, its `errors` list, its
rate-limit reset, and the operating system's or OpenSSL's words for a failed
connection. Split from sendgrid.py; `reply_text` redacts with the caller's Redactor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from capitolmail.config.names import secret_variable
from capitolmail.errors import (
    PermanentSendError,
    ProviderSettingsError,
    SendError,
    TransientSendError,
)
from capitolmail.redaction import shorten

if TYPE_CHECKING:
    import aiohttp

_EXCERPT = 200
_KEY_VARIABLE = secret_variable("sendgrid_api_key")


def refusal(status: int, headers: Mapping[str, str], reply: str, base_url: str) -> SendError:
    """The error for a status that is not 2xx; `reply` is `reply_text` of the body."""
    if status == 429:
        return TransientSendError(
            f"429 SendGrid rate limit: {reply}",
            retry_after=seconds_until(headers.get("X-RateLimit-Reset")),
            rate_limited=True,
        )
    if status in (401, 403):
        return ProviderSettingsError(
            f"SendGrid refused the API key ({status}): {reply}; check that "
            f"{_KEY_VARIABLE} holds a key with Mail Send access"
        )
    if status in (404, 405):
        # Every message would fail the same way: a wrong base_url is a setting to
        # fix, so the job stops (as for a refused key) instead of failing row by row.
        return ProviderSettingsError(
            f"SendGrid answered {status} at {base_url}/v3/mail/send; "
            "check [provider.sendgrid] base_url"
        )
    if status == 400:
        return PermanentSendError(f"SendGrid refused the message: {reply}")
    if 400 <= status < 500:
        return PermanentSendError(f"SendGrid refused the message ({status}): {reply}")
    return TransientSendError(f"SendGrid answered {status}: {reply}")


def reply_text(data: bytes, redact: Callable[[str], str]) -> str:
    """SendGrid's `errors` as "field: message; …", else an excerpt of whatever came back.

    Redacted whole, then cut: the other way round, a key straddling the cut survives.
    """
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
            return redact("; ".join(part for part in parts if part))
    # A bounded prefix, so redaction is not run over megabytes of an error page; what it
    # cuts is far beyond the excerpt, and a secret cut there is still found by its fragments.
    text = redact(" ".join(data[: _EXCERPT * 20].decode("utf-8", "replace").split()))
    return shorten(text, _EXCERPT) if text else "(no details in the reply)"


def seconds_until(reset: str | None) -> float | None:
    """`X-RateLimit-Reset` is the Unix time the window reopens; None lets the sender jitter."""
    if reset is None:
        return None
    try:
        return max(0.0, float(reset) - time.time())
    except ValueError:
        return None


def certificate_reason(err: aiohttp.ClientConnectorCertificateError) -> str:
    """OpenSSL's words for why, e.g. "self-signed certificate in certificate chain"."""
    cause = err.certificate_error
    return str(getattr(cause, "verify_message", None) or cause)


def reason(err: BaseException) -> str:
    """The operating system's words where there are some, else the error's own."""
    os_error = getattr(err, "os_error", None)  # aiohttp.ClientConnectorError keeps the cause
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__
