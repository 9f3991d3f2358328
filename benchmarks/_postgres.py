"""A PostgreSQL schema of workers.py's own, created for one run and dropped after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, make_url, text

if TYPE_CHECKING:
    from capitolmail.message import OutgoingMessage
    from capitolmail.outbox import Store

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_schema(base: str, purpose: str) -> Iterator[str]:
    """The URL of a new, empty schema (`search_path` set in the URL); dropped on exit."""
    schema = f"capitolmail_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # Named, so that pg_stat_activity tells the benchmark's sessions from others'.
        url = make_url(base).update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": "capitolmail-bench"}
        )
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def queue_fresh_job(store: Store, corpus: list[OutgoingMessage], slug: str) -> int:
    """Empty the outbox, then queue `corpus` as one job started as a worker would.

    Emptied (and vacuumed) before each run, so that no run finds the dead rows of
    the one before it and every run claims from a table of the same shape.
    """
    from _corpus import queue_started_job

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
        conn.execute(text("DELETE FROM jobs"))  # messages go with them (ON DELETE CASCADE)
        conn.execute(text("DELETE FROM workers"))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE messages"))
        conn.execute(text("VACUUM ANALYZE events"))
    return queue_started_job(store, corpus, slug)
