"""The send loop's per-turn queries on PostgreSQL at 1,000,000 queued rows, for workers.py.

`fill` writes the rows in SQL (INSERT ... SELECT generate_series, no Python per
row) in a mix a large organisation's outbox could hold: most queued in two
sending jobs, sent rows with retries waiting an hour scattered among them, a few
retries due now, a paused job's queued rows and a finished job. `explain_turn`
then runs one send-loop turn (claim, mark handed over, record outcomes, release
lost claims, recover the dead, finish jobs, next paced turn) through the real
functions, in a transaction rolled back, and has PostgreSQL EXPLAIN (ANALYZE,
BUFFERS) every statement they issue: the hook below runs the exact SQL and
parameters the driver was given, inside a savepoint it rolls back, just before
the statement itself runs. `time_claims` times claims the same way (rolled back,
so the table stays as filled).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, text

# Per job: its state, then as shares of the queued rows asked for: its queued rows,
# its rows before them (sent, in a sending job every tenth a retry waiting an hour, the last of them
# retries due now), and of those the retries due now. The paused job's due retries
# are what an outage leaves: the claim must pass them by without reading them.
JOB_MIX = (
    ("sending", 0.60, 0.15, 0.0005),
    ("sending", 0.30, 0.0, 0.0),
    ("paused", 0.10, 0.02, 0.02),
    ("done", 0.0, 0.10, 0.0),
)
BODY = "We, the undersigned organizations, write to ask that you place a hold. " * 8

_INSERT = """
INSERT INTO messages (id, job_id, seq, to_email, to_email_key, to_name, from_email,
    from_name, subject, text_body, headers, categories, state, attempts,
    next_attempt_at, created_at, updated_at, sent_at)
SELECT md5(CAST(:job AS text) || ':' || g)::uuid::text, :job, g,
    'office' || g || '@mail.house.gov', 'office' || g || '@mail.house.gov',
    'Office ' || g, 'letters@coalition.example.org', 'Coalition',
    'Joint letter: hold the pending arms sale', :body, '[]', '[]',
    CASE WHEN g >= :done THEN 'queued'
         WHEN g >= :done - :due THEN 'retry_wait'
         WHEN g % 10 = 3 AND :retries THEN 'retry_wait' ELSE 'sent' END,
    CASE WHEN g >= :done THEN 0 ELSE 1 END,
    CASE WHEN g >= :done THEN NULL
         WHEN g >= :done - :due THEN CAST(:now AS timestamptz) - interval '1 minute'
         WHEN g % 10 = 3 AND :retries THEN CAST(:now AS timestamptz) + interval '1 hour' END,
    :now, :now,
    CASE WHEN g < :done - :due AND (g % 10 <> 3 OR NOT :retries)
         THEN CAST(:now AS timestamptz) END
FROM generate_series(0, :total - 1) AS g
"""


def fill(engine: Engine, queued: int) -> dict[str, int]:
    """Write the jobs and their messages; the count of messages per state."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for state, share, before, due_share in JOB_MIX:
            done, due = int(queued * before), int(queued * due_share)
            job = conn.execute(
                text(
                    "INSERT INTO jobs (letter_slug, kind, state, created_at, started_at, total,"
                    " options) VALUES ('bench', 'letter', :state, :now, :now, 0, '{}')"
                    " RETURNING id"
                ),
                {"state": state, "now": now},
            ).scalar_one()
            total = done + int(queued * share)
            conn.execute(
                text(_INSERT),
                {
                    "job": job,
                    "total": total,
                    "done": done,
                    "due": due,
                    "retries": state == "sending",
                    "now": now,
                    "body": "",  # kept apart since 0018, as the queue writes them
                },
            )
            conn.execute(
                text(
                    "INSERT INTO message_bodies (message_id, text_body)"
                    " SELECT id, :body FROM messages WHERE job_id = :job"
                ),
                {"job": job, "body": BODY},
            )
            conn.execute(text("UPDATE jobs SET total = :t WHERE id = :j"), {"t": total, "j": job})
        conn.execute(
            text(
                "INSERT INTO suppressions (email_key, email, reason, suppressed_at)"
                " SELECT 'office' || g || '@mail.house.gov', 'office' || g || '@mail.house.gov',"
                " 'unsubscribe', :now FROM generate_series(1000000, 1004999) AS g"
            ),
            {"now": now},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("messages", "message_bodies", "jobs", "suppressions", "events", "workers"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
        states = conn.execute(text("SELECT state, count(*) FROM messages GROUP BY state"))
        return dict(sorted((state, count) for state, count in states))


@dataclass
class Plan:
    """One statement as the driver got it, and PostgreSQL's plan of it."""

    step: str
    sql: str
    plan: list[str]
    statement: str = ""
    parameters: Any = None

    @property
    def on_messages(self) -> list[str]:
        """The plan's scan nodes on the messages table (and its indexes)."""
        scans = []
        for line in self.plan:
            node = line.strip().removeprefix("->").strip()
            if " on messages" in node and "Scan" in node:
                scans.append(node.split("  (")[0])
        return scans

    @property
    def seq_scan(self) -> bool:
        return any(node.startswith("Seq Scan on messages") for node in self.on_messages)

    @property
    def execution_ms(self) -> float:
        for line in self.plan:
            if line.startswith("Execution Time:"):
                return float(line.split()[2])
        return 0.0


@dataclass
class Explainer:
    """While `step` is set, EXPLAIN (ANALYZE, BUFFERS) every statement before it runs."""

    plans: list[Plan] = field(default_factory=list)
    step: str | None = None

    def hook(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        first = statement.lstrip().split(None, 1)[0].upper()
        if self.step is None or first not in ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH"):
            return
        if (
            isinstance(parameters, list | tuple)
            and parameters
            and not isinstance(parameters[0], str | int | float | bytes | None)
        ):
            parameters = parameters[0]  # an executemany: its first row stands for the rest
        cursor.execute("SAVEPOINT capitolmail_explain")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("ROLLBACK TO SAVEPOINT capitolmail_explain")
        self.plans.append(Plan(self.step, " ".join(statement.split()), plan, statement, parameters))

    def driver_hook(self, cursor: Any, statement: str, parameters: Any) -> None:
        self.hook(None, cursor, statement, parameters)

    @contextmanager
    def listening(self, engine: Engine) -> Iterator[Explainer]:
        """Every statement: SQLAlchemy's, and those the send path runs on the driver."""
        from capitolmail.outbox import driver_sql

        event.listen(engine, "before_cursor_execute", self.hook)
        driver_sql.before_statement.append(self.driver_hook)
        try:
            yield self
        finally:
            driver_sql.before_statement.remove(self.driver_hook)
            event.remove(engine, "before_cursor_execute", self.hook)


def register(engine: Engine, now: datetime) -> str:
    from capitolmail.outbox import workers

    worker_id = f"bench:{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        workers.register_worker(conn, worker_id, "bench.invalid", 1, now)
    return worker_id


def explain_turn(engine: Engine, batch: int) -> list[Plan]:
    """One send-loop turn's statements, each explained, in one transaction rolled back."""
    from capitolmail.outbox import claims, handover, jobs, outcomes, workers
    from capitolmail.outbox.records import Outcome

    now = datetime.now(UTC)
    worker_id = register(engine, now)
    explainer = Explainer()
    with explainer.listening(engine), engine.connect() as conn, conn.begin() as transaction:

        def step(name: str, run: Callable[[], Any]) -> Any:
            explainer.step = name
            try:
                return run()
            finally:
                explainer.step = None

        claimed = step("claim_due", lambda: claims.claim_due(conn, worker_id, batch, now))
        ids = [c.message.message_id for c in claimed]
        step("mark_handed_over", lambda: handover.mark_handed_over(conn, worker_id, ids, now))
        later = now + timedelta(minutes=5)
        results = [Outcome(i, "sent", provider_message_id=f"p{i[:8]}") for i in ids[:-1]]
        results.append(Outcome(ids[-1], "retry", error="451 try later", next_attempt_at=later))
        step("record_outcomes", lambda: outcomes.record_outcomes(conn, results, now, worker_id))
        step("release_lost_claims", lambda: workers.release_lost_claims(conn, worker_id, [], now))
        step(
            "recover_abandoned",
            lambda: workers.recover_abandoned(
                conn, now, is_alive=lambda *_: True, stale_after=timedelta(minutes=1)
            ),
        )
        step("finish_jobs", lambda: jobs.finish_jobs(conn, now))
        step("next_paced_turn", lambda: claims.next_paced_turn(conn, now))
        transaction.rollback()
    return explainer.plans


@dataclass
class Latency:
    label: str
    samples: list[float]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000


def time_claims(engine: Engine, batch: int, count: int, plans: list[Plan]) -> list[Latency]:
    """`count` claims of `batch` rows, each in a transaction rolled back: claim_due whole
    as the client waits for it (on PostgreSQL the jobs read and one statement for the
    job), and the server's own execution time of every statement of the claim (the
    ones `plans` caught, run again in that order): the client's figures include every
    round trip and every wait for a core on a loaded machine."""
    from capitolmail.outbox import claims

    worker_id = register(engine, datetime.now(UTC))
    claim = [p for p in plans if p.step == "claim_due"]
    whole, server_whole = [], []
    for _ in range(count):
        now = datetime.now(UTC)
        with engine.connect() as conn:
            with conn.begin() as transaction:
                started = time.perf_counter()
                claimed = claims.claim_due(conn, worker_id, batch, now)
                whole.append(time.perf_counter() - started)
                transaction.rollback()
            if len(claimed) != batch:
                raise SystemExit(f"a claim of {batch} got {len(claimed)} rows")
            with conn.begin() as transaction:
                server_whole.append(sum(_server_seconds(conn, p) for p in claim))
                transaction.rollback()
    return [
        Latency(f"claim_due, {batch} rows, {len(claim)} statements (rolled back)", whole),
        Latency("claim_due's statements' execution in the server, summed", server_whole),
    ]


def _server_seconds(conn: Any, plan: Plan) -> float:
    """The server's Execution Time of the statement, without per-node timing overhead."""
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + plan.statement, plan.parameters)
    found = cursor.fetchone()[0]
    return float(found[0]["Execution Time"]) / 1000


def plan_lines(plans: list[Plan]) -> list[str]:
    """Per statement: step, what it scans on messages, its execution time, its SQL's start."""
    lines = []
    for plan in plans:
        scans = ", ".join(plan.on_messages) or "(messages not scanned)"
        flag = "  << Seq Scan on messages" if plan.seq_scan else ""
        lines.append(f"  {plan.step:20} {plan.execution_ms:7.3f} ms  {scans}{flag}")
        lines.append(f"  {'':20} {plan.sql[:110]}")
    return lines
