"""The outage rider's `down` (which refuses every hand-over mark) ends when the
database is back, however it came back.

The database can return between the rider's failed ping and its next try of the
step. The rider then saw the step go through while its last ping said the
database was gone; left `down`, it refused every mark from then on, and a worker
claimed, refused and gave back the same messages until the test's patience ran
out (seen in CI). Here a real PostgreSQL store is cut and restored through the
loopback proxy at exactly that moment.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from capitolmail.outbox import Store
from capitolmail.sending.options import SendSummary
from capitolmail.sending.outage import OutageRider
from capitolmail.sending.recording import OutcomeBook

from ..servers.tcp_proxy import TcpProxy
from .conftest import through


def test_the_database_back_between_a_failed_ping_and_the_step_ends_the_outage(
    proxy: TcpProxy, postgresql_url: str
) -> None:
    with Store.open(through(proxy, postgresql_url)) as store:
        store.ping()
        book = OutcomeBook(store, lambda: datetime.now(UTC), SendSummary(), None)
        rider = OutageRider(
            store,
            30,
            book=book,
            collect=lambda _block: None,
            in_flight=lambda: 0,
            stop=threading.Event(),
        )
        tries: list[bool] = []

        def step() -> str:
            tries.append(rider.down)
            if len(tries) == 1:
                proxy.cut()  # the restart: this try fails, and so does the ping after it
            else:
                proxy.restore()  # back just after that ping said it was gone
            store.ping()
            return "recorded"

        assert rider.run(step) == "recorded"
        assert tries == [False, True]  # the second try ran while the rider said `down`
        assert rider.down is False  # ... and the step going through ended the outage
