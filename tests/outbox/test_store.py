from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, update

from capitolmail.errors import CapitolmailError, JobNotFound, MessageNotFound, StoreError
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import (
    ABANDONED_ERROR,
    REACHED_STATES,
    JobState,
    MessageState,
    Outcome,
    QueuedMessage,
    Recovered,
    Store,
)
from capitolmail.outbox.database import SCHEMA_HEAD, head_revisions, migrate
from capitolmail.outbox.schema import jobs, messages, metadata

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(hours=1)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / '.capitolmail' / 'capitolmail.db'}"


def outgoing(index: int = 0, **changes: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "message_id": str(uuid.uuid4()),
        "job_id": "ignored",
        "from_email": "policy@peace-action.example",
        "from_name": "Peace Action",
        "to_email": f"Staffer{index}@Mail.House.gov",
        "to_name": f"Staffer {index}",
        "subject": "Block the arms sale",
        "text": f"Dear Staffer {index},\n\nPlease act.\n",
        "html": None,
        "reply_to": None,
        "headers": (),
        "categories": (),
    }
    fields.update(changes)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


GRACE = timedelta(hours=12)


def queue(
    store: Store,
    count: int = 3,
    *,
    slug: str = "arms-sale",
    emails: Sequence[str] | None = None,
) -> int:
    if emails is not None:
        items = [QueuedMessage(outgoing(i, to_email=email)) for i, email in enumerate(emails)]
    else:
        items = [QueuedMessage(outgoing(i)) for i in range(count)]
    return store.create_job(letter_slug=slug, kind="joint", messages=items, now=NOW)


def scheduled(
    store: Store, count: int = 3, *, at: datetime = EARLIER, slug: str = "arms-sale"
) -> int:
    """A queued job scheduled for `at`, and started if `at` has come, as a worker would."""
    job_id = queue(store, count, slug=slug)
    store.schedule_job(job_id, at, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    return job_id


def claim_all(store: Store, worker: str = "w1", *, now: datetime = NOW) -> list[str]:
    store.register_worker(worker, "host-a", 1000, now)
    return [claimed.message.message_id for claimed in store.claim_due(worker, 1000, now)]


def message_states(store: Store, job_id: int) -> list[str]:
    return [info.state for info in store.list_messages(job_id)]


# -- opening and migrating ----------------------------------------------------------------


def test_new_database_is_created_through_the_migration(database_url: str) -> None:
    with Store.open(database_url) as store:
        engine = store._engine
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == ("0018",)
            tables = set(inspect(conn).get_table_names())
    assert {
        "jobs",
        "messages",
        "message_bodies",
        "events",
        "workers",
        "supporters",
        "suppressions",
        "webhook_events",
        "inbox_messages",
        "provider_paces",
        "alembic_version",
    } <= tables
    # Workers schedule in memory now (sending/schedule.py); 0016 dropped APScheduler's table.
    assert "apscheduler_jobs" not in tables


def test_the_schema_head_the_code_names_is_the_migrations_head() -> None:
    # Store.open skips alembic for a database at SCHEMA_HEAD: a migration added
    # without moving it would leave every existing outbox unmigrated.
    assert head_revisions() == {SCHEMA_HEAD}


def test_opening_a_database_at_head_loads_no_alembic(database_url: str) -> None:
    Store.open(database_url).close()
    script = (
        "import sys\n"
        "from capitolmail.outbox import Store\n"
        f"with Store.open({database_url!r}) as store:\n"
        "    store.list_jobs()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_migrated_schema_matches_the_tables_the_code_queries(store: Store) -> None:
    with store._engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_reopening_a_database_at_head_runs_no_migration(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(database_url).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", refuse)
    with Store.open(database_url) as store:
        assert migrate(store._engine) is False
        assert store.list_jobs() == []


def test_sqlite_file_and_folder_are_created_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    with Store.open(sqlite_url(tmp_path)) as store, store._engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert (tmp_path / ".capitolmail" / "capitolmail.db").is_file()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,  # NORMAL
    }


def test_url_for_display_hides_the_password(tmp_path: Path) -> None:
    with Store.open(sqlite_url(tmp_path)) as store:
        assert store.url_for_display == sqlite_url(tmp_path)


def test_unreachable_postgresql_error_names_the_server_but_not_the_password() -> None:
    url = "postgresql+psycopg://capitol:s3cret-pw@127.0.0.1:1/outbox?connect_timeout=5"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg://capitol:***@127.0.0.1:1/outbox" in message
    assert "check that the database server is running" in message
    assert "\n" not in message


def test_malformed_url_error_does_not_repeat_the_url() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://capitol:s3cret-pw@host:notaport/outbox")
    assert "s3cret-pw" not in str(caught.value)


def test_sqlite_path_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'blocker' / 'capitolmail.db'}"
    with pytest.raises(StoreError, match="could not open the outbox database in sqlite:///"):
        Store.open(url)


def test_sqlite_error_during_a_write_is_a_store_error(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with Store.open(url) as store:
        # Another program holds the write lock past the busy timeout.
        blocker = sqlite3.connect(
            tmp_path / ".capitolmail" / "capitolmail.db", isolation_level=None
        )
        try:
            blocker.execute("BEGIN IMMEDIATE")
            pooled = store._engine.raw_connection()  # the pool's only connection
            pooled.driver_connection.execute("PRAGMA busy_timeout=10")  # type: ignore[union-attr]
            pooled.close()
            with pytest.raises(StoreError, match="no other program holds it locked"):
                store.register_worker("w1", "host-a", 1, NOW)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


# -- queueing and reading back ---------------------------------------------------------------


def test_create_job_round_trips_an_outgoing_message_exactly(store: Store) -> None:
    original = outgoing(
        subject="Guantánamo: ferme-le — 关闭 ✉",
        to_name="Sen. Núñez-O'Brien",
        text="Line one\r\nLine two — ünïcödé\n",
        html=None,
        reply_to="replies@peace-action.example",
        headers=(("X-Campaign", "arms-sale"), ("X-Note", "ça va"), ("X-Campaign", "again")),
        categories=("joint", "arms-sale"),
    )
    with_html = outgoing(1, html="<p>Hello&nbsp;<b>Senator</b></p>")
    job_id = store.create_job(
        letter_slug="arms-sale",
        kind="joint",
        messages=[
            QueuedMessage(original, bioguide="N000001", contact_role="lc"),
            QueuedMessage(with_html),
        ],
        now=NOW,
    )

    back = store.get_message(original.message_id)
    assert back == dataclasses.replace(original, job_id=str(job_id))
    assert back.html is None
    assert store.get_message(with_html.message_id).html == with_html.html
    infos = store.list_messages(job_id)
    assert [(info.id, info.seq, info.bioguide, info.contact_role) for info in infos] == [
        (original.message_id, 0, "N000001", "lc"),
        (with_html.message_id, 1, None, None),
    ]


def test_create_job_stores_a_draft_with_every_message_queued_in_order(store: Store) -> None:
    job_id = queue(store, 2345)  # more than one insert batch

    job = store.get_job(job_id)
    assert (job.state, job.total, job.counts) == (JobState.DRAFT, 2345, {"queued": 2345})
    assert (job.letter_slug, job.kind, job.created_at) == ("arms-sale", "joint", NOW)
    infos = store.list_messages(job_id)
    assert [info.seq for info in infos] == list(range(2345))
    assert infos[1000].to_email == "Staffer1000@Mail.House.gov"


def test_create_job_without_messages_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one message"):
        store.create_job(letter_slug="arms-sale", kind="joint", messages=[], now=NOW)
    assert store.list_jobs() == []


def test_a_duplicate_message_id_stores_nothing(store: Store) -> None:
    message = outgoing()
    with pytest.raises(StoreError, match="could not queue the job in .*nothing was written"):
        store.create_job(
            letter_slug="arms-sale",
            kind="joint",
            messages=[QueuedMessage(message), QueuedMessage(message)],
            now=NOW,
        )
    assert store.list_jobs() == []


def test_unknown_job_says_how_to_list_the_jobs(store: Store) -> None:
    with pytest.raises(JobNotFound) as caught:
        store.get_job(7)
    assert str(caught.value) == 'no job 7; "capitolmail status" lists the jobs'
    with pytest.raises(JobNotFound):
        store.list_messages(7)
    with pytest.raises(MessageNotFound):
        store.get_message(str(uuid.uuid4()))


def test_list_jobs_is_newest_first(store: Store) -> None:
    first, second = queue(store, 1), queue(store, 2, slug="gitmo")
    assert [job.id for job in store.list_jobs()] == [second, first]
    assert [job.total for job in store.list_jobs()] == [2, 1]


def test_list_messages_filters_by_state(store: Store) -> None:
    job_id = scheduled(store, 3)
    store.register_worker("w1", "host-a", 1, NOW)
    first = store.claim_due("w1", 1, NOW)[0]
    assert [info.id for info in store.list_messages(job_id, states=["sending"])] == [
        first.message.message_id
    ]
    assert len(store.list_messages(job_id, states=["queued", "sent"])) == 2
    with pytest.raises(ValueError):
        store.list_messages(job_id, states=["snet"])


def test_aware_datetimes_round_trip_as_utc(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    at = datetime(2025, 3, 2, 9, 30, 15, 123456, tzinfo=eastern)
    job_id = queue(store)

    job = store.schedule_job(job_id, at, NOW)

    assert job.scheduled_at == at
    assert job.scheduled_at is not None and job.scheduled_at.tzinfo == UTC
    assert job.scheduled_at.hour == 14
    assert store.get_job(job_id).created_at.tzinfo == UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2025, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="aware"):
        store.create_job(
            letter_slug="arms-sale", kind="joint", messages=[QueuedMessage(outgoing())], now=naive
        )
    job_id = queue(store)
    with pytest.raises(ValueError, match="aware"):
        store.schedule_job(job_id, naive, NOW)


# -- job decisions --------------------------------------------------------------------------


def test_schedule_moves_draft_paused_and_missed_jobs_to_scheduled(store: Store) -> None:
    job_id = queue(store)
    assert store.schedule_job(job_id, LATER, NOW).state == JobState.SCHEDULED
    store.pause_job(job_id, "waiting for the vote", NOW)
    job = store.schedule_job(job_id, LATER + timedelta(days=1), NOW)
    assert (job.state, job.scheduled_at, job.paused_reason) == (
        JobState.SCHEDULED,
        LATER + timedelta(days=1),
        None,
    )


@pytest.mark.parametrize(
    ("state", "words"),
    [("sending", "already sending"), ("done", "is done"), ("cancelled", "was cancelled")],
)
def test_schedule_is_refused_once_a_job_is_sending_done_or_cancelled(
    store: Store, state: str, words: str
) -> None:
    job_id = queue(store)
    _force_job_state(store, job_id, state)
    with pytest.raises(CapitolmailError, match=words):
        store.schedule_job(job_id, LATER, NOW)


def _force_job_state(store: Store, job_id: int, state: str) -> None:
    from capitolmail.outbox.schema import jobs

    with store._engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(state=state))


def test_pause_and_resume_return_a_job_to_where_it_was(store: Store) -> None:
    waiting = scheduled(store, 2, at=LATER)
    running = scheduled(store, 2)
    claim_all(store)  # only `running` is due

    assert store.pause_job(waiting, "hold", NOW).paused_reason == "hold"
    store.pause_job(running, "provider refused the API key", NOW)
    assert store.resume_job(waiting, NOW).state == JobState.SCHEDULED
    resumed = store.resume_job(running, NOW)
    assert (resumed.state, resumed.paused_reason) == (JobState.SENDING, None)
    # Resumed by someone else first: nothing to do, and nothing to refuse.
    assert store.resume_job(running, NOW).state == JobState.SENDING
    with pytest.raises(CapitolmailError, match="draft"):
        store.pause_job(queue(store), "why", NOW)


def test_pausing_a_job_that_sends_nothing_more_changes_nothing(store: Store) -> None:
    cancelled = scheduled(store, 1)
    store.cancel_job(cancelled, NOW)
    done = scheduled(store, 1)
    for message_id in claim_all(store):
        store.record_outcomes([Outcome(message_id, "sent", provider_message_id=None)], NOW)
    store.finish_jobs(NOW)
    events_before = {job: store.list_events(job) for job in (cancelled, done)}

    assert store.pause_job(cancelled, "SendGrid refused the API key", NOW).state == "cancelled"
    assert store.pause_job(done, "SendGrid refused the API key", NOW).state == "done"

    assert {job: store.list_events(job) for job in (cancelled, done)} == events_before
    with pytest.raises(CapitolmailError, match="cancelled, not paused; nothing to resume"):
        store.resume_job(cancelled, NOW)


def test_paused_job_is_not_claimed_from(store: Store) -> None:
    job_id = scheduled(store, 2)
    store.pause_job(job_id, "hold", NOW)
    assert claim_all(store) == []
    store.resume_job(job_id, NOW)
    assert len(claim_all(store)) == 2


def test_cancel_cancels_waiting_messages_and_leaves_sending_ones(store: Store) -> None:
    job_id = scheduled(store, 5)
    store.register_worker("w1", "host-a", 1, NOW)
    sent, retrying, in_flight = store.claim_due("w1", 3, NOW)
    store.record_outcomes([Outcome(sent.message.message_id, "sent", provider_message_id="q1")], NOW)
    store.record_outcomes(
        [Outcome(retrying.message.message_id, "retry", error="421", next_attempt_at=LATER)], NOW
    )

    job = store.cancel_job(job_id, NOW)

    assert job.state == JobState.CANCELLED
    assert job.finished_at == NOW
    assert job.counts == {"sent": 1, "sending": 1, "cancelled": 3}
    assert store.get_job(job_id).counts["cancelled"] == 3
    events = store.list_events(job_id)
    assert sum(event.kind == "cancelled" for event in events) == 3
    assert events[-1].kind == "job_cancelled"
    # The message in flight still gets its outcome.
    store.record_outcomes(
        [Outcome(in_flight.message.message_id, "sent", provider_message_id="q2")], NOW
    )
    assert store.cancel_job(job_id, NOW).counts == {"sent": 2, "cancelled": 3}


def test_cancel_is_refused_for_a_done_job(store: Store) -> None:
    job_id = scheduled(store, 1)
    for message_id in claim_all(store):
        store.record_outcomes([Outcome(message_id, "sent", provider_message_id=None)], NOW)
    store.finish_jobs(NOW)
    with pytest.raises(CapitolmailError, match="done; there is nothing left to cancel"):
        store.cancel_job(job_id, NOW)


def test_retry_of_a_message_in_a_cancelled_job_cancels_it(store: Store) -> None:
    job_id = scheduled(store, 1)
    (message_id,) = claim_all(store)
    store.cancel_job(job_id, NOW)

    (outcome,) = store.record_outcomes(
        [Outcome(message_id, "retry", error="451 try later", next_attempt_at=LATER)], NOW
    )

    assert outcome == MessageState.CANCELLED
    assert store.get_job(job_id).counts == {"cancelled": 1}


def test_requeue_sends_unknown_messages_again_keeping_attempts(store: Store) -> None:
    job_id = scheduled(store, 3)
    first, second, third = claim_all(store, "dead")
    store.record_outcomes([Outcome(first, "sent", provider_message_id=None)], NOW)
    store.record_outcomes([Outcome(second, "failed", error="550 no such user")], NOW)
    store.recover_abandoned(NOW, is_alive=lambda host, pid: False, stale_after=timedelta(1))
    assert store.finish_jobs(NOW) == [job_id]

    assert store.requeue(job_id, ["unknown"], LATER) == 1

    job = store.get_job(job_id)
    assert (job.state, job.finished_at) == (JobState.SENDING, None)
    assert job.counts == {"sent": 1, "failed": 1, "queued": 1}
    info = {m.id: m for m in store.list_messages(job_id)}[third]
    assert (info.state, info.attempts, info.last_error) == ("queued", 1, None)
    event = store.list_events(job_id, message_id=third)[-1]
    assert event.kind == "queued"
    assert event.detail == f"requeued by an operator from unknown; last error: {ABANDONED_ERROR}"
    # Due at once: the job's time has passed.
    store.register_worker("w2", "host-b", 2000, LATER)
    claimed = store.claim_due("w2", 10, LATER)
    assert [(c.message.message_id, c.attempts) for c in claimed] == [(third, 2)]


def test_requeue_accepts_only_unknown_and_failed(store: Store) -> None:
    job_id = scheduled(store, 1)
    with pytest.raises(ValueError, match="only unknown and failed"):
        store.requeue(job_id, ["sent"], NOW)
    with pytest.raises(ValueError):
        store.requeue(job_id, [], NOW)
    assert store.requeue(job_id, ["failed"], NOW) == 0


# -- claiming -------------------------------------------------------------------------------


def test_claim_due_takes_only_due_messages_of_scheduled_jobs(store: Store) -> None:
    queue(store, 2)  # draft: never claimed
    scheduled(store, 2, at=LATER)  # not yet
    due = scheduled(store, 3)
    other = scheduled(store, 2, slug="gitmo")
    store.register_worker("w1", "host-a", 1, NOW)

    claimed = store.claim_due("w1", 4, NOW)

    assert [(c.job_id, c.attempts) for c in claimed] == [(due, 1)] * 3 + [(other, 1)]
    assert [c.message.job_id for c in claimed] == [str(due)] * 3 + [str(other)]
    ordered = [info.id for info in store.list_messages(due)]
    assert [c.message.message_id for c in claimed[:3]] == ordered
    job = store.get_job(due)
    assert (job.state, job.started_at, job.counts) == (JobState.SENDING, NOW, {"sending": 3})
    assert store.get_job(other).counts == {"sending": 1, "queued": 1}
    assert [c.message.message_id for c in store.claim_due("w1", 10, NOW)] == [
        store.list_messages(other)[1].id
    ]
    assert store.claim_due("w1", 10, NOW) == []


def test_retry_wait_messages_are_claimed_again_only_when_due(store: Store) -> None:
    job_id = scheduled(store, 1)
    (message_id,) = claim_all(store)
    store.record_outcomes(
        [Outcome(message_id, "retry", error="429 slow down", next_attempt_at=LATER)], NOW
    )

    assert store.claim_due("w1", 10, LATER - timedelta(seconds=1)) == []
    (again,) = store.claim_due("w1", 10, LATER)

    assert (again.message.message_id, again.attempts) == (message_id, 2)
    info = store.list_messages(job_id)[0]
    assert (info.state, info.last_error, info.next_attempt_at) == ("sending", "429 slow down", None)


def test_a_claim_skips_addresses_suppressed_since_queueing_and_logs_each_row(
    store: Store,
) -> None:
    job_id = queue(store, emails=[f"office{i}@mail.house.gov" for i in range(6)])
    store.schedule_job(job_id, EARLIER, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    for blocked in ("Office1@Mail.House.gov", "office4@mail.house.gov"):
        store.add_suppression(blocked, "bounce", at=NOW)
    store.register_worker("w1", "host-a", 1000, NOW)

    claimed = store.claim_due("w1", 4, NOW)  # four picked, one of them suppressed

    assert [c.message.to_email for c in claimed] == [
        "office0@mail.house.gov",
        "office2@mail.house.gov",
        "office3@mail.house.gov",
    ]
    assert [c.attempts for c in claimed] == [1, 1, 1]
    states = {info.to_email: info.state for info in store.list_messages(job_id)}
    assert states["office1@mail.house.gov"] == "suppressed"
    assert states["office4@mail.house.gov"] == "queued"  # not picked yet: not looked at
    (last,) = store.claim_due("w1", 10, NOW)
    assert last.message.to_email == "office5@mail.house.gov"

    infos = {info.to_email: info for info in store.list_messages(job_id)}
    for address in ("office1@mail.house.gov", "office4@mail.house.gov"):
        assert infos[address].state == "suppressed"
        assert infos[address].attempts == 0
        assert "suppression list" in (infos[address].last_error or "")
    by_message: dict[str | None, list[tuple[str, str | None]]] = {}
    for event in store.list_events(job_id):
        by_message.setdefault(event.message_id, []).append((event.kind, event.detail))
    for one in [*claimed, last]:
        assert by_message[one.message.message_id][-1] == ("sending", "attempt 1 by worker w1")
    for address in ("office1@mail.house.gov", "office4@mail.house.gov"):
        kind, detail = by_message[infos[address].id][-1]
        assert kind == "suppressed" and "suppression list" in (detail or "")
    assert sum(kind == "sending" for kinds in by_message.values() for kind, _ in kinds) == 4


def test_one_claim_takes_from_each_sending_job_in_turn(store: Store) -> None:
    first = scheduled(store, 3, slug="first")
    second = scheduled(store, 3, slug="second")
    store.register_worker("w1", "host-a", 1000, NOW)

    claimed = store.claim_due("w1", 5, NOW)

    assert [(c.job_id, c.message.to_email) for c in claimed] == [
        *[(first, f"Staffer{i}@Mail.House.gov") for i in range(3)],
        *[(second, f"Staffer{i}@Mail.House.gov") for i in range(2)],
    ]
    assert message_states(store, second) == ["sending", "sending", "queued"]


def test_claim_by_an_unregistered_worker_is_refused(store: Store) -> None:
    scheduled(store, 1)
    with pytest.raises(StoreError, match="not registered"):
        store.claim_due("ghost", 10, NOW)


def test_two_workers_claiming_at_once_never_get_the_same_message(database_url: str) -> None:
    with Store.open(database_url) as setup:
        job_id = scheduled(setup, 300)
        expected = {info.id for info in setup.list_messages(job_id)}

    stores = [Store.open(database_url), Store.open(database_url)]
    claims: dict[str, list[str]] = {"w1": [], "w2": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(store: Store, worker: str) -> None:
        try:
            store.register_worker(worker, "host", 1, NOW)
            start.wait()
            while batch := store.claim_due(worker, 7, NOW):
                claims[worker].extend(c.message.message_id for c in batch)
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [
        threading.Thread(target=work, args=(store, worker))
        for store, worker in zip(stores, claims, strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for store in stores:
            store.close()

    assert errors == []
    first, second = set(claims["w1"]), set(claims["w2"])
    assert len(claims["w1"]) + len(claims["w2"]) == len(expected)
    assert first.isdisjoint(second)
    assert first | second == expected


def test_cancelling_while_workers_claim_leaves_each_message_claimed_or_cancelled(
    database_url: str,
) -> None:
    with Store.open(database_url) as setup:
        job_id = scheduled(setup, 400)
    stores = [Store.open(database_url) for _ in range(3)]
    claimed: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def claim(store: Store, worker: str) -> None:
        try:
            store.register_worker(worker, "host", 1, NOW)
            start.wait()
            while batch := store.claim_due(worker, 5, NOW):
                claimed.extend(c.message.message_id for c in batch)
                time.sleep(0.002)  # sending them
        except BaseException as err:
            errors.append(err)

    def cancel(store: Store) -> None:
        try:
            start.wait()
            deadline = time.monotonic() + 30
            while len(claimed) < 20 and time.monotonic() < deadline:
                time.sleep(0.001)
            store.cancel_job(job_id, NOW)
        except BaseException as err:
            errors.append(err)

    threads = [
        threading.Thread(target=claim, args=(stores[0], "w1")),
        threading.Thread(target=claim, args=(stores[1], "w2")),
        threading.Thread(target=cancel, args=(stores[2],)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        job = stores[2].get_job(job_id)
        sending = {info.id for info in stores[2].list_messages(job_id, states=["sending"])}
        cancelled = [e.message_id for e in stores[2].list_events(job_id) if e.kind == "cancelled"]
    finally:
        for store in stores:
            store.close()

    assert errors == []
    assert job.state == JobState.CANCELLED
    assert len(claimed) == len(set(claimed)) >= 20
    assert sending == set(claimed)
    expected = {"sending": len(claimed), "cancelled": 400 - len(claimed)}
    assert job.counts == {state: count for state, count in expected.items() if count}
    assert len(cancelled) == len(set(cancelled)) == 400 - len(claimed)
    assert set(cancelled).isdisjoint(claimed)


# -- outcomes ---------------------------------------------------------------------------------


def test_outcomes_move_a_sending_message_and_write_an_event(store: Store) -> None:
    job_id = scheduled(store, 3)
    sent, retried, failed = claim_all(store)

    store.record_outcomes([Outcome(sent, "sent", provider_message_id="sg-123")], LATER)
    store.record_outcomes(
        [Outcome(retried, "retry", error="451 4.7.1 try later", next_attempt_at=LATER)], NOW
    )
    store.record_outcomes([Outcome(failed, "failed", error="550 5.1.1 no such user")], NOW)

    infos = {info.id: info for info in store.list_messages(job_id)}
    assert (infos[sent].state, infos[sent].provider_message_id, infos[sent].sent_at) == (
        "sent",
        "sg-123",
        LATER,
    )
    assert (infos[retried].state, infos[retried].next_attempt_at) == ("retry_wait", LATER)
    assert (infos[failed].state, infos[failed].last_error) == ("failed", "550 5.1.1 no such user")
    kinds = [(e.kind, e.detail) for e in store.list_events(job_id, message_id=failed)]
    assert kinds == [("sending", "attempt 1 by worker w1"), ("failed", "550 5.1.1 no such user")]


def test_an_outcome_is_refused_unless_the_message_is_sending(store: Store) -> None:
    job_id = scheduled(store, 2)
    store.register_worker("w1", "host-a", 1, NOW)
    (claimed,) = store.claim_due("w1", 1, NOW)
    message_id = claimed.message.message_id
    queued_id = store.list_messages(job_id, states=["queued"])[0].id
    store.record_outcomes([Outcome(message_id, "sent", provider_message_id="a")], NOW)

    with pytest.raises(StoreError, match=f"message {message_id} is sent, not sending"):
        store.record_outcomes([Outcome(message_id, "sent", provider_message_id="b")], NOW)
    with pytest.raises(StoreError, match="is queued, not sending; refusing to mark it failed"):
        store.record_outcomes([Outcome(queued_id, "failed", error="x")], NOW)
    with pytest.raises(StoreError, match="not sending"):
        store.record_outcomes([Outcome(message_id, "retry", error="x", next_attempt_at=LATER)], NOW)
    with pytest.raises(MessageNotFound):
        store.record_outcomes([Outcome(str(uuid.uuid4()), "sent", provider_message_id=None)], NOW)
    info = {m.id: m for m in store.list_messages(job_id)}[message_id]
    assert (info.state, info.provider_message_id) == ("sent", "a")


def test_a_batch_of_outcomes_records_each_state_and_event_in_order(store: Store) -> None:
    job_id = scheduled(store, 5)
    sent, retried, rate_limited, failed, bare = claim_all(store)

    states = store.record_outcomes(
        [
            Outcome(failed, "failed", error="550 5.1.1 no such user"),
            Outcome(sent, "sent", provider_message_id="sg-1"),
            Outcome(retried, "retry", error="451 try later", next_attempt_at=LATER),
            Outcome(
                rate_limited,
                "retry",
                error="429 too many requests",
                next_attempt_at=LATER,
                count_attempt=False,
            ),
            Outcome(bare, "sent"),
        ],
        LATER,
    )

    assert states == ["failed", "sent", "retry_wait", "retry_wait", "sent"]
    infos = {info.id: info for info in store.list_messages(job_id)}
    assert [
        (infos[i].state, infos[i].attempts, infos[i].last_error, infos[i].next_attempt_at)
        for i in (sent, retried, rate_limited, failed, bare)
    ] == [
        ("sent", 1, None, None),
        ("retry_wait", 1, "451 try later", LATER),
        ("retry_wait", 0, "429 too many requests", LATER),
        ("failed", 1, "550 5.1.1 no such user", None),
        ("sent", 1, None, None),
    ]
    assert (infos[sent].provider_message_id, infos[sent].sent_at) == ("sg-1", LATER)
    recorded = [(e.message_id, e.kind, e.detail) for e in store.list_events(job_id)][-5:]
    assert recorded == [
        (failed, "failed", "550 5.1.1 no such user"),
        (sent, "sent", "provider id sg-1"),
        (retried, "retry_wait", "451 try later"),
        (rate_limited, "retry_wait", "429 too many requests (attempt not counted)"),
        (bare, "sent", None),
    ]
    assert all(e.at == LATER for e in store.list_events(job_id)[-5:])
    assert store.record_outcomes([], LATER) == []


def test_a_batch_with_one_message_not_sending_changes_nothing(store: Store) -> None:
    job_id = scheduled(store, 4)
    store.register_worker("w1", "host-a", 1, NOW)
    first, second, third = (c.message.message_id for c in store.claim_due("w1", 3, NOW))
    store.record_outcomes([Outcome(second, "sent", provider_message_id="a")], NOW)
    before = (store.list_messages(job_id), store.list_events(job_id))

    with pytest.raises(StoreError, match=f"message {second} is sent, not sending") as caught:
        store.record_outcomes(
            [
                Outcome(first, "sent", provider_message_id="b"),
                Outcome(second, "failed", error="550"),
                Outcome(third, "retry", error="451", next_attempt_at=LATER),
            ],
            NOW,
        )

    assert "refusing to mark it failed" in str(caught.value)
    assert (store.list_messages(job_id), store.list_events(job_id)) == before
    queued = store.list_messages(job_id, states=["queued"])[0].id
    with pytest.raises(StoreError, match=f"message {queued} is queued, not sending"):
        store.record_outcomes([Outcome(first, "sent"), Outcome(queued, "sent")], NOW)
    with pytest.raises(MessageNotFound):
        store.record_outcomes([Outcome(first, "sent"), Outcome(str(uuid.uuid4()), "sent")], NOW)
    with pytest.raises(StoreError, match=f"message {first} has two outcomes in one batch"):
        store.record_outcomes([Outcome(first, "sent"), Outcome(first, "sent")], NOW)
    assert (store.list_messages(job_id), store.list_events(job_id)) == before


def test_an_uncounted_retry_leaves_attempts_as_they_were_before_the_claim(store: Store) -> None:
    job_id = scheduled(store, 1)
    (message_id,) = claim_all(store)
    store.record_outcomes([Outcome(message_id, "retry", error="451", next_attempt_at=NOW)], NOW)
    (again,) = store.claim_due("w1", 1, NOW)
    assert again.attempts == 2

    outcome = Outcome(message_id, "retry", error="429", next_attempt_at=LATER, count_attempt=False)
    assert store.record_outcomes([outcome], NOW) == ["retry_wait"]

    assert store.list_messages(job_id)[0].attempts == 1
    (third,) = store.claim_due("w1", 1, LATER)
    assert third.attempts == 2


def test_a_retry_in_a_job_cancelled_meanwhile_becomes_cancelled(store: Store) -> None:
    job_id = scheduled(store, 3)
    retried, rate_limited, sent = claim_all(store)
    store.cancel_job(job_id, NOW)

    states = store.record_outcomes(
        [
            Outcome(retried, "retry", error="451 try later", next_attempt_at=LATER),
            Outcome(rate_limited, "retry", error="429", next_attempt_at=LATER, count_attempt=False),
            Outcome(sent, "sent"),
        ],
        NOW,
    )

    assert states == ["cancelled", "cancelled", "sent"]
    infos = {info.id: info for info in store.list_messages(job_id)}
    assert (infos[retried].state, infos[retried].next_attempt_at) == ("cancelled", None)
    assert (infos[retried].attempts, infos[rate_limited].attempts) == (1, 0)
    assert store.list_events(job_id, message_id=retried)[-1].detail == (
        "job cancelled; last error: 451 try later"
    )
    assert store.get_job(job_id).counts == {"cancelled": 2, "sent": 1}


def test_a_retry_waits_for_a_cancel_in_progress_and_then_is_cancelled(store: Store) -> None:
    """The job is read under a lock: a cancel committing meanwhile cannot strand a retry."""
    job_id = scheduled(store, 1)
    (message_id,) = claim_all(store)
    results: list[object] = []

    def record() -> None:
        outcome = Outcome(message_id, "retry", error="451", next_attempt_at=LATER)
        try:
            results.extend(store.record_outcomes([outcome], NOW))
        except BaseException as err:  # reported below, in the test's thread
            results.append(err)

    recorder = threading.Thread(target=record)
    with store._engine.connect() as conn, conn.begin():  # a cancel_job, caught half-way
        conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update()).all()
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(state="cancelled"))
        recorder.start()
        time.sleep(0.3)
        assert recorder.is_alive()
    recorder.join(timeout=30)

    assert results == ["cancelled"]
    assert message_states(store, job_id) == ["cancelled"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kind": "sent", "error": "x"}, "a sent message has no error"),
        ({"kind": "failed"}, "a failed outcome needs the error"),
        ({"kind": "retry", "error": "x"}, "next_attempt_at is required"),
        ({"kind": "failed", "error": "x", "next_attempt_at": LATER}, "only for a retry"),
        ({"kind": "sent", "count_attempt": False}, "only a retry can give its attempt back"),
        ({"kind": "failed", "error": "x", "provider_message_id": "p"}, "provider message id"),
        (
            {"kind": "retry", "error": "x", "next_attempt_at": datetime(2025, 3, 1)},
            "aware",
        ),
        ({"kind": "bounced"}, "sent, retry, failed or unknown"),
    ],
)
def test_a_malformed_outcome_is_refused_when_built(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=f"outcome for message m-1: .*{words}"):
        Outcome("m-1", **changes)  # type: ignore[arg-type]


# -- job options and failure summaries --------------------------------------------------------


def test_job_options_merge_round_trip_and_reach_the_claim(store: Store) -> None:
    job_id = scheduled(store, 2)
    other = scheduled(store, 1, slug="gitmo")
    assert store.get_job(job_id).options == {}

    assert store.set_job_options(job_id, rate="120/min").options == {"rate": "120/min"}
    store.set_job_options(job_id, window={"start": "09:00", "end": "17:00"})
    assert store.get_job(job_id).options == {
        "rate": "120/min",
        "window": {"start": "09:00", "end": "17:00"},
    }
    store.set_job_options(job_id, rate="5/s")
    assert [job.options.get("rate") for job in store.list_jobs()] == [None, "5/s"]

    store.register_worker("w1", "host-a", 1, NOW)
    assert [(c.job_id, c.job_rate) for c in store.claim_due("w1", 10, NOW)] == [
        (job_id, "5/s"),
        (job_id, "5/s"),
        (other, None),
    ]
    assert store.set_job_options(job_id, rate=None).options == {
        "window": {"start": "09:00", "end": "17:00"}
    }


def test_job_options_refuse_what_cannot_be_stored(store: Store) -> None:
    job_id = queue(store)
    with pytest.raises(ValueError, match='"rate" must be text'):
        store.set_job_options(job_id, rate=120)
    with pytest.raises(ValueError, match='"window" cannot be stored as JSON'):
        store.set_job_options(job_id, window=object())
    with pytest.raises(JobNotFound):
        store.set_job_options(job_id + 100, rate="1/s")
    assert store.get_job(job_id).options == {}


def test_failure_summary_counts_problems_by_error_most_frequent_first(store: Store) -> None:
    job_id = scheduled(store, 8)
    m = claim_all(store)
    with store._engine.begin() as conn:  # a problem whose error was never recorded
        conn.execute(update(messages).where(messages.c.id == m[7]).values(state="unknown"))
    store.record_outcomes(
        [
            Outcome(m[0], "sent"),
            Outcome(m[1], "failed", error="550 no such user"),
            Outcome(m[2], "failed", error="550 no such user"),
            Outcome(m[3], "retry", error="451 try later", next_attempt_at=LATER),
            Outcome(m[4], "retry", error="550 no such user", next_attempt_at=LATER),
            Outcome(m[5], "failed", error="451 try later"),
        ],
        NOW,
    )
    store.recover_abandoned(NOW, is_alive=lambda host, pid: False, stale_after=timedelta(1))

    assert store.failure_summary(job_id) == [
        ("550 no such user", 3),
        ("451 try later", 2),
        ("(no error recorded)", 1),  # ties in the reason's order
        (ABANDONED_ERROR, 1),
    ]
    assert store.failure_summary(queue(store)) == []
    with pytest.raises(JobNotFound):
        store.failure_summary(job_id + 100)


# -- workers and recovery ---------------------------------------------------------------------


def test_recover_abandoned_marks_dead_workers_messages_unknown_and_spares_live_ones(
    store: Store,
) -> None:
    job_id = scheduled(store, 8)
    for worker, pid in (("live", 1), ("dead", 2), ("stale", 3), ("gone", 4)):
        store.register_worker(worker, "host-a", pid, EARLIER)
        store.claim_due(worker, 2, NOW)
    store.heartbeat("live", NOW)
    store.heartbeat("dead", NOW)
    store.remove_worker("gone")  # exited without recording its two messages

    recovered = store.recover_abandoned(
        NOW + timedelta(seconds=30),
        is_alive=lambda host, pid: pid != 2,
        stale_after=timedelta(minutes=5),
    )

    # dead, stale (heartbeat an hour old) and gone: two each, handed over at the claim
    assert recovered == Recovered(unknown=6, requeued=0)
    by_state: dict[str, list[str]] = {}
    for info in store.list_messages(job_id):
        by_state.setdefault(info.state, []).append(info.last_error or "")
    assert by_state == {"sending": ["", ""], "unknown": [ABANDONED_ERROR] * 6}
    assert store.heartbeat("live", NOW) is True
    assert store.heartbeat("dead", NOW) is False
    assert store.heartbeat("stale", NOW) is False
    assert sum(e.kind == "unknown" for e in store.list_events(job_id)) == 6
    # Nothing left to recover, and a second pass does not touch the live worker.
    assert not store.recover_abandoned(NOW, is_alive=lambda h, p: True, stale_after=timedelta(1))
    assert store.get_job(job_id).counts == {"sending": 2, "unknown": 6}


def test_recovery_queues_again_what_a_dead_worker_never_handed_over(store: Store) -> None:
    job_id = scheduled(store, 4)
    store.register_worker("dead", "host-a", 2, NOW)
    claimed = store.claim_due("dead", 4, NOW, handed_over=False)
    first, second = (c.message.message_id for c in claimed[:2])
    assert store.mark_handed_over("dead", [first, second], NOW) == {first, second}

    recovered = store.recover_abandoned(
        LATER, is_alive=lambda host, pid: False, stale_after=timedelta(minutes=5)
    )

    assert recovered == Recovered(unknown=2, requeued=2)
    infos = {info.id: info for info in store.list_messages(job_id)}
    assert {i.state for k, i in infos.items() if k in (first, second)} == {"unknown"}
    rest = [i for k, i in infos.items() if k not in (first, second)]
    assert [(i.state, i.attempts) for i in rest] == [("queued", 0), ("queued", 0)]
    # The queued ones go out again through the next worker; the unknown ones do not.
    store.register_worker("next", "host-a", 3, LATER)
    again = store.claim_due("next", 10, LATER, handed_over=False)
    assert sorted(c.message.message_id for c in again) == sorted(i.id for i in rest)
    assert all(c.attempts == 1 for c in again)


def test_a_row_taken_back_by_another_worker_is_not_marked_handed_over(store: Store) -> None:
    scheduled(store, 2)
    store.register_worker("slow", "host-a", 2, EARLIER)
    claimed = store.claim_due("slow", 2, NOW, handed_over=False)
    ids = [c.message.message_id for c in claimed]
    store.register_worker("other", "host-a", 3, NOW)
    # The slow worker's heartbeat is an hour old: the other takes its rows back.
    assert store.recover_abandoned(
        NOW, is_alive=lambda host, pid: True, stale_after=timedelta(minutes=5)
    ) == Recovered(requeued=2)
    assert store.mark_handed_over("slow", ids, NOW) == set()


def test_unknown_messages_are_never_claimed_again(store: Store) -> None:
    job_id = scheduled(store, 1)
    claim_all(store, "dead")
    store.recover_abandoned(NOW, is_alive=lambda host, pid: False, stale_after=timedelta(1))
    assert claim_all(store, "next", now=LATER) == []
    assert message_states(store, job_id) == ["unknown"]


def test_finish_jobs_marks_done_only_jobs_with_nothing_left_to_send(store: Store) -> None:
    finished = scheduled(store, 2)
    waiting = scheduled(store, 2)
    store.register_worker("w1", "host-a", 1, NOW)
    for claimed in store.claim_due("w1", 3, NOW):
        if claimed.job_id == finished:
            store.record_outcomes(
                [Outcome(claimed.message.message_id, "sent", provider_message_id=None)], NOW
            )
        else:
            store.record_outcomes(
                [Outcome(claimed.message.message_id, "retry", error="429", next_attempt_at=LATER)],
                NOW,
            )

    assert store.finish_jobs(LATER) == [finished]

    job = store.get_job(finished)
    assert (job.state, job.finished_at) == (JobState.DONE, LATER)
    assert store.get_job(waiting).state == JobState.SENDING
    assert store.finish_jobs(LATER) == []


# -- refusing a resend ------------------------------------------------------------------------


def test_reached_recipients_finds_any_job_of_the_letter_ignoring_case(store: Store) -> None:
    first = queue(store, emails=["Ann@House.gov", "bob@house.gov", "cy@house.gov"])
    queue(store, emails=["dee@house.gov"])
    queue(store, emails=["eve@house.gov"], slug="another-letter")
    store.schedule_job(first, EARLIER, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    store.register_worker("w1", "host-a", 1, NOW)
    ann, bob, _cy = store.claim_due("w1", 3, NOW)
    store.record_outcomes([Outcome(ann.message.message_id, "sent", provider_message_id=None)], NOW)
    store.record_outcomes([Outcome(bob.message.message_id, "failed", error="550")], NOW)

    found = store.reached_recipients(
        "arms-sale",
        [
            "ANN@house.gov",
            "Bob@House.gov",
            "cy@house.gov",
            "dee@house.gov",
            "eve@house.gov",
            "new@x.org",
        ],
    )

    assert found == {"ann@house.gov", "cy@house.gov", "dee@house.gov"}
    assert store.reached_recipients("arms-sale", []) == set()


def test_reached_recipients_handles_many_addresses(store: Store) -> None:
    queue(store, emails=[f"Person{i}@Example.org" for i in range(0, 12000, 1000)])
    asked = [f"person{i}@example.org" for i in range(12000)]
    expected = {f"person{i}@example.org" for i in range(0, 12000, 1000)}
    assert store.reached_recipients("arms-sale", asked) == expected
    assert store.reached_recipients("arms-sale", asked[:3000]) == {
        "person0@example.org",
        "person1000@example.org",
        "person2000@example.org",
    }


def test_reached_states_are_those_where_the_recipient_may_have_the_message() -> None:
    assert {str(state) for state in REACHED_STATES} == {
        "queued",
        "sending",
        "sent",
        "retry_wait",
        "unknown",
        "delivered",
        "spam_report",
    }


def test_message_rows_keep_the_lower_cased_key_for_lookups(store: Store) -> None:
    queue(store, emails=[" Mixed.Case@House.GOV"])
    with store._engine.connect() as conn:
        keys = conn.execute(select(messages.c.to_email, messages.c.to_email_key)).all()
    assert [tuple(row) for row in keys] == [(" Mixed.Case@House.GOV", "mixed.case@house.gov")]


def test_the_claim_lock_on_sqlite_is_taken_when_the_transaction_begins(tmp_path: Path) -> None:
    """Without BEGIN IMMEDIATE, two claimers could both read the same queued rows.

    Read off SQLite's own trace of what it ran: the BEGIN bypasses SQLAlchemy's
    statement events (database.py).
    """
    with Store.open(sqlite_url(tmp_path)) as store:
        statements: list[str] = []
        engine = store._engine
        from sqlalchemy import event

        def trace(dbapi_connection: sqlite3.Connection, record: object) -> None:
            dbapi_connection.set_trace_callback(statements.append)

        engine.dispose()  # every connection from here on is a traced one
        event.listen(engine, "connect", trace)
        scheduled(store, 1)
        statements.clear()
        store.list_jobs()
        reads = statements[:]
        statements.clear()
        claim_all(store)
    assert statements.count("BEGIN IMMEDIATE") == 2  # register_worker, claim_due
    assert statements[0] == "BEGIN IMMEDIATE"
    # Reads take no write lock, so `status` never waits for the sender.
    assert reads[0] == "BEGIN"


def test_a_second_engine_on_the_same_file_sees_committed_claims(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with Store.open(url) as store:
        job_id = scheduled(store, 2)
        claim_all(store)
        other = create_engine(url)
        try:
            with other.connect() as conn:
                states = conn.execute(
                    select(messages.c.state).where(messages.c.job_id == job_id)
                ).scalars()
                assert sorted(states) == ["sending", "sending"]
        finally:
            other.dispose()


def test_claims_whose_answer_was_lost_go_back_to_the_queue_and_nothing_else_does(
    store: Store,
) -> None:
    """A claim committed as the connection broke: the worker never learnt of its rows."""
    job_id = scheduled(store, 6)
    store.register_worker("w1", "host-a", 1000, NOW)
    store.register_worker("w2", "host-a", 1001, NOW)
    mine = [c.message.message_id for c in store.claim_due("w1", 4, NOW, handed_over=False)]
    theirs = [c.message.message_id for c in store.claim_due("w2", 1, NOW, handed_over=False)]
    in_flight, waiting, handed, lost = mine
    assert store.mark_handed_over("w1", [handed], NOW) == {handed}

    released = store.release_lost_claims("w1", {in_flight, waiting}, NOW)

    assert released == 1  # only `lost`: held rows, handed-over rows and w2's stay
    states = {info.id: info for info in store.list_messages(job_id)}
    assert states[lost].state == "queued" and states[lost].attempts == 0
    for kept in (in_flight, waiting, handed, *theirs):
        assert states[kept].state == "sending"
    assert any(e.kind == "queued" and e.message_id == lost for e in store.list_events(job_id))
    assert store.release_lost_claims("w1", {in_flight, waiting}, NOW) == 0
    assert lost in {c.message.message_id for c in store.claim_due("w2", 5, NOW)}


def test_a_workers_outcome_recorded_twice_is_a_no_op_and_one_for_anothers_claim_is_refused(
    store: Store,
) -> None:
    """The batch a worker tries again after its COMMIT went through unanswered."""
    job_id = scheduled(store, 3)
    store.register_worker("w1", "host-a", 1000, NOW)
    store.register_worker("w2", "host-a", 1001, NOW)
    first, second = (c.message.message_id for c in store.claim_due("w1", 2, NOW))
    batch = [
        Outcome(first, "sent", provider_message_id="q1"),
        Outcome(second, "failed", error="550"),
    ]
    assert store.record_outcomes(batch, NOW, worker_id="w1") == ["sent", "failed"]
    events_before = len(store.list_events(job_id))

    assert store.record_outcomes(batch, NOW, worker_id="w1") == ["sent", "failed"]
    assert len(store.list_events(job_id)) == events_before  # nothing written twice
    with pytest.raises(StoreError, match="not sending"):
        store.record_outcomes(batch, NOW)  # without the worker's name: refused as before

    (third,) = (c.message.message_id for c in store.claim_due("w2", 1, NOW))
    with pytest.raises(StoreError, match="being sent by another worker"):
        store.record_outcomes([Outcome(third, "failed", error="550")], NOW, worker_id="w1")
    assert store.record_outcomes([Outcome(third, "sent")], NOW, worker_id="w2") == ["sent"]
    assert store.get_job(job_id).counts == {"sent": 2, "failed": 1}
