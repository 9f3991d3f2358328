from __future__ import annotations

import io

from capitolmail.providers import ConsoleProvider

from .contract import ProviderContract


class TestConsoleProvider(ProviderContract):
    def make_provider(self) -> ConsoleProvider:
        return ConsoleProvider(stream=io.StringIO())

    def received(self, provider: ConsoleProvider) -> list[bytes]:
        assert isinstance(provider.stream, io.StringIO)
        chunks = provider.stream.getvalue().split("\n" + "-" * 72 + "\n")
        return [chunk.encode("utf-8") for chunk in chunks if chunk.strip()]
