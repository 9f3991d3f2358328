"""`inbox sync`: read each new message of the inbound mailbox once and apply what it says.

A bounce, a reply or an auto-reply becomes a `TrackingEvent` for the message it
names and goes through `tracking/apply.py`, so the webhook's rules hold here
too: applied once, a message only moves forward, and only when the address is
that message's recipient (anyone can mail the mailbox, and only our
Message-IDs, which are random, link a mail to a message). A reply from another
contact of the same office, answering a copy forwarded to them, goes to that
contact's own copy (`_answered`). A mailto unsubscribe from a supporter's address
suppresses that supporter.

Each message is remembered as read in the same transaction that applies it,
so a sync that dies halfway resumes where it stopped and applies nothing twice.
Nothing is deleted unless `delete_processed` is set, and then only mail that
changed something; a message that cannot be read is logged and left alone.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from capitolmail.outbox import DeliveryLedger, Store, SuppressionReason
from capitolmail.recipients.suppression import suppression
from capitolmail.redaction import shorten
from capitolmail.tracking.apply import DeliveryReport, apply_in
from capitolmail.tracking.events import EventType, TrackingEvent
from capitolmail.tracking.inbox.reading import Kind, Reading, one_line, read_mail
from capitolmail.tracking.inbox.sources import MailboxMessage, MailSource

log = logging.getLogger("capitolmail.inbox")

Progress = Callable[[int, int | None], None]
_EVENT_NAMES = {
    Kind.REPLY: (EventType.REPLIED, "reply"),
    Kind.AUTO_REPLY: (EventType.AUTO_REPLIED, "auto-reply"),
}


@dataclass(slots=True)
class InboxReport:
    """What one sync read and did, for its one-line summary and `--json`."""

    read: int = 0
    bounces: int = 0  # permanent bounces applied to one of our messages
    soft_bounces: int = 0  # temporary failures, counted on the message
    replies: int = 0
    auto_replies: int = 0
    unsubscribes: int = 0
    unmatched: int = 0  # a bounce, reply or unsubscribe that names nothing of ours
    other: int = 0  # mail that is none of those: left alone
    unparsed: int = 0
    deleted: int = 0
    deliveries: DeliveryReport = field(default_factory=DeliveryReport)

    def summary(self) -> str:
        return (
            f"{self.read} read: {self.bounces} bounces, {self.soft_bounces} soft bounces, "
            f"{self.replies} replies, {self.auto_replies} auto-replies, "
            f"{self.unsubscribes} unsubscribes, {self.unmatched} not matched to a message, "
            f"{self.other} other, {self.unparsed} unparsed"
            + (f", {self.deleted} deleted" if self.deleted else "")
        )

    def add(self, other: InboxReport) -> None:
        """Count what one message did, once its transaction has committed."""
        for name in self.as_json():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        mine, theirs = self.deliveries, other.deliveries
        for name in ("events", "applied", "moved", "duplicates", "unmatched", "mismatched"):
            setattr(mine, name, getattr(mine, name) + getattr(theirs, name))
        for name in ("unknown", "suppressed", "proved"):
            setattr(mine, name, getattr(mine, name) + getattr(theirs, name))

    def as_json(self) -> dict[str, int]:
        names = ("read", "bounces", "soft_bounces", "replies", "auto_replies", "unsubscribes")
        rest = ("unmatched", "other", "unparsed", "deleted")
        return {name: getattr(self, name) for name in (*names, *rest)}


def sync_inbox(
    store: Store,
    source: MailSource,
    *,
    unsubscribe_address: str,
    delete_processed: bool,
    clock: Callable[[], datetime],
    progress: Progress | None = None,
    return_path: str = "",
) -> InboxReport:
    """Read every message of `source` not read before; CapitolmailError when the mailbox
    cannot be opened or read (what was applied by then stays applied).

    `return_path` is the SMTP relay's VERP return path (verp.py), if one is set: a
    bounce sent to its +MESSAGE-ID address names its message even when it quotes
    nothing of it."""
    report = InboxReport()
    with source:
        acted: list[str] = []

        def already_read(keys: Sequence[str]) -> set[str]:
            return store.inbox_read_among(source.mailbox, keys)

        for batch in source.new_messages(already_read):
            for message in batch:
                addresses = (unsubscribe_address, return_path)
                if _one(store, source.mailbox, message, addresses, clock(), report):
                    acted.append(message.key)
            if progress is not None:
                progress(report.read, source.pending)
        if delete_processed and acted:
            source.delete(acted)
            report.deleted = len(acted)
    return report


def _one(
    store: Store,
    mailbox: str,
    message: MailboxMessage,
    addresses: tuple[str, str],
    now: datetime,
    report: InboxReport,
) -> bool:
    """Read and apply one message in one transaction; whether it changed anything."""
    if message.raw is None:
        reading = Reading(Kind.UNPARSED, problem=f"{message.size} bytes, over max_message_bytes")
    else:
        reading = read_mail(message.raw, now, addresses[0], return_path=addresses[1])
    counted = InboxReport()
    try:
        with store.record_deliveries(now) as ledger:
            event_id = _event_id(mailbox, message.key)
            outcome = _act(ledger, reading, event_id, addresses[0], counted)
            if not ledger.first_inbox_reading(mailbox, message.key, outcome):
                raise _AlreadyRead()  # another sync read it first: roll this one back
    except _AlreadyRead:
        return False
    report.add(counted)
    report.read += 1
    if reading.kind is Kind.UNPARSED:
        report.unparsed += 1
        log.warning(
            "inbox: message %s left alone, it cannot be read (%s)",
            one_line(message.key, 120),
            reading.problem,
        )
    return outcome in {kind.value for kind in Kind} - {Kind.OTHER, Kind.UNPARSED}


class _AlreadyRead(Exception):
    pass


def _act(
    ledger: DeliveryLedger,
    reading: Reading,
    event_id: str,
    unsubscribe_address: str,
    report: InboxReport,
) -> str:
    """Apply what the reading says; the outcome to remember it by."""
    at = reading.at or ledger.now
    if reading.kind is Kind.BOUNCE:
        return _bounce(ledger, reading, event_id, at, report)
    if reading.kind is Kind.UNSUBSCRIBE:
        # Suppressed as of now, when it is honoured: the mail's Date is the sender's
        # clock, to the second, and could fall before the message it answers was sent.
        return _unsubscribe(ledger, reading, event_id, ledger.now, unsubscribe_address, report)
    if reading.kind in _EVENT_NAMES:
        event_type, name = _EVENT_NAMES[reading.kind]
        target = _answered(ledger, reading)
        event = _event(event_type, name, target, reading.sender, event_id, at, _said(reading))
        if _applied(ledger, [event], report):
            if reading.kind is Kind.REPLY:
                report.replies += 1
            else:
                report.auto_replies += 1
            return reading.kind.value
        report.unmatched += 1
        return "unmatched"
    if reading.kind is Kind.OTHER:
        report.other += 1
    return reading.kind.value


def _answered(ledger: DeliveryLedger, reading: Reading) -> str | None:
    """The message a reply counts for: the one it names, or, when a colleague at the
    same office answered that copy, the colleague's own copy of the letter.

    The event rules still hold the reply to its sender being that message's recipient
    (tracking/apply.py), so a stranger quoting our Message-ID records nothing.
    """
    if not reading.our_ids:
        return None
    named = reading.our_ids[-1]
    if not reading.sender:
        return named
    return ledger.office_colleague(named, reading.sender) or named


def _bounce(
    ledger: DeliveryLedger, reading: Reading, event_id: str, at: datetime, report: InboxReport
) -> str:
    """Pair each failed address with the message of ours it names that went to it."""
    assert reading.bounce is not None
    bounce = reading.bounce
    hard, soft = set(bounce.permanent), set(bounce.temporary)
    events: list[tuple[bool, TrackingEvent]] = []
    for our_id in reading.our_ids:
        tracked = ledger.message(our_id)
        if tracked is None or tracked.to_email_key not in hard | soft:
            continue
        permanent = tracked.to_email_key in hard
        kind, name = (
            (EventType.BOUNCED, "bounce") if permanent else (EventType.BLOCKED, "soft bounce")
        )
        reason = bounce.reason or reading.subject
        number = f"{event_id}:{len(events)}"
        events.append((permanent, _event(kind, name, our_id, tracked.to_email, number, at, reason)))
    applied = False
    for permanent, event in events:
        if _applied(ledger, [event], report):
            applied = True
            if permanent:
                report.bounces += 1
            else:
                report.soft_bounces += 1
    if not applied:
        report.unmatched += 1
        return "unmatched"
    return Kind.BOUNCE.value


def _unsubscribe(
    ledger: DeliveryLedger,
    reading: Reading,
    event_id: str,
    at: datetime,
    address: str,
    report: InboxReport,
) -> str:
    """An answer to one of our alerts goes through the event rules; otherwise the
    sender must be one of our supporters, who is then suppressed."""
    if reading.our_ids:
        event = _event(
            EventType.UNSUBSCRIBED,
            "unsubscribe by mail",
            reading.our_ids[-1],
            reading.sender,
            event_id,
            at,
            f"to {address}",
        )
        if _applied(ledger, [event], report):
            report.unsubscribes += 1
            return Kind.UNSUBSCRIBE.value
    supporter = ledger.supporter_address(reading.sender) if reading.sender else None
    if supporter is None:
        report.unmatched += 1
        return "unmatched"
    try:
        entry = suppression(supporter, SuppressionReason.UNSUBSCRIBE, at, f"by mail to {address}")
    except ValueError:  # a stored address that no longer validates: nothing to suppress
        report.unmatched += 1
        return "unmatched"
    ledger.add_suppressions([entry])
    report.unsubscribes += 1
    return Kind.UNSUBSCRIBE.value


def _applied(ledger: DeliveryLedger, events: list[TrackingEvent], report: InboxReport) -> bool:
    before = report.deliveries.applied
    apply_in(ledger, events, report.deliveries)
    return report.deliveries.applied > before


def _event(
    kind: EventType,
    name: str,
    message_id: str | None,
    recipient: str,
    event_id: str,
    at: datetime,
    description: str,
) -> TrackingEvent:
    return TrackingEvent(
        event_type=kind,
        event_name=name,
        timestamp=at,
        message_id=message_id,
        recipient=recipient or None,
        event_id=event_id,
        description=description or None,
    )


def _said(reading: Reading) -> str:
    """The event log's detail for a reply: who, and the subject cut short."""
    subject = shorten(reading.subject, 80)
    return f'from {reading.sender or "(no address)"}, subject "{subject}"'


def _event_id(mailbox: str, key: str) -> str:
    """Unique per mailbox message, within webhook_events' 255 characters."""
    return "inbox:" + hashlib.sha256(f"{mailbox}\0{key}".encode()).hexdigest()[:40]
