"""Where the inbound mailbox's messages come from: a Maildir or an mbox on disk (IMAP is
`imap.py`), each yielding its new messages a batch at a time behind one small interface.

A source only reads (and, when asked, deletes what the sync acted on); which
messages are new is the store's answer, asked before anything large is read.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from capitolmail.errors import ConfigError

AlreadyRead = Callable[[Sequence[str]], set[str]]
BATCH = 50
_KEY_LIMIT = 250
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,240}>")


@dataclass(frozen=True, slots=True)
class MailboxMessage:
    """One new message: its key in the mailbox, and its bytes (None when over the limit)."""

    key: str
    raw: bytes | None
    size: int


class MailSource(Protocol):
    """A mailbox: `mailbox` names it in the store; `pending` counts new messages once known."""

    mailbox: str
    pending: int | None

    def __enter__(self) -> MailSource: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def new_messages(self, already_read: AlreadyRead) -> Iterator[list[MailboxMessage]]: ...
    def delete(self, keys: Sequence[str]) -> None: ...


class FileMailbox:
    """A Maildir folder or an mbox file, read with the standard library's `mailbox`.

    A message is known by its Message-ID (a Maildir file moves from new/ to cur/
    when a mail client reads it, and an mbox has no ids at all); one without a
    Message-ID by a digest of its first bytes.
    """

    def __init__(self, kind: str, path: Path, max_bytes: int) -> None:
        self.mailbox = f"{kind}:{path.resolve()}"
        self.pending: int | None = None
        self._kind = kind
        self._path = path
        self._max_bytes = max_bytes
        self._box: mailbox.Mailbox | None = None
        self._internal: dict[str, str] = {}

    def __enter__(self) -> FileMailbox:
        if self._kind == "maildir":
            if not (self._path / "cur").is_dir() or not (self._path / "new").is_dir():
                raise ConfigError(
                    f"[inbox] path: {self._path} is not a Maildir (no cur/ and new/ folders)"
                )
            self._box = mailbox.Maildir(self._path, factory=None, create=False)
        else:
            if not self._path.is_file():
                raise ConfigError(f"[inbox] path: {self._path} is not an mbox file")
            self._box = mailbox.mbox(self._path, factory=None, create=False)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None

    def new_messages(self, already_read: AlreadyRead) -> Iterator[list[MailboxMessage]]:
        assert self._box is not None, "use the source in a with block"
        internal_keys = list(self._box.keys())
        self.pending = len(internal_keys)
        batch: list[tuple[str, MailboxMessage]] = []
        for internal in internal_keys:
            read = self._read(internal)
            if read is not None:
                batch.append((internal, read))
            if len(batch) >= BATCH:
                yield self._fresh(batch, already_read)
                batch = []
        if batch:
            yield self._fresh(batch, already_read)

    def _fresh(
        self, batch: list[tuple[str, MailboxMessage]], already_read: AlreadyRead
    ) -> list[MailboxMessage]:
        seen = already_read([message.key for _, message in batch])
        fresh = []
        for internal, message in batch:
            if message.key in seen or message.key in self._internal:
                continue  # read before, or a second copy in this very mailbox
            self._internal[message.key] = internal
            fresh.append(message)
        return fresh

    def _read(self, internal: str) -> MailboxMessage | None:
        assert self._box is not None
        try:
            handle: IO[bytes] = self._box.get_file(internal)
        except (KeyError, OSError):  # removed by a mail client since keys() was read
            return None
        with handle:
            raw = handle.read(self._max_bytes + 1)
            size = len(raw)
            if size > self._max_bytes:
                size += len(handle.read())  # counted, not kept
        headers = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
        key = file_key(headers, raw)
        return MailboxMessage(key, raw if size <= self._max_bytes else None, size)

    def delete(self, keys: Sequence[str]) -> None:
        assert self._box is not None
        internal = [self._internal[key] for key in keys if key in self._internal]
        if not internal:
            return
        self._box.lock()
        try:
            for key in internal:
                self._box.discard(key)
            self._box.flush()
        finally:
            self._box.unlock()


def file_key(headers: bytes, raw: bytes) -> str:
    """The Message-ID when the message has a well-formed one, else a digest of its bytes."""
    try:
        parsed = BytesHeaderParser().parsebytes(headers[:65536])
        found = _MESSAGE_ID.search(str(parsed.get("Message-ID") or ""))
    except Exception:  # broken headers: the digest names it
        found = None
    if found:
        return f"id:{found.group(0)}"[:_KEY_LIMIT]
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"
