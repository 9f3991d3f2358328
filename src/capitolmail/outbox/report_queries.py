"""What a delivery report reads: each message's milestones, and a job's engagement figures.

Grouped queries over the event log, so a 300,000-message alert is a few scans and
not one query per message. The figures are what `status`, the status page and the
report all show; the milestones are the report's rows. Event kinds are the ones
the rest of the outbox writes: a state for a change (`delivered`, `bounced`), and
`event_` and the provider's event for the rest (`event_opened`, `event_replied`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, distinct, func, or_, select

from capitolmail.errors import JobNotFound
from capitolmail.outbox.schema import events, jobs, messages, suppressions
from capitolmail.outbox.states import REACHED_STATES, MessageState

# The event kinds a report reads, by what they mean to it.
DELIVERED = "delivered"
ENDINGS = ("bounced", "dropped", "spam_report")  # the provider's word that it did not arrive
OPENED = "event_opened"
CLICKED = "event_clicked"
REPLIED = "event_replied"
AUTO_REPLIED = "event_auto_replied"
UNSUBSCRIBED = "event_unsubscribed"
SOFT_BOUNCE = "event_blocked"  # refused this time; counted, nothing suppressed
_MILESTONES = (DELIVERED, *ENDINGS, OPENED, CLICKED, REPLIED, AUTO_REPLIED, UNSUBSCRIBED)
# An office is reached when one of its contacts has the letter, or may have it, and no
# provider said otherwise: sent, delivered, spam_report (it arrived) and unknown (the
# provider may have it); not what is still on its way, nor what failed or bounced.
_REACHED = sorted(
    state.value
    for state in REACHED_STATES
    if state not in (MessageState.QUEUED, MessageState.SENDING, MessageState.RETRY_WAIT)
)
NO_REASON = "(no reason given)"


@dataclass(frozen=True, slots=True)
class Milestones:
    """One message and when each thing happened to it; None when it has not."""

    id: str
    seq: int
    to_email: str
    to_name: str
    subject: str
    bioguide: str | None
    contact_role: str | None
    supporter_id: str | None
    state: str
    last_error: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None = None
    ended_at: datetime | None = None  # bounced, dropped or reported as spam
    ending: str | None = None  # the provider's reason for that
    opened_at: datetime | None = None
    opens: int = 0
    clicks: int = 0
    replied_at: datetime | None = None
    auto_replied_at: datetime | None = None
    unsubscribed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LinkClicks:
    url: str
    total: int
    unique: int  # readers who clicked it at least once


@dataclass(frozen=True, slots=True)
class JobFigures:
    """Every figure of a job's summary, counted in the database."""

    counts: dict[str, int]
    recipients: int
    offices_targeted: int
    offices_reached: int
    bounces: list[tuple[str, int]]  # (the provider's reason, messages), most first
    soft_bounces: int
    replies: int  # messages an office answered (a person, not an autoresponder)
    auto_replies: int
    opens_total: int
    opens_unique: int
    clicks_total: int
    clicks_unique: int
    links: list[LinkClicks] = field(default_factory=list)
    unsubscribes: int = 0
    # (state, the provider's reason, messages) for those that bounced or were dropped:
    # what `bounces` sums, kept by state for the partner version's wording.
    endings: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobOutline:
    """What a report draws before its rows, beside the figures: counted in the database,
    never per message in memory."""

    subject: str  # the first message's
    queued: int
    sent: int  # has a sent time, or a state only a sent message reaches
    delivered: int
    # The first and last time a message was sent or first delivered; None before any.
    span: tuple[datetime, datetime] | None


# States only a message that was handed over reaches.
_SENT_STATES = ("sent", "delivered", "bounced", "dropped", "spam_report", "unknown")


def job_outline(conn: Connection, job_id: int) -> JobOutline:
    _require_job(conn, job_id)
    of_job = messages.c.job_id == job_id
    delivered_ids = select(events.c.message_id).where(
        events.c.job_id == job_id, events.c.kind == DELIVERED
    )
    sent = or_(messages.c.sent_at.is_not(None), messages.c.state.in_(_SENT_STATES))
    delivered = or_(messages.c.state == "delivered", messages.c.id.in_(delivered_ids))
    queued_count, sent_count, delivered_count = conn.execute(
        select(func.count(), func.count(case((sent, 1))), func.count(case((delivered, 1)))).where(
            of_job
        )
    ).one()
    subject = conn.execute(
        select(messages.c.subject).where(of_job).order_by(messages.c.seq).limit(1)
    ).scalar()
    return JobOutline(
        subject=subject or "",
        queued=queued_count,
        sent=sent_count,
        delivered=delivered_count,
        span=_time_span(conn, job_id),
    )


def _time_span(conn: Connection, job_id: int) -> tuple[datetime, datetime] | None:
    sent = conn.execute(
        select(func.min(messages.c.sent_at), func.max(messages.c.sent_at)).where(
            messages.c.job_id == job_id
        )
    ).one()
    firsts = (
        select(func.min(events.c.at).label("at"))
        .where(events.c.job_id == job_id, events.c.kind == DELIVERED)
        .group_by(events.c.message_id)
        .subquery()
    )
    delivered = conn.execute(select(func.min(firsts.c.at), func.max(firsts.c.at))).one()
    moments = [moment for moment in (*sent, *delivered) if moment is not None]
    return (min(moments), max(moments)) if moments else None


def job_times(conn: Connection, job_id: int, milestone: str) -> Iterator[datetime]:
    """When each of the job's messages was sent ("sent") or first delivered
    ("delivered"), earliest first, as the rows arrive."""
    if milestone == "sent":
        query = (
            select(messages.c.sent_at)
            .where(messages.c.job_id == job_id, messages.c.sent_at.is_not(None))
            .order_by(messages.c.sent_at)
        )
    else:
        first = func.min(events.c.at).label("at")
        query = (
            select(first)
            .where(events.c.job_id == job_id, events.c.kind == DELIVERED)
            .group_by(events.c.message_id)
            .order_by(first)
        )
    for (moment,) in _streamed(conn, query):
        yield moment


def job_figures(conn: Connection, job_id: int) -> JobFigures:
    _require_job(conn, job_id)
    counts = {
        state: count
        for state, count in conn.execute(
            select(messages.c.state, func.count())
            .where(messages.c.job_id == job_id)
            .group_by(messages.c.state)
        )
    }
    of_job = messages.c.job_id == job_id
    offices = select(func.count(distinct(messages.c.bioguide))).where(of_job)
    reached = offices.where(messages.c.state.in_(_REACHED))
    per_kind = _event_totals(conn, job_id)
    endings = _endings_by_state(conn, job_id)
    return JobFigures(
        counts=counts,
        recipients=sum(counts.values()),
        offices_targeted=conn.execute(offices).scalar_one(),
        offices_reached=conn.execute(reached).scalar_one(),
        bounces=_by_reason(endings),
        soft_bounces=per_kind.get(SOFT_BOUNCE, (0, 0))[1],
        replies=per_kind.get(REPLIED, (0, 0))[1],
        auto_replies=per_kind.get(AUTO_REPLIED, (0, 0))[1],
        opens_total=per_kind.get(OPENED, (0, 0))[0],
        opens_unique=per_kind.get(OPENED, (0, 0))[1],
        clicks_total=per_kind.get(CLICKED, (0, 0))[0],
        clicks_unique=per_kind.get(CLICKED, (0, 0))[1],
        links=_links(conn, job_id),
        unsubscribes=_unsubscribes(conn, job_id),
        endings=endings,
    )


def job_milestones(conn: Connection, job_id: int) -> Iterator[Milestones]:
    """Every message of the job in `seq` order, with its milestones, as the rows arrive.

    One query: the database groups each message's events and joins them to it, and the
    rows are read a batch at a time (a server-side cursor on PostgreSQL), so a
    300,000-supporter alert's report holds one batch in memory, not every message.
    """
    _require_job(conn, job_id)
    for row in _streamed(conn, _milestones_query(job_id)):
        yield _milestones(row)


def _streamed(conn: Connection, query: Select[Any]) -> Iterator[Any]:
    """The rows of `query`, a batch at a time; the cursor is closed when the reader
    stops, even part-way (a PostgreSQL server-side cursor must not outlive its
    transaction)."""
    result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    try:
        yield from result
    finally:
        result.close()


_BATCH = 2_000


# Each milestone's column in the query, and the event kinds that set it (the first one).
_FIRSTS = {
    "delivered_at": (DELIVERED,),
    "ended_at": ENDINGS,
    "opened_at": (OPENED,),
    "replied_at": (REPLIED,),
    "auto_replied_at": (AUTO_REPLIED,),
    "unsubscribed_at": (UNSUBSCRIBED,),
}
_COUNTS = {"opens": OPENED, "clicks": CLICKED}


def _milestones_query(job_id: int) -> Select[Any]:
    kind, at = events.c.kind, events.c.at
    seen = (
        select(
            events.c.message_id,
            *(func.min(case((kind.in_(kinds), at))).label(name) for name, kinds in _FIRSTS.items()),
            *(func.count(case((kind == one, 1))).label(name) for name, one in _COUNTS.items()),
        )
        .where(events.c.job_id == job_id, kind.in_(_MILESTONES))
        .group_by(events.c.message_id)
        .subquery()
    )
    # The reason of the first event that ended it, looked up only for those that ended.
    ending = events.alias("ending")
    first_ending = (
        select(func.coalesce(ending.c.detail, NO_REASON))
        .where(ending.c.message_id == messages.c.id, ending.c.kind.in_(ENDINGS))
        .order_by(ending.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            messages.c.id,
            messages.c.seq,
            messages.c.to_email,
            messages.c.to_name,
            messages.c.subject,
            messages.c.bioguide,
            messages.c.contact_role,
            messages.c.supporter_id,
            messages.c.state,
            messages.c.last_error,
            messages.c.created_at.label("queued_at"),
            messages.c.sent_at,
            *(seen.c[name] for name in (*_FIRSTS, *_COUNTS)),
            case((seen.c.ended_at.is_not(None), first_ending)).label("ending"),
        )
        .outerjoin(seen, seen.c.message_id == messages.c.id)
        .where(messages.c.job_id == job_id)
        .order_by(messages.c.seq)
    )


def _milestones(row: Any) -> Milestones:
    values = row._asdict()
    for name in _COUNTS:
        values[name] = values[name] or 0  # no event at all: the outer join gave NULL
    return Milestones(**values)


def _require_job(conn: Connection, job_id: int) -> None:
    if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
        raise JobNotFound(job_id)


def _event_totals(conn: Connection, job_id: int) -> dict[str, tuple[int, int]]:
    """kind -> (events, distinct messages), for the engagement kinds."""
    kinds = (OPENED, CLICKED, REPLIED, AUTO_REPLIED, SOFT_BOUNCE)
    query = (
        select(events.c.kind, func.count(), func.count(distinct(events.c.message_id)))
        .where(events.c.job_id == job_id, events.c.kind.in_(kinds))
        .group_by(events.c.kind)
    )
    return {kind: (total, unique) for kind, total, unique in conn.execute(query)}


def _ending_details(conn: Connection, job_id: int) -> dict[str, str]:
    """message id -> the reason given by the event that ended it (the first such event)."""
    query = (
        select(events.c.message_id, events.c.detail)
        .where(events.c.job_id == job_id, events.c.kind.in_(ENDINGS))
        .order_by(events.c.id.desc())
    )
    return {message_id: detail or NO_REASON for message_id, detail in conn.execute(query)}


def _by_reason(endings: list[tuple[str, str, int]]) -> list[tuple[str, int]]:
    """(reason, messages) for the job's messages that bounced or were dropped, most first."""
    counts: dict[str, int] = {}
    for _, reason, count in endings:
        counts[reason] = counts.get(reason, 0) + count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _endings_by_state(conn: Connection, job_id: int) -> list[tuple[str, str, int]]:
    """(state, reason, messages) for the job's messages that bounced or were dropped."""
    details = _ending_details(conn, job_id)
    ended = conn.execute(
        select(messages.c.id, messages.c.state).where(
            messages.c.job_id == job_id,
            messages.c.state.in_([MessageState.BOUNCED.value, MessageState.DROPPED.value]),
        )
    )
    counts: dict[tuple[str, str], int] = {}
    for message_id, state in ended:
        key = (state, details.get(message_id, NO_REASON))
        counts[key] = counts.get(key, 0) + 1
    return [(state, reason, count) for (state, reason), count in sorted(counts.items())]


def _links(conn: Connection, job_id: int) -> list[LinkClicks]:
    query = (
        select(events.c.url, func.count(), func.count(distinct(events.c.message_id)))
        .where(events.c.job_id == job_id, events.c.kind == CLICKED)
        .group_by(events.c.url)
    )
    links = [
        LinkClicks(url or "(no link named)", total, unique)
        for url, total, unique in conn.execute(query)
    ]
    return sorted(links, key=lambda link: (-link.total, link.url))


def _unsubscribes(conn: Connection, job_id: int) -> int:
    """Recipients who unsubscribed after this job's message reached them: through the
    provider's event, or onto the suppression list as unsubscribed (the link in the
    footer, List-Unsubscribe, a mailto) after their message was sent."""
    by_event = select(events.c.message_id).where(
        events.c.job_id == job_id, events.c.kind == UNSUBSCRIBED
    )
    by_list = (
        select(messages.c.id)
        .join(
            suppressions,
            and_(
                suppressions.c.email_key == messages.c.to_email_key,
                suppressions.c.reason == "unsubscribe",
            ),
        )
        .where(
            messages.c.job_id == job_id,
            messages.c.sent_at.is_not(None),
            suppressions.c.suppressed_at >= messages.c.sent_at,
        )
    )
    union = by_event.union(by_list).subquery()
    return conn.execute(select(func.count()).select_from(union)).scalar_one()
