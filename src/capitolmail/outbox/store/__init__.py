"""`Store`: the outbox's one entry point, one short transaction per method.

Short transactions matter more than usual here: on SQLite a write transaction
holds the whole file, so the sender, `status` and the webhook receiver take
turns; nothing here keeps a transaction open across a network call.

The methods live in parts, one module per concern (queueing, reading jobs,
the operator's decisions, workers, sending, the audience, provider events);
`Store` only composes them and owns the engine. Each part opens its
transactions through `StorePart._write` / `_read`, the one helper that also
turns database errors into a `StoreError`.
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import URL, Engine, text

from capitolmail.outbox.database import (
    create_store_engine,
    display_url,
    migrate,
    parse_url,
    storage_errors,
)
from capitolmail.outbox.store.audience import Audience
from capitolmail.outbox.store.inbox import InboxReadings
from capitolmail.outbox.store.job_admin import JobAdmin
from capitolmail.outbox.store.job_queue import JobQueue
from capitolmail.outbox.store.job_reads import JobReads
from capitolmail.outbox.store.provider_events import ProviderEvents
from capitolmail.outbox.store.reports import ReportReads
from capitolmail.outbox.store.sending import Sending
from capitolmail.outbox.store.signatures import Signatures
from capitolmail.outbox.store.workers import WorkerRows


class Store(
    JobQueue,
    JobReads,
    JobAdmin,
    WorkerRows,
    Sending,
    Audience,
    ProviderEvents,
    ReportReads,
    InboxReadings,
    Signatures,
):
    """The outbox database. Safe to share between threads; open one per process.

    Methods raise StoreError when the database fails, JobNotFound or
    MessageNotFound for an id that is not there, CapitolmailError when a job's
    state forbids the request, and ValueError for arguments no user could type.
    """

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url
        self._kept = threading.local()

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, and create or upgrade the schema if it is not at the newest revision."""
        parsed = parse_url(url)
        with storage_errors(parsed, "open the outbox database"):
            engine = create_store_engine(parsed)
            try:
                migrate(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine, parsed)

    @property
    def engine(self) -> Engine:
        """For the job-notice listener, which holds a connection of its own (PostgreSQL)."""
        return self._engine

    @property
    def url_for_display(self) -> str:
        return display_url(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.url_for_display}>"

    def ping(self) -> None:
        """One trivial query, for a health check; StoreError when the database is down."""
        with self._read("reach the database") as conn:
            conn.execute(text("SELECT 1")).scalar_one()


__all__ = ["Store"]
