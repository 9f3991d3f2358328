"""The report's grouped queries on SQLite and PostgreSQL: the same figures from both."""

from __future__ import annotations

from datetime import timedelta

from capitolmail.outbox import Store
from capitolmail.recipients.suppression import suppression
from capitolmail.tracking.apply import apply_events
from capitolmail.tracking.events import EventType, TrackingEvent
from tests.web.conftest import NOW, sent_job

EMAILS = ["jane@example.org", "omar@example.org", "li@example.org"]
_ids = iter(range(1, 10_000))


def _event(kind: EventType, message_id: str, email: str, **fields: object) -> TrackingEvent:
    return TrackingEvent(
        event_type=kind,
        event_name=str(kind),
        timestamp=NOW + timedelta(minutes=next(_ids)),
        message_id=message_id,
        recipient=email,
        event_id=f"e-{next(_ids)}",
        **fields,  # type: ignore[arg-type]
    )


def test_figures_and_milestones_count_each_recipient_once(store: Store) -> None:
    job_id, (jane, omar, li) = sent_job(store, EMAILS, unsent=1)
    events = [
        _event(EventType.DELIVERED, jane, EMAILS[0]),
        _event(EventType.DELIVERED, omar, EMAILS[1]),
        _event(EventType.OPENED, jane, EMAILS[0]),
        _event(EventType.OPENED, jane, EMAILS[0]),
        _event(EventType.CLICKED, jane, EMAILS[0], url="https://a.example/act?x=1"),
        _event(EventType.CLICKED, omar, EMAILS[1], url="https://a.example/act"),
        _event(EventType.REPLIED, omar, EMAILS[1]),
        _event(EventType.AUTO_REPLIED, jane, EMAILS[0]),
        _event(EventType.BLOCKED, li, EMAILS[2], description="421 try later"),
        _event(EventType.BOUNCED, li, EMAILS[2], description="550 5.1.1 unknown user"),
    ]
    report = apply_events(store, events, NOW + timedelta(hours=1))
    assert report.applied == len(events)
    store.add_suppressions([suppression(EMAILS[1], "unsubscribe", NOW + timedelta(hours=2))])

    figures = store.job_figures(job_id)
    assert figures.counts == {"delivered": 2, "bounced": 1, "queued": 1}
    assert figures.recipients == 4
    assert figures.bounces == [("bounced: 550 5.1.1 unknown user", 1)]
    assert figures.soft_bounces == 1
    assert (figures.replies, figures.auto_replies) == (1, 1)
    assert (figures.opens_total, figures.opens_unique) == (2, 1)
    assert (figures.clicks_total, figures.clicks_unique) == (2, 2)
    assert [(link.url, link.total, link.unique) for link in figures.links] == [
        ("https://a.example/act", 2, 2)
    ]
    assert figures.unsubscribes == 1
    assert (figures.offices_targeted, figures.offices_reached) == (0, 0)  # an alert

    rows = {row.to_email: row for row in store.job_milestones(job_id)}
    assert rows[EMAILS[0]].opens == 2 and rows[EMAILS[0]].clicks == 1
    assert rows[EMAILS[0]].opened_at == events[2].timestamp  # the first of two opens
    assert rows[EMAILS[1]].replied_at is not None and rows[EMAILS[1]].auto_replied_at is None
    assert rows[EMAILS[2]].ending == "bounced: 550 5.1.1 unknown user"
    assert rows[EMAILS[2]].ended_at is not None
    assert rows["later0@example.org"].sent_at is None


def test_milestones_stream_every_message_in_order_across_batches(store: Store) -> None:
    """More messages than one batch of the cursor: each once, in `seq` order, with its
    own events, and the outline counted in the database agrees with them."""
    emails = [f"s{i:04d}@example.org" for i in range(2_600)]
    job_id, ids = sent_job(store, emails[:2_500], unsent=100)
    bounced, dropped = ids[7], ids[2_301]
    events = [
        _event(EventType.DELIVERED, ids[0], emails[0]),
        _event(EventType.DELIVERED, ids[2_499], emails[2_499]),
        _event(EventType.BOUNCED, bounced, emails[7], description="550 5.1.1 unknown user"),
        _event(EventType.BOUNCED, bounced, emails[7], description="a later word on it"),
        _event(EventType.DROPPED, dropped, emails[2_301], description="Bounced Address"),
    ]
    apply_events(store, events, NOW + timedelta(hours=1))

    rows = list(store.job_milestones(job_id))
    assert [row.seq for row in rows] == list(range(2_600))
    assert len({row.id for row in rows}) == 2_600
    by_id = {row.id: row for row in rows}
    assert by_id[ids[2_499]].delivered_at == events[1].timestamp
    assert by_id[bounced].ending == "bounced: 550 5.1.1 unknown user"  # the first word
    assert by_id[bounced].ended_at == events[2].timestamp
    assert by_id[ids[8]].ending is None and by_id[ids[8]].opens == 0

    outline = store.job_outline(job_id)
    assert (outline.queued, outline.sent, outline.delivered) == (2_600, 2_500, 2)
    assert outline.subject == rows[0].subject
    assert store.job_figures(job_id).endings == [
        ("bounced", "bounced: 550 5.1.1 unknown user", 1),
        ("dropped", "dropped: Bounced Address", 1),
    ]
    sent_times = list(store.job_times(job_id, "sent"))
    assert len(sent_times) == 2_500 and sent_times == sorted(sent_times)
    assert list(store.job_times(job_id, "delivered")) == [events[0].timestamp, events[1].timestamp]
    assert outline.span == (min(sent_times[0], events[0].timestamp), events[1].timestamp)


def test_a_milestone_stream_closed_early_frees_its_connection(store: Store) -> None:
    """A writer that stops part-way (a full disk) closes the stream: the store goes on."""
    job_id, _ = sent_job(store, EMAILS)
    stream = store.job_milestones(job_id)
    assert next(stream).seq == 0
    stream.close()
    assert store.job_figures(job_id).recipients == 3
    assert [row.seq for row in store.job_milestones(job_id)] == [0, 1, 2]
