"""The job-notice listener rides out a database restart and says it may have missed some.

A notice sent while the listening connection is down is lost for good, so after
reconnecting the listener reports `(None, "reconnected")`: the worker then refreshes
its schedule and looks for work as if it had heard of a change. It hears only its
own outbox: a notice made in another schema of the same database, or one that is not
capitolmail's, is dropped.
"""

from __future__ import annotations

import queue

from sqlalchemy import create_engine, text

from capitolmail.outbox import Store
from capitolmail.outbox.job_notices import CHANNEL, announce
from capitolmail.sending.job_notices import JobNoticeListener

from ..conftest import own_schema
from ..servers.tcp_proxy import TcpProxy
from ..workers import wait_until
from .conftest import through


def _announce_in(url: str, job_id: int, change: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        announce(conn, job_id, change)
    engine.dispose()


def test_the_listener_reconnects_after_a_cut_and_hears_again(
    proxy: TcpProxy, postgresql_url: str, postgresql_server: str
) -> None:
    heard: queue.SimpleQueue[tuple[int | None, str]] = queue.SimpleQueue()
    notify = create_engine(postgresql_url)
    with (
        Store.open(through(proxy, postgresql_url)) as store,
        JobNoticeListener(store.engine, lambda job, change: heard.put((job, change))) as listener,
    ):
        assert listener.listening.wait(30)
        with own_schema(postgresql_server) as elsewhere:
            _announce_in(elsewhere, 6, "paused")  # another outbox in the same database
        with notify.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, '5:paused')"), {"c": CHANNEL})  # no schema
            conn.execute(text("SELECT pg_notify(:c, 'not ours')"), {"c": CHANNEL})
            announce(conn, 7, "paused")
        assert heard.get(timeout=10) == (7, "paused")  # and nothing before it

        proxy.cut()
        wait_until(lambda: not listener.listening.is_set(), what="the listener to lose it")
        wait_until(lambda: proxy.refused >= 1, what="a reconnection attempt")
        proxy.restore()
        assert heard.get(timeout=30) == (None, "reconnected")
        assert listener.listening.is_set()
        _announce_in(postgresql_url, 8, "sending")
        assert heard.get(timeout=10) == (8, "sending")
        assert heard.empty()
    notify.dispose()
