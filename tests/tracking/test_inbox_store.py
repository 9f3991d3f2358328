"""inbox sync on a real store, SQLite and PostgreSQL: each message read once, even by two
syncs at once, and what it said applied once, in the transaction that remembers it."""

from __future__ import annotations

import mailbox
import threading
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from capitolmail.outbox import Outcome, QueuedMessage, Store
from capitolmail.tracking.inbox.sources import FileMailbox
from capitolmail.tracking.inbox.sync import InboxReport, sync_inbox
from tests.web.conftest import NOW, outgoing, sent_job

LATER = NOW + timedelta(hours=1)


def answer(message_id: str, sender: str, subject: str = "Re: Close Guantanamo") -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "action@peace-action.example"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    mail["In-Reply-To"] = f"<{message_id}@peace-action.example>"
    mail.set_content("Thanks.")
    return bytes(mail)


def sync(store: Store, path: Path) -> InboxReport:
    return sync_inbox(
        store,
        FileMailbox("maildir", path, 1_000_000),
        unsubscribe_address="action@peace-action.example",
        delete_processed=False,
        clock=lambda: LATER,
    )


def test_two_syncs_at_once_read_each_message_once(store: Store, tmp_path: Path) -> None:
    emails = [f"person{i}@example.org" for i in range(30)]
    job_id, ids = sent_job(store, emails)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for message_id, email in zip(ids, emails, strict=True):
        box.add(answer(message_id, email))
    reports: list[InboxReport] = []
    threads = [
        threading.Thread(target=lambda: reports.append(sync(store, tmp_path / "Maildir")))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2
    assert sum(report.read for report in reports) == 30
    assert sum(report.replies for report in reports) == 30
    for message_id in ids:
        kinds = [event.kind for event in store.list_events(job_id, message_id=message_id)]
        assert kinds.count("event_replied") == 1
    assert store.replies_by_job([job_id]) == {job_id: {"replied": 30, "auto_replied": 0}}
    assert store.inbox_outcomes() == {"reply": 30}


def test_a_reply_proves_a_message_whose_outcome_never_came_was_sent(
    store: Store, tmp_path: Path
) -> None:
    """A reply is evidence, as a provider's event is: a queued row the office answered
    moves to sent (tracking/apply.py), and is never sent again."""
    job_id, (first,) = sent_job(store, ["first@example.org"], unsent=1)
    queued = next(m for m in store.list_messages(job_id) if m.state == "queued")
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(answer(queued.id, queued.to_email))
    report = sync(store, tmp_path / "Maildir")
    assert report.replies == 1
    states = {m.id: m.state for m in store.list_messages(job_id)}
    assert states == {first: "sent", queued.id: "sent"}


def test_a_reply_from_a_colleague_at_the_same_office_counts_for_their_own_copy(
    store: Store, tmp_path: Path
) -> None:
    """Two contacts of one office and one of another; the second contact answers the
    first one's copy, the other office's contact answers it too."""
    offices = [("S000001", "cos@one.example.gov"), ("S000001", "aide@one.example.gov")]
    offices.append(("S000002", "cos@two.example.gov"))
    items = [
        QueuedMessage(outgoing(index, email), bioguide=bioguide, contact_role="Chief of Staff")
        for index, (bioguide, email) in enumerate(offices)
    ]
    job_id = store.create_job(letter_slug="arms-sale", kind="joint", messages=items, now=NOW)
    store.schedule_job(job_id, NOW - timedelta(minutes=1), NOW)
    store.start_due_jobs(NOW, grace=timedelta(hours=1), job_id=job_id)
    store.register_worker("w1", "host-a", 1000, NOW)
    ids = {c.message.to_email: c.message.message_id for c in store.claim_due("w1", 3, NOW)}
    store.record_outcomes([Outcome(i, "sent", provider_message_id=None) for i in ids.values()], NOW)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(answer(ids["cos@one.example.gov"], "Aide@One.Example.gov"))
    box.add(answer(ids["cos@one.example.gov"], "cos@two.example.gov"))
    # The aide's out-of-office answering the forwarded copy: the same rule.
    box.add(answer(ids["cos@one.example.gov"], "aide@one.example.gov", "Automatic reply: away"))

    report = sync(store, tmp_path / "Maildir")

    assert (report.replies, report.auto_replies, report.unmatched) == (1, 1, 1)
    auto = [e.kind for e in store.list_events(job_id, message_id=ids["aide@one.example.gov"])]
    assert auto.count("event_auto_replied") == 1
    replied = {
        email: [e.kind for e in store.list_events(job_id, message_id=i)].count("event_replied")
        for email, i in ids.items()
    }
    assert replied == {
        "cos@one.example.gov": 0,
        "aide@one.example.gov": 1,
        "cos@two.example.gov": 0,
    }
