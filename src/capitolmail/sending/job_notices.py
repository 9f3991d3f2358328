"""Listening for job notices in a running worker (PostgreSQL's LISTEN/NOTIFY).

Every job change announces itself when it commits (outbox/job_notices.py). One
thread here holds a connection of its own, in autocommit mode, LISTENing; each
notice makes the worker refresh its schedule from the jobs table at once and
wakes the sender's idle wait, so a `send`, `resume` or `requeue` typed in a
terminal reaches an idle worker on another machine in milliseconds rather than
at its next poll.

Notices are a shortcut, not the truth: the jobs table is. A notice sent while
the connection was down is lost, so the worker keeps polling, and after
reconnecting it acts as if it had heard one. A lost connection is retried with
backoff and said once; it never stops the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from capitolmail.outbox.job_notices import CHANNEL, OWN_SCHEMA, parse_notice
from capitolmail.redaction import first_line

log = logging.getLogger("capitolmail.worker")

# Reconnecting the listener: first wait, and the longest between tries.
RETRY_FIRST = 0.25
RETRY_MAX = 5.0
# How often the listening loop looks up to see whether it should stop.
_LOOK_SECONDS = 0.5

OnNotice = Callable[[int | None, str], None]


class JobNoticeListener:
    """A thread that calls `on_notice(job_id, change)` for every job notice.

    `on_notice(None, "reconnected")` follows each reconnection: whatever was
    announced meanwhile was not heard. `listening` is set while LISTEN is in place.
    """

    def __init__(self, engine: Engine, on_notice: OnNotice) -> None:
        self.engine = engine
        self.on_notice = on_notice
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capitolmail-notices", daemon=True)

    def __enter__(self) -> JobNoticeListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=_LOOK_SECONDS * 4)

    def _run(self) -> None:
        delay = RETRY_FIRST
        heard_before = False
        lost_said = False
        while not self._stop.is_set():
            try:
                for _ in self._listen(announce_reconnect=heard_before):
                    if not heard_before:
                        log.info("listening for job notices on PostgreSQL")
                    heard_before = True
                    delay = RETRY_FIRST
                    if lost_said:
                        log.info("listening for job notices again")
                        lost_said = False
            except Exception as err:  # noqa: BLE001 - a listener must never end the worker's hearing
                self.listening.clear()
                if not lost_said:
                    log.warning(
                        "not listening for job notices (%s); polling until reconnected",
                        _first_line(err, self.engine.url.password),
                    )
                    lost_said = True
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _listen(self, *, announce_reconnect: bool) -> Iterator[None]:
        """LISTEN on a connection of our own; yields once listening, then relays notices."""
        raw = self.engine.raw_connection()
        conn: Any = raw.driver_connection
        raw.detach()  # ours alone: never back into the pool, closed here
        try:
            conn.rollback()  # whatever the pool's ping began: autocommit needs none open
            conn.autocommit = True
            schema = conn.execute(OWN_SCHEMA).fetchone()[0]
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            yield
            if announce_reconnect:
                self.on_notice(None, "reconnected")
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=_LOOK_SECONDS):
                    ours = notice.channel == CHANNEL
                    parsed = parse_notice(notice.payload, schema) if ours else None
                    if parsed is not None:
                        self.on_notice(*parsed)
        finally:
            self.listening.clear()
            with suppress(Exception):
                conn.close()


@contextmanager
def listening_for_jobs(engine: Engine, on_notice: OnNotice) -> Iterator[JobNoticeListener | None]:
    """A listener while the block runs, on PostgreSQL; None (polling only) on SQLite."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with JobNoticeListener(engine, on_notice) as listener:
        yield listener


def _first_line(err: BaseException, password: str | None) -> str:
    """The driver's own error (not SQLAlchemy's wrapper), its first line, password masked."""
    first = first_line(getattr(err, "orig", None) or err)
    return first.replace(password, "***") if password else first
