"""What recipients already had: earlier messages with the same content, whatever the slug.

A joint letter copied to a new slug after a typo fix renders, office by office, the
very messages the first job sent. The slug check (`job_queries.reached_recipients`) cannot
see that, so this looks the rendered content up by its digest (`content_hash`, filled
at insert) and pairs it with the recipient's key: the same words to the same person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, or_, select

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import jobs, messages
from capitolmail.outbox.states import REACHED_STATES

_REACHED = frozenset(state.value for state in REACHED_STATES)


@dataclass(frozen=True, slots=True)
class EarlierMessage:
    """One recipient who already had (or may yet get) the same content, and where from."""

    email_key: str
    job_id: int
    letter_slug: str
    queued_at: datetime


def earlier_messages(
    conn: Connection, wanted: Iterable[tuple[str, str]], *, since: datetime
) -> list[EarlierMessage]:
    """Earlier messages whose (recipient key, content digest) is one of `wanted`.

    Only messages in a reached state count, queued or sent at or after `since`: a
    letter sent last year may fairly go again. The lookup goes by the digest's
    index; a digest is personal (it includes "Dear Senator Smith" and, in an alert,
    the unsubscribe link), so each one matches few rows, and the recipient key is
    then checked here. Newest job first.
    """
    pairs = set(wanted)
    if not pairs:
        return []
    digests = sorted({digest for _, digest in pairs})
    # The state is checked here, not in the WHERE: given `state IN (...)` as well,
    # SQLite's planner (no statistics) read every message in a reached state through
    # the state index for each chunk of digests, so queueing an alert read the whole
    # outbox once per thousand messages, its own rows included.
    query = (
        select(
            messages.c.to_email_key,
            messages.c.content_hash,
            messages.c.state,
            jobs.c.id,
            jobs.c.letter_slug,
            jobs.c.created_at,
        )
        .join(jobs, jobs.c.id == messages.c.job_id)
        .where(or_(messages.c.created_at >= since, messages.c.sent_at >= since))
    )
    found: dict[tuple[str, int], EarlierMessage] = {}
    for chunk in chunked(digests):
        for key, digest, state, job_id, slug, created_at in conn.execute(
            query.where(messages.c.content_hash.in_(chunk))
        ):
            if state in _REACHED and (key, digest) in pairs:
                found[(key, job_id)] = EarlierMessage(key, job_id, slug, created_at)
    return sorted(found.values(), key=lambda m: (-m.job_id, m.email_key))


# A supporter gets a few alerts a month; the newest this many are enough to find the list.
_LIST_LOOKBACK = 200


def list_name(conn: Connection, address_key: str, list_id: str) -> str | None:
    """The name `address_key` saw for the list `list_id` in a message's List-Id, if any.

    The unsubscribe token carries only the technical id ("action-alerts.example.org");
    the page should say what the person knows the list as, which is what the
    header ("Action alerts <action-alerts.example.org>") showed them.
    """
    rows = conn.execute(
        select(messages.c.headers)
        .where(messages.c.to_email_key == address_key)
        .order_by(messages.c.created_at.desc())
        .limit(_LIST_LOOKBACK)
    )
    suffix = f"<{list_id}>"
    for (headers,) in rows:
        for name, value in headers or ():
            if name.lower() == "list-id" and value.strip().endswith(suffix):
                return value.strip().removesuffix(suffix).strip().strip('"') or None
    return None
