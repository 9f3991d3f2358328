"""An outbox as an earlier version left it: migrated only so far, rows written by hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, create_engine, make_url

from capitolmail.outbox.database import _alembic_config


@contextmanager
def database_at(url: str, revision: str) -> Iterator[Connection]:
    """The database at `url` migrated to `revision` (up or down), in one transaction
    that commits the rows the caller writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    config = _alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            current = conn.dialect.has_table(conn, "alembic_version")
            if current and revision < _head(conn):
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
            yield conn
    finally:
        engine.dispose()


def _head(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
