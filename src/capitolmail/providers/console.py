"""Print each message to a stream instead of sending it: for a quick look, not a record."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import ClassVar, TextIO

from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt

_SEPARATOR = "-" * 72


class ConsoleProvider(ProviderBase):
    name: ClassVar[str] = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: OutgoingMessage) -> Receipt:
        stream = self.stream or sys.stdout
        text = message.to_bytes(date=datetime.now(UTC)).decode("ascii").replace("\r\n", "\n")
        self.hand_over(message.message_id)
        stream.write(text + "\n" + _SEPARATOR + "\n")
        stream.flush()
        return Receipt(provider_message_id=None)
