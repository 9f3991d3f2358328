"""Opening the outbox database: engine, SQLite settings, migrations, error wrapping.

SQLite is the embedded default and PostgreSQL the multi-worker one; the code
above this module is the same for both. What differs is how a writer keeps a
second writer off the rows it claims: PostgreSQL locks rows (`FOR UPDATE SKIP
LOCKED`), SQLite locks the whole file, which only works if the lock is taken at
BEGIN (`BEGIN IMMEDIATE`) rather than at the first write, when two readers that
both decided to claim the same rows can no longer back out.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, inspect, make_url, text

from capitolmail.errors import StoreError
from capitolmail.timing.durations import format_seconds

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest schema revision (the last file in migrations/versions; a test holds the
# two together). A database already there is opened without loading alembic, which
# cost ~0.15 s of every command's start.
SCHEMA_HEAD = "0018"

# Execution option read by the SQLite "begin" hook: reads need no write lock.
_READ_ONLY = "capitolmail_read_only"
# Where the "begin" hook leaves the BEGIN statement for the dialect to issue.
_BEGIN = "capitolmail_begin"

# pg_advisory_xact_lock key so that two processes opening a fresh PostgreSQL
# database at once migrate one after the other ("capi" in ASCII).
_MIGRATION_LOCK_KEY = 0x63617069


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; a bare `postgresql://` means psycopg 3.

    SQLAlchemy would pick psycopg2 for a bare `postgresql://`, which capitolmail
    does not install; `postgres://` is what many hosting providers print.
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as err:
        # The message of ArgumentError repeats the URL, password and all.
        raise StoreError(
            "the database URL is not valid; expected e.g. sqlite:////path/to/capitolmail.db "
            "or postgresql+psycopg://user@host/dbname"
        ) from err
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


# libpq settings for PostgreSQL, unless the URL sets its own: a server that vanished
# without closing the connection (a failover, a cable, a suspended VM) must end in
# an error the worker rides out (sending/outage.py), never in a read that waits
# forever. Give up connecting after 10 s; probe an idle connection after 30 s,
# every 10 s, 3 times; drop one whose sent data goes unacknowledged for 60 s.
_POSTGRESQL_CONNECT_ARGS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}


def create_store_engine(url: URL) -> Engine:
    """An engine with the connection settings the outbox relies on."""
    if url.get_backend_name() != "sqlite":
        given = {key.casefold() for key in url.query}
        defaults = {k: v for k, v in _POSTGRESQL_CONNECT_ARGS.items() if k not in given}
        return create_engine(url, pool_pre_ping=True, connect_args=defaults)
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    # The BEGIN itself goes straight to the driver, inside SQLAlchemy's own error
    # handling: every transaction pays for it, and a statement through SQLAlchemy
    # costs several times the BEGIN (a write transaction's fixed cost, halved).
    engine.dialect.do_begin = _sqlite_do_begin  # type: ignore[method-assign]
    return engine


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # isolation_level=None stops the sqlite3 module from issuing its own BEGIN
    # (deferred, and only before DML), so _sqlite_on_begin decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers (status, the web page) never block the sender, nor it them.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait up to 30 s for another process's write instead of failing at once.
        cursor.execute("PRAGMA busy_timeout=30000")
        # Safe with WAL: a power cut may lose the last commits, never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Note for `_sqlite_do_begin` which BEGIN this transaction takes: reads need no lock."""
    read_only = conn.get_execution_options().get(_READ_ONLY)
    conn.connection.info[_BEGIN] = "BEGIN" if read_only else "BEGIN IMMEDIATE"


def _sqlite_do_begin(dbapi_connection: Any) -> None:
    dbapi_connection.driver_connection.execute(dbapi_connection.info.pop(_BEGIN, "BEGIN IMMEDIATE"))


@contextmanager
def transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Connection]:
    """One short transaction; commits on success, rolls back on any exception."""
    with engine.connect() as conn:
        if read_only:
            conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            yield conn


class KeptConnection:
    """One connection kept between one thread's transactions (the send loop's).

    The send loop commits a transaction every few messages (claims, hand-over
    marks, outcomes), and checking a connection out of the pool and back cost as
    much as the transaction's own statements. Kept, it is still given back and
    checked out afresh (so the pool's pre-ping tests it) after an idle second or
    any failed transaction: a connection the server dropped meanwhile costs one
    failed transaction at most, which the send loop rides out like an outage.
    """

    IDLE_SECONDS = 1.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._read_only = False
        self._used_at = 0.0

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Connection]:
        with self.outside_a_transaction() as conn:
            if read_only != self._read_only:
                conn.execution_options(**{_READ_ONLY: read_only})
                self._read_only = read_only
            with conn.begin():
                yield conn

    @contextmanager
    def outside_a_transaction(self) -> Iterator[Connection]:
        """The connection with no transaction open, for statements that commit alone."""
        if self._conn is not None and time.monotonic() - self._used_at > self.IDLE_SECONDS:
            self.close()
        if self._conn is None:
            self._conn = self.engine.connect()
            self._read_only = False
        try:
            yield self._conn
        except BaseException:
            self.close()
            raise
        finally:
            self._used_at = time.monotonic()

    @property
    def busy(self) -> bool:
        """In a transaction now: a store call made inside one takes a connection of its own."""
        return self._conn is not None and self._conn.in_transaction()

    def close(self) -> None:
        """Give the connection back to the pool (a broken one is discarded there)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except exc.SQLAlchemyError:
                conn.invalidate()


@contextmanager
def storage_errors(url: URL, doing: str) -> Iterator[None]:
    """Turn SQLAlchemy's errors into a StoreError a person can act on.

    The URL is shown without its password, and the password is scrubbed from the
    driver's text too, in case a driver ever echoes its connection string.
    """
    try:
        yield
    except exc.SQLAlchemyError as err:
        raise StoreError(_describe(url, doing, err)) from err
    except OSError as err:
        raise StoreError(
            f"could not {doing} in {display_url(url)}: {err.strerror or err}; "
            "check that the folder exists and is writable"
        ) from err


def _describe(url: URL, doing: str, err: exc.SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None)
    reason = str(orig if orig is not None else err).strip().splitlines()
    first = reason[0] if reason else type(err).__name__
    if url.password:
        first = first.replace(str(url.password), "***")
    if not isinstance(err, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        hint = "the database refused the change and nothing was written"
    elif url.get_backend_name() == "sqlite":
        hint = "check that the file's folder is writable and that no other program holds it locked"
    else:
        hint = "check that the database server is running, reachable, and accepts this user"
    return f"could not {doing} in {display_url(url)}: {first}; {hint}"


def _alembic_config() -> Any:
    from alembic.config import Config

    # A fresh Config per call: `attributes` carries the connection, and two
    # threads may open stores at once.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The heads of the migration scripts, as alembic reads them."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(_alembic_config()).get_heads())


def _current_revisions(conn: Connection) -> frozenset[str]:
    from alembic.runtime.migration import MigrationContext

    return frozenset(MigrationContext.configure(conn).get_current_heads())


def _at_head(conn: Connection) -> bool:
    """Whether the schema is at SCHEMA_HEAD, read without alembic (one or two queries)."""
    if not inspect(conn).has_table("alembic_version"):
        return False
    stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return stamped == [SCHEMA_HEAD]


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest revision; True when anything ran.

    The common case, a database already at head, costs one read. Otherwise the
    upgrade runs inside one write transaction (BEGIN IMMEDIATE on SQLite, an
    advisory lock on PostgreSQL) that first looks again, so two processes opening
    a new database at once do not both try to create the tables.
    """
    with transaction(engine, read_only=True) as conn:
        if _at_head(conn):
            return False
    from alembic import command

    heads = head_revisions()
    with transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        current = _current_revisions(conn)
        if current == heads:
            return False
        unknown = current - _known_revisions()
        if unknown:
            raise StoreError(
                f"the database is at schema revision {', '.join(sorted(unknown))}, which this "
                "version of capitolmail does not know; upgrade capitolmail"
            )
        if current:
            _refuse_under_running_workers(conn, current)
        config = _alembic_config()
        config.attributes["connection"] = conn
        try:
            command.upgrade(config, "head")
        finally:
            config.attributes.pop("connection", None)
    return True


def _refuse_under_running_workers(conn: Connection, current: frozenset[str]) -> None:
    """Refuse to upgrade a schema that a running worker of the earlier version still uses.

    Its code was written for the schema it found: 0016 dropped the table its
    scheduler writes, and a later migration may change what its claims read. Any
    worker registered in a database that is not at head runs an earlier version
    (this one would have upgraded it on opening), so while one is alive nothing is
    changed and every command says which to stop. A killed worker counts as running
    until its heartbeat is `STALE_WORKER_AFTER` old, or at once when it ran on this
    machine; recover_abandoned then deals with its rows as with any dead worker's.
    """
    from capitolmail.outbox.workers import STALE_WORKER_AFTER, running_workers

    if not inspect(conn).has_table("workers"):
        return
    now = datetime.now(UTC)
    running = running_workers(conn, now)
    if not running:
        return
    shown = "; ".join(
        f"{worker.host} pid {worker.pid}, heartbeat"
        f" {format_seconds((now - worker.heartbeat_at).total_seconds())} ago"
        for worker in running[:3]
    )
    more = f"; and {len(running) - 3} more" if len(running) > 3 else ""
    count = f"{len(running)} worker{'s' if len(running) > 1 else ''}"
    minutes = int(STALE_WORKER_AFTER.total_seconds() // 60)
    raise StoreError(
        f"the outbox schema is at revision {', '.join(sorted(current))} and this version of"
        f" capitolmail needs {SCHEMA_HEAD}, but {count} of the earlier version"
        f" {'are' if len(running) > 1 else 'is'} still running ({shown}{more}): stop"
        f" {'them' if len(running) > 1 else 'it'}, then run this command again; nothing was"
        f" changed (a killed worker on another machine counts as running until its last"
        f" heartbeat is {minutes} minutes old)"
    )


@functools.cache
def _known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())
