"""What every part of the `Store` shares: the engine, and the one way to open a transaction.

Every public method of the store runs in exactly one short transaction, and
every failure in it becomes a `StoreError` that says what was being done. Both
come from `_write` and `_read` here, so no method can forget either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from sqlalchemy import URL, Connection, Engine

from capitolmail.outbox.database import KeptConnection, storage_errors, transaction


def aware(name: str, value: datetime) -> datetime:
    """`value`, refused when it has no time zone: the outbox stores and compares UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(UTC)), got {value}")
    return value


class StorePart:
    """Base of the store's parts; `Store` sets the engine and URL they all use."""

    _engine: Engine
    _url: URL
    _kept: threading.local  # .connection: the calling thread's KeptConnection, if any

    @contextmanager
    def keeping_a_connection(self) -> Iterator[None]:
        """Run this thread's transactions on one kept connection until the block ends.

        For a thread that commits many small transactions (the send loop):
        database.KeptConnection says why, and when it checks out afresh.
        """
        if getattr(self._kept, "connection", None) is not None:
            yield  # already kept by an enclosing block
            return
        kept = KeptConnection(self._engine)
        self._kept.connection = kept
        try:
            yield
        finally:
            self._kept.connection = None
            kept.close()

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        """One write transaction; `doing` ("pause the job") completes "could not ... in DB"."""
        with storage_errors(self._url, doing), self._transaction(read_only=False) as conn:
            yield conn

    @contextmanager
    def _read(self, doing: str = "read the outbox") -> Iterator[Connection]:
        """One read-only transaction: on SQLite it takes no write lock."""
        with storage_errors(self._url, doing), self._transaction(read_only=True) as conn:
            yield conn

    @contextmanager
    def _committing_alone(self, doing: str) -> Iterator[Connection]:
        """A connection outside any transaction: each statement sent commits by itself."""
        with storage_errors(self._url, doing):
            kept = self._free_kept()
            if kept is not None:
                with kept.outside_a_transaction() as conn:
                    yield conn
            else:
                with self._engine.connect() as conn:
                    yield conn

    def _transaction(self, *, read_only: bool) -> AbstractContextManager[Connection]:
        kept = self._free_kept()
        if kept is not None:
            return kept.transaction(read_only=read_only)
        return transaction(self._engine, read_only=read_only)

    def _free_kept(self) -> KeptConnection | None:
        """This thread's kept connection, unless none is kept or a block is using it
        (a store call made inside a transaction gets a connection of its own)."""
        kept: KeptConnection | None = getattr(self._kept, "connection", None)
        return kept if kept is not None and not kept.busy else None
