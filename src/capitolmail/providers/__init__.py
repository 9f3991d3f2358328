"""Transports, one small module each, chosen by name in settings."""

from __future__ import annotations

from pathlib import Path

from capitolmail.config import ProviderSettings
from capitolmail.providers.base import Provider, ProviderBase, Receipt
from capitolmail.providers.console import ConsoleProvider
from capitolmail.providers.file import FileProvider

PROVIDERS: dict[str, type[ProviderBase]] = {
    FileProvider.name: FileProvider,
    ConsoleProvider.name: ConsoleProvider,
}


def create_provider(settings: ProviderSettings, *, outbox_dir: Path) -> Provider:
    """Build the configured provider; the settings model already rejected unknown names."""
    if settings.name == FileProvider.name:
        return FileProvider(outbox_dir)
    if settings.name == ConsoleProvider.name:
        return ConsoleProvider()
    raise AssertionError(f"provider {settings.name!r} has no constructor")  # pragma: no cover


__all__ = [
    "PROVIDERS",
    "ConsoleProvider",
    "FileProvider",
    "Provider",
    "ProviderBase",
    "Receipt",
    "create_provider",
]
