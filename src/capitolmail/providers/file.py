"""The offline default: one RFC 5322 `.eml` file per message, grouped by job.

Files are written to a temporary name and renamed, so a crash never leaves a
half-written message that looks sent; the name contains our message id, so
sending the same message again overwrites instead of duplicating.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from capitolmail.errors import PermanentSendError
from capitolmail.message import HeaderError, OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


class FileProvider(ProviderBase):
    name: ClassVar[str] = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        recipient = _UNSAFE.sub("_", message.to_email)[:80]
        job = _UNSAFE.sub("_", message.job_id) or "nojob"
        return self.directory / job / f"{recipient}--{message.message_id}.eml"

    def send(self, message: OutgoingMessage) -> Receipt:
        path = self.path_for(message)
        try:
            data = message.to_bytes(date=datetime.now(UTC))
        except HeaderError as err:  # only a row stored before compose checked headers
            raise PermanentSendError(f"cannot write the message: {err}") from err
        self.hand_over(message.message_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as err:
            raise PermanentSendError(f"cannot write {path}: {err.strerror}") from err
        return Receipt(provider_message_id=str(path))
