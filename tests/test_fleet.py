"""Four worker processes share one 20,000-message alert on PostgreSQL.

What an organisation running a worker per machine relies on: however the rows are
shared out, every supporter gets the alert exactly once, at their own address, and
the job ends `done`; when one of the four is SIGKILLed a third of the way through,
the other three recover its rows (dead-worker recovery at each heartbeat) and
finish the job, and nothing goes twice. The only rows a SIGKILL may leave
`unknown` are the ones the dead worker had handed over; each of those arrived at
most once, and the survivors report exactly how many there were.

The messages are stored with `Store.create_job`, as `capitolmail queue` stores
them, without rendering 20,000 templates first: these tests are about sending.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from capitolmail.message import OutgoingMessage
from capitolmail.outbox import ABANDONED_ERROR, QueuedMessage, Store

from .conftest import Invoke, use_smtp_relay
from .servers.smtp import MailServer, running_mail_server
from .workers import kill, start_worker, stop, wait_until

# The suite sends 5,000 (about a minute); .ci/run sends the full 20,000 once more
# (three minutes and more, too long for the ten minutes the whole suite may take).
COUNT = int(os.environ.get("CAPITOLMAIL_TEST_FLEET_MESSAGES", "5000"))
WORKERS = 4
CONCURRENCY = 8  # per worker: no more than this can be in flight when one is killed
# Waits fail past this: a rate of 20 messages a second, far below a quiet machine's.
PATIENCE = max(120.0, COUNT / 20)
MESSAGE_ID = re.compile(rb"^Message-ID: <([0-9a-f-]{36})@", re.MULTILINE | re.IGNORECASE)
MARKED_UNKNOWN = re.compile(r"(\d+) marked unknown after a worker died")


def _alert_to(count: int) -> list[QueuedMessage]:
    return [
        QueuedMessage(
            OutgoingMessage(
                message_id=str(uuid.uuid4()),
                job_id="1",
                from_email="advocacy@example.org",
                from_name="Example Rights Coalition",
                to_email=f"supporter{n:05d}@example.org",
                to_name=f"Supporter {n:05d}",
                subject="Tell your senators: block the arms sale",
                text=f"Dear Supporter {n:05d},\n\nPlease call your senators today.\n",
                reply_to="policy@example.org",
                categories=("urge-senators",),
            ),
            supporter_id=f"s{n:05d}",
        )
        for n in range(count)
    ]


@dataclass
class Fleet:
    """The relay, the queued alert (message id -> address) and a look at the rows."""

    workspace: Path
    server: MailServer
    queued: dict[str, str]
    engine: Engine

    def job_state(self) -> str:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT state FROM jobs WHERE id = 1")).scalar_one()

    def handed_over_by(self, pid: int) -> int:
        """Rows worker process `pid` holds `sending` past the irreversible step."""
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM messages WHERE state = 'sending' "
                    "AND handed_over_at IS NOT NULL AND claimed_by LIKE :owner"
                ),
                {"owner": f"%:{pid}:%"},
            ).scalar_one()

    def rows(self) -> list[tuple[str, str, str | None, str | None]]:
        """(id, state, claimed_by, last_error) of every row of job 1."""
        with self.engine.connect() as conn:
            query = "SELECT id, state, claimed_by, last_error FROM messages WHERE job_id = 1"
            return [(r[0], r[1], r[2], r[3]) for r in conn.execute(text(query))]

    def arrived(self) -> Counter[str]:
        """Deliveries per message id, each checked to have gone to its own supporter."""
        counts: Counter[str] = Counter()
        for received in self.server.received():
            found = MESSAGE_ID.search(received.raw, 0, received.raw.index(b"\r\n\r\n"))
            assert found, "a message without our Message-ID arrived"
            message_id = found.group(1).decode()
            assert message_id in self.queued, f"{message_id} arrived; the job has no such message"
            assert received.rcpt_tos == (self.queued[message_id],), f"{message_id}: wrong address"
            counts[message_id] += 1
        return counts


@pytest.fixture
def fleet(
    workspace: Path, cli: Invoke, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    """Job 1, the alert to COUNT supporters, started by `capitolmail send`."""
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", postgresql_url)
    messages = _alert_to(COUNT)
    with Store.open(postgresql_url) as store:
        now = datetime.now(UTC)
        store.create_job(letter_slug="urge-senators", kind="alert", messages=messages, now=now)
    with running_mail_server() as server:
        use_smtp_relay(
            workspace,
            server.port,
            smtp=f"connections = {CONCURRENCY}\n",
            rest=f"\n[worker]\nconcurrency = {CONCURRENCY}\nheartbeat_seconds = 0.5\n",
        )
        assert cli("send", "1").exit_code == 0
        engine = create_engine(postgresql_url)
        try:
            queued = {q.message.message_id: q.message.to_email for q in messages}
            yield Fleet(workspace, server, queued, engine)
        finally:
            engine.dispose()


def _run_and_kill_one(fleet: Fleet, kill_at: int) -> tuple[int, str]:
    """Four workers until job 1 is done; the first SIGKILLed once `kill_at` messages
    arrived and it holds some past the irreversible step. (Its pid, the others' logs.)"""
    logs = [fleet.workspace / f"worker{n}.log" for n in range(WORKERS)]
    # The default poll (1 s): the job is started by the first worker to look, and a
    # poll of 0.2 s costs four workers more CPU than the sending on a loaded machine.
    workers = [start_worker(fleet.workspace, log=log) for log in logs]
    victim, survivors = workers[0], workers[1:]
    try:
        wait_until(
            lambda: (
                len(fleet.server.received()) >= kill_at and fleet.handed_over_by(victim.pid) > 0
            ),
            what=f"{kill_at} messages sent and the first worker mid-send",
            timeout=PATIENCE,
        )
        kill(victim)
        assert len(fleet.server.received()) < COUNT, "the job finished before the kill"
        wait_until(lambda: fleet.job_state() == "done", what="the job to be done", timeout=PATIENCE)
        for worker in survivors:
            stop(worker)
    finally:
        for worker in workers:
            kill(worker)
    return victim.pid, "".join(log.read_text() for log in logs[1:])


def test_four_workers_send_each_message_once_and_three_finish_when_one_is_killed(
    fleet: Fleet,
) -> None:
    victim, logs = _run_and_kill_one(fleet, COUNT // 3)

    arrived = fleet.arrived()
    assert max(arrived.values()) == 1, "a message was delivered twice"
    rows = fleet.rows()
    assert len(rows) == COUNT
    assert len(arrived) >= COUNT - CONCURRENCY, f"{COUNT - len(arrived)} never arrived"
    unknown = [(i, claimer, error) for i, state, claimer, error in rows if state == "unknown"]
    assert {state for _, state, _, _ in rows} <= {"sent", "unknown"}
    for message_id, state, _, _ in rows:
        if state == "sent":
            assert arrived[message_id] == 1, f"{message_id} is sent but never arrived"
    # Only the victim's handed-over rows may be unknown, at most what it had in flight,
    # each delivered at most once; and the survivors that recovered them say how many.
    assert len(unknown) <= CONCURRENCY, unknown
    for message_id, claimer, error in unknown:
        assert f":{victim}:" in (claimer or ""), f"{message_id} is unknown but not the victim's"
        assert error == ABANDONED_ERROR
        assert arrived[message_id] <= 1
    reported = sum(int(n) for n in MARKED_UNKNOWN.findall(logs))
    assert reported == len(unknown), logs
    assert fleet.job_state() == "done"
