"""Statements on the send path, written out and run on the database driver's cursor.

The send loop claims, marks and records every few messages, and one thread does
all of it while the provider's threads wait for the GIL. Measured on a 2-core VM
(SQLite, 16 ids in an IN list): a statement SQLAlchemy builds costs ~100 µs of
CPU, the same text through `exec_driver_sql` ~55 µs, and on the driver's own
cursor ~20 µs. So the few statements every message passes through are kept here
as text, one version per dialect, and everything else stays SQLAlchemy's.

Errors still come out as SQLAlchemy's (`DBAPIError` and its kinds, the connection
invalidated when the driver says it broke), so `storage_errors` and the outage
rider (`connection_lost`) treat them as they treat any other statement's.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, exc

from capitolmail.outbox.schema import UTCDateTime

# Told of each statement (cursor, text, parameters) just before it runs: these bypass
# SQLAlchemy's statement events, and benchmarks/workers.py EXPLAINs what the send path
# sends. Empty in a normal run, where it costs one check per statement.
before_statement: list[Callable[[Any, str, Any], None]] = []


@dataclass(frozen=True, slots=True)
class DriverSQL:
    """One statement in each dialect's words.

    SQLite's takes `:name` parameters, PostgreSQL's `%(name)s`. A list of ids is
    one parameter: `in_list` binds it as SQLite's `json_each` takes it (a JSON
    array, so the statement text is the same whatever the length and the
    primary key is probed per id) or as PostgreSQL's `= ANY(...)` takes it.
    """

    sqlite: str
    postgresql: str

    def text(self, dialect: Dialect) -> str:
        """The statement for `dialect`; an empty text is one that database never runs."""
        statement = self.postgresql if dialect.name == "postgresql" else self.sqlite
        if not statement:
            raise RuntimeError(f"this statement is not written for {dialect.name}")
        return statement


def in_list(dialect: Dialect, values: Sequence[Any]) -> Any:
    """`values` bound for an IN list written as `IN (SELECT value FROM json_each(:x))` on
    SQLite and `= ANY(%(x)s)` on PostgreSQL."""
    if dialect.name == "postgresql":
        return list(values)
    return json.dumps(list(values))


@functools.cache
def bind_time(dialect: Dialect) -> Callable[[datetime | None], object]:
    """How a stored time is bound on `dialect`, as UTCDateTime binds it for SQLAlchemy."""
    column_type = UTCDateTime()
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return lambda value: column_type.process_bind_param(value, dialect)
    return processor


def rows(conn: Connection, sql: DriverSQL, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run `sql` in `conn`'s transaction; the rows it returns (none for a bare write)."""
    return _run(conn, sql, params, lambda cursor: cursor.fetchall() if cursor.description else [])


def rows_committed(
    conn: Connection, sql: DriverSQL, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Run `sql` as a transaction of its own (autocommit); the rows it returns.

    One call to the database rather than BEGIN, the statement and COMMIT: for a
    statement that needs nothing else in its transaction (a hand-over mark), on a
    connection with no transaction open.
    """
    if conn.in_transaction():
        raise RuntimeError("rows_committed needs a connection outside any transaction")
    driver = conn.connection.driver_connection
    if conn.dialect.name != "postgresql":
        # SQLite: the driver issues no BEGIN of its own (database.py), so a statement
        # outside one commits by itself.
        return rows(conn, sql, params)
    driver.autocommit = True  # type: ignore[union-attr]
    try:
        return rows(conn, sql, params)
    finally:
        if not driver.closed:  # type: ignore[union-attr]
            driver.autocommit = False  # type: ignore[union-attr]


def rowcount(conn: Connection, sql: DriverSQL, params: dict[str, Any]) -> int:
    """Run `sql` in `conn`'s transaction; how many rows it changed."""
    return _run(conn, sql, params, lambda cursor: cursor.rowcount)


def run_many(conn: Connection, sql: DriverSQL, params: Sequence[dict[str, Any]]) -> None:
    """Run `sql` once per parameter set, in one call to the driver."""
    if params:
        _run(conn, sql, params, lambda cursor: None, many=True)


def _run(
    conn: Connection,
    sql: DriverSQL,
    params: Any,
    read: Callable[[Any], Any],
    *,
    many: bool = False,
) -> Any:
    dialect = conn.dialect
    statement = sql.text(dialect)
    pooled = conn.connection
    cursor = None
    try:
        cursor = pooled.driver_connection.cursor()  # type: ignore[union-attr]
        for observe in before_statement:
            observe(cursor, statement, params)
        if many:
            cursor.executemany(statement, params)
        else:
            cursor.execute(statement, params)
        return read(cursor)
    except dialect.loaded_dbapi.Error as err:
        lost = dialect.is_disconnect(err, pooled, cursor)
        if lost:
            conn.invalidate(err)
        raise exc.DBAPIError.instance(
            statement,
            params,
            err,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
            ismulti=many,
        ) from err
    finally:
        if cursor is not None:
            with contextlib.suppress(dialect.loaded_dbapi.Error):
                cursor.close()
