"""Earlier messages with the same content, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store, email_key

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _message(to: str, text: str = "Dear Senator,\n\nPlease act.\n") -> OutgoingMessage:
    return OutgoingMessage(
        message_id=str(uuid.uuid4()),
        job_id="",
        from_email="policy@peace-action.test",
        from_name="Peace Action",
        to_email=to,
        to_name="Staffer",
        subject="Block the arms sale",
        text=text,
    )


def _queue(store: Store, slug: str, *messages: OutgoingMessage, now: datetime = NOW) -> int:
    return store.create_job(
        letter_slug=slug,
        kind="joint",
        messages=[QueuedMessage(message=m) for m in messages],
        now=now,
    )


def test_the_same_words_to_the_same_person_are_found_in_any_job(store: Store) -> None:
    ann, bob = _message("Ann@Senate.test"), _message("bob@senate.test", "Dear Bob")
    first = _queue(store, "arms-sale", ann, bob)
    second = _queue(store, "arms-sale-v2", _message("ann@senate.test"))

    found = store.earlier_messages(
        [
            (email_key("ANN@senate.test"), ann.content_hash()),
            (email_key("bob@senate.test"), ann.content_hash()),  # bob had other words
            (email_key("cy@senate.test"), bob.content_hash()),  # cy had nothing
        ],
        since=NOW - timedelta(days=30),
    )

    assert [(m.job_id, m.letter_slug, m.email_key) for m in found] == [
        (second, "arms-sale-v2", "ann@senate.test"),
        (first, "arms-sale", "ann@senate.test"),
    ]
    assert found[0].queued_at == NOW


def test_older_and_cancelled_messages_do_not_count(store: Store) -> None:
    ann = _message("ann@senate.test")
    _queue(store, "old", ann, now=NOW - timedelta(days=40))
    cancelled = _queue(store, "cancelled", _message("ann@senate.test"))
    store.cancel_job(cancelled, NOW)

    wanted = [(email_key(ann.to_email), ann.content_hash())]
    assert store.earlier_messages(wanted, since=NOW - timedelta(days=30)) == []
    assert store.earlier_messages([], since=NOW) == []


def test_the_lookup_reads_the_digest_index_not_every_reached_message(store: Store) -> None:
    """With `state IN (...)` in its WHERE, SQLite read every message in a reached state
    for each chunk of digests (120 ms a thousand digests at 204,000 rows, 13 ms by the
    digest's index): queueing an alert read the whole outbox once per thousand rows.
    The plan is SQLite's choice, so the test asks for it, on the statement the lookup
    sends; PostgreSQL plans from its statistics."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from its statistics")
    ann = _message("ann@senate.test")
    _queue(store, "arms-sale", ann, *(_message(f"s{i}@senate.test") for i in range(50)))
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "content_hash IN" in statement:
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        found = store.earlier_messages(
            [(email_key(ann.to_email), ann.content_hash())], since=NOW - timedelta(days=30)
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
    assert [m.letter_slug for m in found] == ["arms-sale"]
    (statement,) = statements
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement,
            (NOW.isoformat(" "), NOW.isoformat(" "), ann.content_hash()),
        )
        plan = " | ".join(str(row[-1]) for row in rows)
    assert "ix_messages_content_hash" in plan, plan
    assert "ix_messages_state" not in plan, plan
