"""Alembic environment, run only from `capitolmail.outbox.database.migrate`.

The store opens the connection, begins the transaction (and on SQLite takes the
write lock) before Alembic runs, and passes the connection in
`config.attributes["connection"]`; this file only runs the revisions on it, so
the schema change and the `alembic_version` row commit together or not at all.
There is no offline mode and no autogenerate: revisions are written by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "capitolmail's migrations run from Store.open(), which passes the connection; "
            "the alembic command line is not supported"
        )
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
