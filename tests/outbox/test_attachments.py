"""Attachments in the store: bytes kept once per job, read back whole by claims and reads,
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from capitolmail.attachment import Attachment
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store
from capitolmail.outbox.schema import attachments

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
PDF_A = b"%PDF-1.7\n" + bytes(range(256)) * 100 + b"%%EOF\n"
PDF_B = b"%PDF-1.7\n" + bytes(reversed(range(256))) * 100 + b"%%EOF\n"


def _message(to: str, *files: Attachment) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=str(uuid.uuid4()),
        job_id="",
        from_email="advocacy@example.org",
        from_name="Example Rights Coalition",
        to_email=to,
        to_name="Staff",
        subject="39 organizations urge you to block the pending arms sale",
        text="Dear Senator Booker:\n\nAttached is our letter.\n",
        attachments=files,
    )


def test_each_file_is_stored_once_and_comes_back_with_every_message(store: Store) -> None:
    office_a = Attachment("letter-A000001.pdf", "application/pdf", PDF_A, fingerprint="a")
    office_b = Attachment("letter-B000001.pdf", "application/pdf", PDF_B, fingerprint="b")
    sent = [
        _message("cos.a@senate.example.org", office_a),
        _message("la.a@senate.example.org", office_a),
        _message("cos.b@senate.example.org", office_b),
        _message("plain@senate.example.org"),
    ]
    job = store.create_job(
        letter_slug="arms-sale", kind="joint", messages=[QueuedMessage(m) for m in sent], now=NOW
    )
    with store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(attachments)).scalar()
    assert stored == 2

    back = store.get_message(sent[1].message_id)
    [file] = back.attachments
    assert (file.filename, file.content_type, file.content) == (
        "letter-A000001.pdf",
        "application/pdf",
        PDF_A,
    )
    assert store.get_message(sent[3].message_id).attachments == ()

    store.schedule_job(job, at=NOW, now=NOW)
    store.start_due_jobs(NOW, grace=timedelta(hours=1))
    store.register_worker("w1", "host-a", 1, NOW)
    claimed = {c.message.to_email: c.message for c in store.claim_due("w1", 10, NOW)}
    assert len(claimed) == 4
    assert [a.content for a in claimed["la.a@senate.example.org"].attachments] == [PDF_A]
    assert [a.content for a in claimed["cos.b@senate.example.org"].attachments] == [PDF_B]
    assert claimed["plain@senate.example.org"].attachments == ()
    # What goes on the wire carries the same bytes.
    raw = claimed["cos.b@senate.example.org"].to_bytes()
    assert b'filename="letter-B000001.pdf"' in raw
