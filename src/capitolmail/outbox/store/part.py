"""What every part of the `Store` shares: the engine, and the one way to open a transaction.

Every public method of the store runs in exactly one short transaction, and
every failure in it becomes a `StoreError` that says what was being done. Both
come from `_write` and `_read` here, so no method can forget either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import URL, Connection, Engine

from capitolmail.outbox.database import storage_errors, transaction


def aware(name: str, value: datetime) -> datetime:
    """`value`, refused when it has no time zone: the outbox stores and compares UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(UTC)), got {value}")
    return value


class StorePart:
    """Base of the store's parts; `Store` sets the engine and URL they all use."""

    _engine: Engine
    _url: URL

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        """One write transaction; `doing` ("pause the job") completes "could not ... in DB"."""
        with storage_errors(self._url, doing), transaction(self._engine) as conn:
            yield conn

    @contextmanager
    def _read(self, doing: str = "read the outbox") -> Iterator[Connection]:
        """One read-only transaction: on SQLite it takes no write lock."""
        with storage_errors(self._url, doing), transaction(self._engine, read_only=True) as conn:
            yield conn
