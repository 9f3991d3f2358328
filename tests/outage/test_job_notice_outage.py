"""The job-notice listener rides out a database restart and says it may have missed some.

A notice sent while the listening connection is down is lost for good, so after
reconnecting the listener reports `(None, "reconnected")`: the worker then refreshes
its schedule and looks for work as if it had heard of a change.
"""

from __future__ import annotations

import queue

from sqlalchemy import create_engine, text

from capitolmail.outbox import Store
from capitolmail.outbox.job_notices import CHANNEL
from capitolmail.sending.job_notices import JobNoticeListener

from ..servers.tcp_proxy import TcpProxy
from ..workers import wait_until
from .conftest import through


def test_the_listener_reconnects_after_a_cut_and_hears_again(
    proxy: TcpProxy, postgresql_url: str
) -> None:
    heard: queue.SimpleQueue[tuple[int | None, str]] = queue.SimpleQueue()
    notify = create_engine(postgresql_url)
    with (
        Store.open(through(proxy, postgresql_url)) as store,
        JobNoticeListener(store.engine, lambda job, change: heard.put((job, change))) as listener,
    ):
        assert listener.listening.wait(30)
        with notify.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, '7:paused')"), {"c": CHANNEL})
            conn.execute(text("SELECT pg_notify(:c, 'not ours')"), {"c": CHANNEL})
        assert heard.get(timeout=10) == (7, "paused")

        proxy.cut()
        wait_until(lambda: not listener.listening.is_set(), what="the listener to lose it")
        wait_until(lambda: proxy.refused >= 1, what="a reconnection attempt")
        proxy.restore()
        assert heard.get(timeout=30) == (None, "reconnected")
        assert listener.listening.is_set()
        with notify.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, '8:sending')"), {"c": CHANNEL})
        assert heard.get(timeout=10) == (8, "sending")
        assert heard.empty()  # the payload that was not ours was dropped
    notify.dispose()
