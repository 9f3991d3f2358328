"""A message's text and HTML are kept in message_bodies (0018), apart from its row.

What a user would check: the letter a provider is handed has exactly the text and
HTML that were queued, whether the message was queued before the upgrade (bodies
in its row) or after (bodies apart), and a message whose bodies are lost is never
sent as an empty letter.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, insert, select, text

from capitolmail.errors import StoreError
from capitolmail.outbox import QueuedMessage, Store
from capitolmail.outbox.schema import jobs, message_bodies, messages

from .old_schema import database_at
from .test_store import GRACE, NOW, claim_all, outgoing

TEXT = "Dear Senator,\n\n. a line that starts with a dot\nÉire — «quoted»\n"
HTML = "<p>Dear Senator,</p>\n<p>Éire — «quoted»</p>\n"


def _started_job(store: Store, *items: QueuedMessage) -> int:
    job_id = store.create_job(letter_slug="arms-sale", kind="joint", messages=items, now=NOW)
    store.schedule_job(job_id, NOW, NOW)
    store.start_due_jobs(NOW, grace=GRACE)
    return job_id


def _claimed(store: Store) -> dict[str, tuple[str, str | None]]:
    store.register_worker("w1", "host-a", 1000, NOW)
    return {
        claimed.message.message_id: (claimed.message.text, claimed.message.html)
        for claimed in store.claim_due("w1", 100, NOW)
    }


def test_the_bodies_are_kept_apart_and_come_back_exactly(store: Store) -> None:
    with_html = outgoing(0, text=TEXT, html=HTML)
    text_only = outgoing(1, text=TEXT, html=None)
    _started_job(store, QueuedMessage(with_html), QueuedMessage(text_only))
    with store.engine.connect() as conn:
        inline = conn.execute(select(messages.c.text_body, messages.c.html_body)).all()
        apart = dict(
            conn.execute(select(message_bodies.c.message_id, message_bodies.c.text_body)).all()
        )
    assert set(inline) == {("", None)}  # the rows carry nothing the send path rewrites
    assert apart == {with_html.message_id: TEXT, text_only.message_id: TEXT}
    assert store.get_message(with_html.message_id).html == HTML
    assert _claimed(store) == {
        with_html.message_id: (TEXT, HTML),
        text_only.message_id: (TEXT, None),
    }


def _database_at_0017_with_a_message(url: str, message_id: str) -> None:
    """An outbox as an earlier version left it: one sending job, its message's bodies in
    its own row."""
    with database_at(url, "0017") as conn:
        job_id = conn.execute(
            insert(jobs).values(
                letter_slug="old-letter",
                kind="joint",
                state="sending",
                created_at=NOW,
                started_at=NOW,
                total=1,
                options={},
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(messages).values(
                id=message_id,
                job_id=job_id,
                seq=0,
                to_email="staffer@mail.house.gov",
                to_email_key="staffer@mail.house.gov",
                to_name="A Staffer",
                from_email="policy@peace-action.example",
                from_name="Peace Action",
                subject="Block the arms sale",
                text_body=TEXT,
                html_body=HTML,
                headers=[],
                categories=[],
                state="queued",
                attempts=0,
                created_at=NOW,
                updated_at=NOW,
            )
        )


def test_a_message_queued_before_the_upgrade_keeps_its_own_bodies(database_url: str) -> None:
    old = str(uuid.uuid4())
    _database_at_0017_with_a_message(database_url, old)
    with Store.open(database_url) as store:  # upgraded to 0018 here, nothing copied
        new = outgoing(0, text="A later letter.\n", html="<p>A later letter.</p>")
        _started_job(store, QueuedMessage(new))
        assert store.get_message(old).text == TEXT
        assert _claimed(store) == {
            old: (TEXT, HTML),
            new.message_id: ("A later letter.\n", "<p>A later letter.</p>"),
        }


def test_a_message_whose_bodies_are_lost_is_not_sent(store: Store) -> None:
    message = outgoing(0, text=TEXT, html=HTML)
    job_id = _started_job(store, QueuedMessage(message))
    with store.engine.begin() as conn:
        conn.execute(delete(message_bodies))
    with pytest.raises(StoreError) as refused:
        claim_all(store)
    assert f"message {message.message_id} of job {job_id} has no text" in str(refused.value)
    # The claim was rolled back: still queued, never handed to a provider.
    assert [info.state for info in store.list_messages(job_id)] == ["queued"]


def test_the_bodies_go_with_their_message(store: Store) -> None:
    """Nothing deletes a message today; if anything ever does, its bodies go with it."""
    message = outgoing(0, text=TEXT)
    _started_job(store, QueuedMessage(message))
    with store.engine.begin() as conn:
        conn.execute(delete(messages))
        left = conn.execute(text("SELECT count(*) FROM message_bodies")).scalar_one()
    assert left == 0


def test_a_downgrade_puts_the_bodies_back_in_their_rows(database_url: str) -> None:
    """For an operator who must go back to the version before 0018."""
    with Store.open(database_url) as store:
        with_html = outgoing(0, text=TEXT, html=HTML)
        text_only = outgoing(1, text=TEXT, html=None)
        _started_job(store, QueuedMessage(with_html), QueuedMessage(text_only))
    with database_at(database_url, "0017") as conn:
        rows = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                select(messages.c.id, messages.c.text_body, messages.c.html_body)
            )
        }
    assert rows == {with_html.message_id: (TEXT, HTML), text_only.message_id: (TEXT, None)}
