"""Transports, one small module each, chosen by name in settings.

The transports themselves are imported when first named (`__getattr__` below):
importing the seam (base.py) for its types, as the send loop and the outbox's
callers do, should not load SendGrid's HTTP client and every other transport.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capitolmail.config import Settings, require_secret
from capitolmail.errors import HandoverRefused
from capitolmail.providers.base import (
    BeforeHandover,
    Provider,
    ProviderBase,
    Receipt,
    SizeLimit,
)

if TYPE_CHECKING:
    from capitolmail.providers.console import ConsoleProvider
    from capitolmail.providers.file import FileProvider
    from capitolmail.providers.sendgrid import SendGridProvider
    from capitolmail.providers.smtp import SmtpProvider

# Each transport's class, by the module of this package it is in.
_TRANSPORTS = {
    "ConsoleProvider": "console",
    "FileProvider": "file",
    "SendGridProvider": "sendgrid",
    "SmtpProvider": "smtp",
}


def __getattr__(name: str) -> Any:
    if name in _TRANSPORTS:
        module = importlib.import_module(f"capitolmail.providers.{_TRANSPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_provider(settings: Settings, *, outbox_dir: Path) -> Provider:
    """Build the configured provider; a missing secret is a ConfigError before any send.

    Only the chosen transport's module is imported (settings name them as the
    classes' `name` does).
    """
    chosen = settings.provider
    if chosen.name == "file":
        from capitolmail.providers.file import FileProvider

        return FileProvider(outbox_dir)
    if chosen.name == "console":
        from capitolmail.providers.console import ConsoleProvider

        return ConsoleProvider()
    if chosen.name == "smtp":
        from capitolmail.providers.smtp import SmtpProvider

        return SmtpProvider(chosen.smtp, password=settings.smtp_password)
    if chosen.name == "sendgrid":
        from capitolmail.providers.sendgrid import SendGridProvider

        api_key = require_secret(settings.sendgrid_api_key, "sendgrid_api_key")
        return SendGridProvider(
            chosen.sendgrid, api_key=api_key, pool_size=max(settings.worker.concurrency, 1)
        )
    raise AssertionError(f"provider {chosen.name!r} has no constructor")  # pragma: no cover


def size_limit(settings: Settings, *, outbox_dir: Path) -> SizeLimit | None:
    """The configured provider's limit on one message, asked of the provider itself.

    SMTP connects and reads the relay's EHLO; SendGrid's limit is published, so it
    is known even where the API key is not set (queueing needs no key); the file
    and console providers have none. Raises what building or reaching the
    provider raises (ConfigError, SendError).
    """
    from capitolmail.providers.sendgrid_payload import (
        MAX_REQUEST_BYTES,
        SIZE_LIMIT_OWNER,
        request_size,
    )

    chosen = settings.provider
    key = settings.sendgrid_api_key
    if chosen.name == "sendgrid" and (key is None or not key.get_secret_value()):
        measure = functools.partial(
            request_size,
            sandbox_mode=chosen.sendgrid.sandbox_mode,
            unsubscribe_group_id=chosen.sendgrid.unsubscribe_group_id,
        )
        return SizeLimit(MAX_REQUEST_BYTES, SIZE_LIMIT_OWNER, measure)
    # Not opened: asking needs no session (SMTP connects for the question itself).
    provider = create_provider(settings, outbox_dir=outbox_dir)
    try:
        limit = provider.max_message_bytes()
        owner = provider.size_limit_owner()
    finally:
        provider.close()
    return None if limit is None else SizeLimit(limit, owner, provider.message_size)


__all__ = [
    "BeforeHandover",
    "ConsoleProvider",
    "HandoverRefused",
    "FileProvider",
    "Provider",
    "ProviderBase",
    "Receipt",
    "SendGridProvider",
    "SizeLimit",
    "SmtpProvider",
    "create_provider",
    "size_limit",
]
