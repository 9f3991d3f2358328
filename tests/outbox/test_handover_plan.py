"""A hand-over mark finds its rows by primary key, however many rows are `sending`.

Given the mark's equality on `state` too, SQLite's planner (no statistics) read
every `sending` row for each mark: 120 us a mark at 64 in flight, 1.9 ms at 3,000
(several workers' claims), on the path of every message. PostgreSQL's did the same
with statistics taken before the claims, as when a job is queued, analysed, then
sent (1.7 ms a mark at 3,000). A plan is what the database chooses, so the test
asks each database for it, on the statements the store sends, and checks what
they mark.
"""

from __future__ import annotations

import pytest

from capitolmail.outbox import Store
from capitolmail.outbox.driver_sql import DriverSQL, bind_time, in_list
from capitolmail.outbox.handover import _MARK, _MARK_BARE, _MARKED
from capitolmail.outbox.records import Outcome
from capitolmail.outbox.states import MessageState

from .test_store import NOW, claim_all, scheduled


@pytest.mark.parametrize("statement", [_MARK, _MARK_BARE, _MARKED], ids=["mark", "bare", "read"])
def test_a_mark_reads_the_primary_key_not_every_sending_row(
    store: Store, statement: DriverSQL
) -> None:
    scheduled(store, 300)
    postgresql = store.engine.dialect.name == "postgresql"
    if postgresql:
        with store.engine.begin() as conn:
            # Statistics from before the claims: none of the 300 is `sending` yet.
            conn.exec_driver_sql("ANALYZE messages")
    claimed = claim_all(store)
    assert len(claimed) == 300  # all of them `sending`: the index on state would read 300
    with store.engine.connect() as conn:
        parameters = {
            "now": bind_time(conn.dialect)(NOW),
            "state": MessageState.SENDING.value,
            "worker": "w1",
            "ids": in_list(conn.dialect, claimed[:2]),
        }
        if postgresql:
            # A table this small is cheapest read whole; the question is which index.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement.text(conn.dialect), parameters)
        else:
            rows = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement.text(conn.dialect), parameters
            )
        plan = " | ".join(str(row[-1]) for row in rows)
        conn.rollback()
    primary_key = "messages_pkey" if postgresql else "sqlite_autoindex_messages_1 (id=?)"
    assert primary_key in plan, plan
    assert "ix_messages_state" not in plan, plan


def test_the_mark_still_marks_only_this_workers_sending_rows(store: Store) -> None:
    """The rewritten checks (unary + on SQLite, IS NOT DISTINCT FROM on PostgreSQL)
    change the plan, not the meaning: another worker's row, or one no longer
    `sending`, is left alone."""
    scheduled(store, 4)
    mine = claim_all(store)
    store.record_outcomes([Outcome(mine[3], "sent", provider_message_id="sg-1")], NOW)

    marked = store.mark_handed_over("w1", mine, NOW)
    assert marked == set(mine[:3])
    assert store.mark_handed_over("w2", mine[:3], NOW) == set()
