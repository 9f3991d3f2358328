"""The claim's retry query reads a job's due retries from the partial index made for it.

Without it (before migration 0014) the query read every due retry of every job, or
every retry of the job, due or not: 40 ms a claim at 1,000,000 queued rows with a
paused job's 20,000 retries due (benchmarks/workers.py). A plan is what the database
chooses, so the test asks each database for it, on the statement claim_due sends.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from capitolmail.outbox import Store
from capitolmail.outbox.claim_sql import CLAIM_IN_JOB, RETRYING_IN_JOB
from capitolmail.outbox.claims import _due_in_job
from capitolmail.outbox.driver_sql import bind_time
from capitolmail.outbox.records import Outcome

from .test_store import LATER, NOW, claim_all, scheduled


def _retry_query_plan(store: Store, job_id: int) -> str:
    """The database's plan of the statement claim_due picks retries with, as one string:
    `_due_in_job`'s retry query on SQLite, the one-statement claim on PostgreSQL."""
    engine = store.engine
    with engine.connect() as conn:
        now = bind_time(conn.dialect)(NOW)
        parameters = {"job": job_id, "limit": 10, "now": now}
        if conn.dialect.name == "postgresql":
            statement = CLAIM_IN_JOB.text(conn.dialect)
            parameters |= {"worker": "w1", "handed": None, "sending": "sending"}
        else:
            statement = RETRYING_IN_JOB.text(conn.dialect)
            # What claim_due runs, run once as it runs it: the statement is a real one.
            assert len(_due_in_job(conn, job_id, 10, NOW)) == 10
        if conn.dialect.name == "postgresql":
            # A table this small is cheapest read whole; the question is which index.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("ANALYZE messages")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " | ".join(str(row[-1]) for row in rows)
        conn.rollback()
    return plan


def test_due_retries_are_read_from_the_retry_index(store: Store) -> None:
    job_id = scheduled(store, 200)
    scheduled(store, 40, slug="other")
    claimed = claim_all(store)
    soon = NOW - timedelta(minutes=1)
    store.record_outcomes(
        [
            # Most wait an hour, a few are due: reading the job's retries in seq order
            # would read all of them to find the few.
            Outcome(message_id, "retry", error="451", next_attempt_at=LATER if i % 20 else soon)
            for i, message_id in enumerate(claimed)
        ],
        NOW,
    )

    plan = _retry_query_plan(store, job_id)

    assert "ix_messages_retry_due" in plan, plan
    with store.engine.connect() as conn:
        due = conn.execute(
            text("SELECT count(*) FROM messages WHERE job_id = :j AND next_attempt_at <= :n"),
            {"j": job_id, "n": NOW},
        ).scalar_one()
    assert due == 10
    (claimed,) = store.claim_due("w1", 1, NOW)  # and claim_due takes the first due retry
    assert claimed.attempts == 2
