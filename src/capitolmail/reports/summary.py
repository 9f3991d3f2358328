"""A job's summary in words and as JSON: the same figures in `status`, on the status
page and at the top of the report, worded once here."""

from __future__ import annotations

from typing import Any

from capitolmail.job_view import counts_text
from capitolmail.outbox.report_queries import JobFigures


def figures_json(figures: JobFigures) -> dict[str, Any]:
    """Every figure, for `status --json` and scripts."""
    return {
        "recipients": figures.recipients,
        "counts": dict(figures.counts),
        "offices_targeted": figures.offices_targeted,
        "offices_reached": figures.offices_reached,
        "bounces": sum(count for _, count in figures.bounces),
        "bounces_by_reason": [
            {"reason": reason, "count": count} for reason, count in figures.bounces
        ],
        "soft_bounces": figures.soft_bounces,
        "replies": figures.replies,
        "auto_replies": figures.auto_replies,
        "opens": {"total": figures.opens_total, "unique": figures.opens_unique},
        "clicks": {"total": figures.clicks_total, "unique": figures.clicks_unique},
        "clicks_by_link": [
            {"url": link.url, "total": link.total, "unique": link.unique} for link in figures.links
        ],
        "unsubscribes": figures.unsubscribes,
    }


def summary_lines(figures: JobFigures, kind: str) -> list[str]:
    """The summary as short lines, the most asked-for first."""
    lines = []
    if figures.offices_targeted:
        lines.append(
            f"Offices reached: {figures.offices_reached} of {figures.offices_targeted} targeted"
        )
    lines.append(f"Messages: {figures.recipients} ({counts_text(figures.counts) or 'none'})")
    bounced = sum(count for _, count in figures.bounces)
    lines.append(
        f"Bounces: {bounced}" + (f", soft {figures.soft_bounces}" if figures.soft_bounces else "")
    )
    lines.extend(f"  {count} × {reason}" for reason, count in figures.bounces)
    lines.append(f"Replies: {figures.replies}; auto-replies: {figures.auto_replies}")
    if kind == "alert" or figures.opens_total or figures.clicks_total:
        lines.append(
            f"Opened by {_people(figures.opens_unique)} ({figures.opens_total} opens); "
            f"clicked by {_people(figures.clicks_unique)} ({figures.clicks_total} clicks)"
        )
        lines.extend(
            f"  {_people(link.unique)}, {link.total} clicks · {link.url}" for link in figures.links
        )
        lines.append(f"Unsubscribes: {figures.unsubscribes}")
    return lines


def _people(count: int) -> str:
    return f"{count} recipient" if count == 1 else f"{count} recipients"
