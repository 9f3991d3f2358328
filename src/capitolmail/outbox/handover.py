"""Marking the moment a claimed message reaches the transport's irreversible step.

A claim commits `sending`; that alone does not say whether the provider got as
far as SMTP DATA or writing the SendGrid request. `handed_over_at`, committed
just before that step, does: a dead worker's `sending` row without it provably
never reached the provider and goes back to `queued`, and only a row with it
becomes `unknown` (workers.recover_abandoned). The sender marks many messages
at once, so this is one UPDATE per batch, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, String, bindparam, select, update

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import UTCDateTime, messages
from capitolmail.outbox.states import MessageState

_IDS = bindparam("b_ids", expanding=True)
_WHERE = (
    messages.c.id.in_(_IDS),
    messages.c.state == MessageState.SENDING.value,
    messages.c.claimed_by == bindparam("b_worker", type_=String()),
)
_MARK = (
    update(messages).where(*_WHERE).values(handed_over_at=bindparam("b_now", type_=UTCDateTime()))
)


def mark_handed_over(
    conn: Connection, worker_id: str, message_ids: Sequence[str], now: datetime
) -> set[str]:
    """Set `handed_over_at` on the rows this worker still holds in `sending`; their ids.

    A row missing from the answer is no longer this worker's to send: another
    worker found it presumed dead and put the row back (or a job was cancelled),
    so the provider must not hand it over, or it could go out twice.
    """
    marked: set[str] = set()
    for chunk in chunked(list(message_ids)):
        params = {"b_ids": list(chunk), "b_worker": worker_id, "b_now": now}
        if conn.dialect.update_returning:
            marked.update(conn.execute(_MARK.returning(messages.c.id), params).scalars())
        else:
            conn.execute(_MARK, params)
            marked.update(
                conn.execute(
                    select(messages.c.id).where(*_WHERE, messages.c.handed_over_at.is_not(None)),
                    params,
                ).scalars()
            )
    return marked
