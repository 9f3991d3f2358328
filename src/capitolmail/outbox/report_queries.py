"""What a delivery report reads: each message's milestones, and a job's engagement figures.

Grouped queries over the event log, so a 300,000-message alert is a few scans and
not one query per message. The figures are what `status`, the status page and the
report all show; the milestones are the report's rows. Event kinds are the ones
the rest of the outbox writes: a state for a change (`delivered`, `bounced`), and
`event_` and the provider's event for the rest (`event_opened`, `event_replied`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, distinct, func, select

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
    return JobFigures(
        counts=counts,
        recipients=sum(counts.values()),
        offices_targeted=conn.execute(offices).scalar_one(),
        offices_reached=conn.execute(reached).scalar_one(),
        bounces=_ending_reasons(conn, job_id),
        soft_bounces=per_kind.get(SOFT_BOUNCE, (0, 0))[1],
        replies=per_kind.get(REPLIED, (0, 0))[1],
        auto_replies=per_kind.get(AUTO_REPLIED, (0, 0))[1],
        opens_total=per_kind.get(OPENED, (0, 0))[0],
        opens_unique=per_kind.get(OPENED, (0, 0))[1],
        clicks_total=per_kind.get(CLICKED, (0, 0))[0],
        clicks_unique=per_kind.get(CLICKED, (0, 0))[1],
        links=_links(conn, job_id),
        unsubscribes=_unsubscribes(conn, job_id),
    )


def job_milestones(conn: Connection, job_id: int) -> list[Milestones]:
    """Every message of the job in `seq` order, with its milestones."""
    _require_job(conn, job_id)
    firsts: dict[str, dict[str, tuple[datetime, int]]] = {}
    query = (
        select(events.c.message_id, events.c.kind, func.min(events.c.at), func.count())
        .where(events.c.job_id == job_id, events.c.kind.in_(_MILESTONES))
        .group_by(events.c.message_id, events.c.kind)
    )
    for message_id, kind, at, count in conn.execute(query):
        firsts.setdefault(message_id, {})[kind] = (at, count)
    endings = _ending_details(conn, job_id)
    rows = conn.execute(
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
            messages.c.created_at,
            messages.c.sent_at,
        )
        .where(messages.c.job_id == job_id)
        .order_by(messages.c.seq)
    )
    return [_milestones(row, firsts.get(row.id, {}), endings.get(row.id)) for row in rows]


def _milestones(row: Any, seen: dict[str, tuple[datetime, int]], ending: str | None) -> Milestones:
    def first(kind: str) -> datetime | None:
        return seen[kind][0] if kind in seen else None

    ended = [seen[kind][0] for kind in ENDINGS if kind in seen]
    return Milestones(
        id=row.id,
        seq=row.seq,
        to_email=row.to_email,
        to_name=row.to_name,
        subject=row.subject,
        bioguide=row.bioguide,
        contact_role=row.contact_role,
        supporter_id=row.supporter_id,
        state=row.state,
        last_error=row.last_error,
        queued_at=row.created_at,
        sent_at=row.sent_at,
        delivered_at=first(DELIVERED),
        ended_at=min(ended) if ended else None,
        ending=ending,
        opened_at=first(OPENED),
        opens=seen.get(OPENED, (None, 0))[1],
        clicks=seen.get(CLICKED, (None, 0))[1],
        replied_at=first(REPLIED),
        auto_replied_at=first(AUTO_REPLIED),
        unsubscribed_at=first(UNSUBSCRIBED),
    )


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


def _ending_reasons(conn: Connection, job_id: int) -> list[tuple[str, int]]:
    """(reason, messages) for the job's messages that bounced or were dropped."""
    details = _ending_details(conn, job_id)
    ended = conn.execute(
        select(messages.c.id).where(
            messages.c.job_id == job_id,
            messages.c.state.in_([MessageState.BOUNCED.value, MessageState.DROPPED.value]),
        )
    ).scalars()
    counts: dict[str, int] = {}
    for message_id in ended:
        reason = details.get(message_id, NO_REASON)
        counts[reason] = counts.get(reason, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


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
