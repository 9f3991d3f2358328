"""Telling a lost database connection from every other database error.

A worker rides out the first (a PostgreSQL restart, a failover, a cut network):
it stops claiming, keeps its outcomes in memory and reconnects. Anything else is
a real refusal and must surface at once. SQLite is a local file: "database is
locked" after the 30 s busy timeout, or a full disk, is not an outage that
waiting out fixes, so no SQLite error counts as one.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc


def connection_lost(err: BaseException) -> bool:
    """Whether `err` (a StoreError or SQLAlchemy error, followed through its causes)
    says the database server could not be reached or the connection broke."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.DBAPIError):
            if isinstance(current.orig, sqlite3.Error):
                return False
            if current.connection_invalidated:
                return True
            # psycopg reports a refused or dropped connection as OperationalError
            # (InterfaceError once the connection object is closed); a constraint or
            # syntax error is IntegrityError or ProgrammingError instead.
            return isinstance(current, exc.OperationalError | exc.InterfaceError)
        if isinstance(current, exc.TimeoutError):
            return True  # the pool waited in vain for a connection
        current = current.__cause__ or current.__context__
    return False
