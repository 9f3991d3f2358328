"""The provider seam: hand one frozen message to a transport, get one receipt back.

Providers classify failures (transient, permanent, auth) and the sender decides
what to do about them; a provider never retries, sleeps or touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol, Self

from capitolmail.message import OutgoingMessage


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the transport said it accepted: SMTP queue id, ESP message id, or a file path."""

    provider_message_id: str | None


class Provider(Protocol):
    name: ClassVar[str]

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, message: OutgoingMessage) -> Receipt: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ProviderBase:
    """`with provider:` opens and closes; subclasses override what they need."""

    name: ClassVar[str] = ""

    def open(self) -> None:
        """Connect or build a pool. A second call is harmless."""

    def close(self) -> None:
        """Release connections. Safe even when open() never ran."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
