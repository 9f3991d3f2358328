"""tracking.apply on a real store, fed events no webhook made: the rules know no provider.

The inbound mailbox (bounces over SMTP) will hand the same TrackingEvent to the
same function; these tests stand in for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from capitolmail.outbox import Store, SuppressionReason
from capitolmail.outbox.schema import webhook_events
from capitolmail.tracking.apply import apply_events
from capitolmail.tracking.events import EventType, TrackingEvent
from tests.web.conftest import NOW, sent_job

LATER = NOW + timedelta(minutes=5)


def bounce(message_id: str, recipient: str, **fields: object) -> TrackingEvent:
    return TrackingEvent(
        EventType.BOUNCED,
        "5.1.1",
        timestamp=LATER,
        message_id=message_id,
        recipient=recipient,
        mta_response="550 5.1.1 no such user here",
        **fields,  # type: ignore[arg-type]
    )


def test_a_bounce_from_any_source_moves_the_message_and_suppresses_its_recipient(
    store: Store,
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])

    report = apply_events(store, [bounce(jane, "JANE@example.org")], LATER)

    assert (report.applied, report.moved, report.suppressed) == (1, 1, 1)
    assert [m.state for m in store.list_messages(job_id)] == ["bounced"]
    ((email, reason, at, detail),) = [
        (s.email, s.reason, s.at, s.detail) for s in store.list_suppressions()
    ]
    assert (email, reason, at) == ("jane@example.org", SuppressionReason.BOUNCE, LATER)
    assert detail == "5.1.1: 550 5.1.1 no such user here"
    last = store.list_events(job_id, message_id=jane)[-1]
    assert (last.kind, last.detail) == ("bounced", "5.1.1: 550 5.1.1 no such user here")


def test_an_event_naming_our_message_for_another_address_changes_nothing(store: Store) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])

    report = apply_events(store, [bounce(jane, "omar@example.org")], LATER)

    assert (report.applied, report.mismatched, report.suppressed) == (0, 1, 0)
    assert [m.state for m in store.list_messages(job_id)] == ["sent"]
    assert store.list_suppressions() == []


def test_a_stored_recipient_that_is_not_an_address_is_never_suppressed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Suppressions are all made one way, which validates; a row queued before that
    # rule (or written by hand) still gets its event, and nothing invalid is listed.
    job_id, (odd,) = sent_job(store, ["not-an-address"])
    caplog.set_level(logging.WARNING, logger="capitolmail")

    report = apply_events(store, [bounce(odd, "not-an-address")], LATER)

    assert (report.applied, report.moved, report.suppressed) == (1, 1, 0)
    assert [m.state for m in store.list_messages(job_id)] == ["bounced"]
    assert store.list_suppressions() == []
    assert f"message {odd}: its recipient is not a valid address; not suppressed" in caplog.text
    assert "not-an-address" not in caplog.text


def test_unknown_events_are_counted_by_the_providers_word(store: Store) -> None:
    events = [TrackingEvent(EventType.UNKNOWN, name) for name in ("teleported", "x", "x")]

    report = apply_events(store, events, LATER)

    assert (report.events, report.unknown, report.applied) == (3, 3, 0)
    assert report.unknown_names == {"teleported": 1, "x": 2}
    assert report.summary().startswith("3 events, 0 applied, 0 moved a message")


def test_event_ids_are_remembered_for_a_week_then_forgotten(store: Store) -> None:
    def opened(event_id: str) -> TrackingEvent:
        return TrackingEvent(
            EventType.OPENED, "open", recipient="jane@example.org", event_id=event_id
        )

    start = datetime(2026, 11, 1, tzinfo=UTC)
    apply_events(store, [opened("old")], start)
    apply_events(store, [opened("recent")], start + timedelta(days=6))
    assert apply_events(store, [opened("old")], start + timedelta(days=6)).duplicates == 1

    apply_events(store, [opened("new")], start + timedelta(days=8))

    with store.engine.connect() as conn:
        kept = set(conn.execute(select(webhook_events.c.sg_event_id)).scalars())
    assert kept == {"recent", "new"}
