"""Transports, one small module each, chosen by name in settings."""

from __future__ import annotations

from pathlib import Path

from capitolmail.config import Settings, require_secret
from capitolmail.errors import HandoverRefused
from capitolmail.providers.base import (
    BeforeHandover,
    Provider,
    ProviderBase,
    Receipt,
)
from capitolmail.providers.console import ConsoleProvider
from capitolmail.providers.file import FileProvider
from capitolmail.providers.sendgrid import SendGridProvider
from capitolmail.providers.smtp import SmtpProvider


def create_provider(settings: Settings, *, outbox_dir: Path) -> Provider:
    """Build the configured provider; a missing secret is a ConfigError before any send."""
    chosen = settings.provider
    if chosen.name == FileProvider.name:
        return FileProvider(outbox_dir)
    if chosen.name == ConsoleProvider.name:
        return ConsoleProvider()
    if chosen.name == SmtpProvider.name:
        return SmtpProvider(chosen.smtp, password=settings.smtp_password)
    if chosen.name == SendGridProvider.name:
        api_key = require_secret(settings.sendgrid_api_key, "sendgrid_api_key")
        return SendGridProvider(
            chosen.sendgrid, api_key=api_key, pool_size=max(settings.worker.concurrency, 1)
        )
    raise AssertionError(f"provider {chosen.name!r} has no constructor")  # pragma: no cover


__all__ = [
    "BeforeHandover",
    "ConsoleProvider",
    "HandoverRefused",
    "FileProvider",
    "Provider",
    "ProviderBase",
    "Receipt",
    "SendGridProvider",
    "SmtpProvider",
    "create_provider",
]
