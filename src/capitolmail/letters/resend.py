"""Refuse to send recipients words they already had, whatever slug the letter now has.

A joint letter copied to a new folder after a typo fix keeps its subject and body,
so without this every office would get it a second time without a word: a
duplicate to a Hill office is public and cannot be taken back. The check compares
each rendered message's content digest (`OutgoingMessage.content_hash`) with what
the outbox holds for the same recipient within the workspace's `resend_period`;
a changed body is a different letter and goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from capitolmail.errors import InputError
from capitolmail.letters.definition import Letter
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store, email_key
from capitolmail.period import describe_period

DEFAULT_RESEND_PERIOD = timedelta(days=30)
_SHOWN = 3
# Messages checked per look-up when they stream (an alert): the outbox's insert batch.
_BATCH = 1000


def refuse_same_content(
    store: Store,
    letter: Letter,
    messages: Iterable[OutgoingMessage],
    *,
    now: datetime,
    period: timedelta,
    people: str,
) -> None:
    """InputError naming the earlier job when any recipient already had this content.

    A zero `period` turns the check off (the setting's documented escape hatch).
    """
    if period <= timedelta(0):
        return
    wanted = {(email_key(m.to_email), m.content_hash()) for m in messages}
    earlier = store.earlier_messages(wanted, since=now - period)
    if not earlier:
        return
    who = sorted({m.email_key for m in earlier})
    newest = earlier[0]
    jobs = {m.job_id for m in earlier}
    others = len(jobs) - 1
    more_jobs = f" and {others} other job{'s' * (others > 1)}" if others else ""
    listing = ", ".join(who[:_SHOWN]) + (", …" if len(who) > _SHOWN else "")
    what = "alert" if letter.definition.is_alert else "letter"
    raise InputError(
        f"{len(who)} {people} already had this {what}'s content in job {newest.job_id} "
        f'("{newest.letter_slug}", queued {newest.queued_at:%Y-%m-%d}){more_jobs} within '
        f"{describe_period(period)} ({listing}); pass --allow-resend to send it again",
        path=letter.display_path,
    )


def refuse_same_content_as_rendered(
    store: Store,
    letter: Letter,
    queued: Iterable[QueuedMessage],
    *,
    now: datetime,
    period: timedelta,
    people: str,
) -> Iterator[QueuedMessage]:
    """`queued`, checked a batch at a time before it passes on: for a streamed alert.

    The alert's job is written in one transaction as messages are rendered, so a
    refusal at the last batch still stores nothing; memory stays one batch.
    """
    batch: list[QueuedMessage] = []
    for item in queued:
        batch.append(item)
        if len(batch) >= _BATCH:
            _check(store, letter, batch, now=now, period=period, people=people)
            yield from batch
            batch = []
    _check(store, letter, batch, now=now, period=period, people=people)
    yield from batch


def _check(
    store: Store,
    letter: Letter,
    batch: list[QueuedMessage],
    *,
    now: datetime,
    period: timedelta,
    people: str,
) -> None:
    messages = [item.message for item in batch if item.suppressed is None]
    refuse_same_content(store, letter, messages, now=now, period=period, people=people)
