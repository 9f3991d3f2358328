"""The outbox tables, as SQLAlchemy Core sees them.

This is the shape the code queries; the shape of the database is built by the
Alembic revisions in `migrations/versions/`, and a test compares the two so they
cannot drift. Change both together: add a revision, then edit the table here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on PostgreSQL and SQLite alike.

    SQLite has no time zones: SQLAlchemy stores the text without an offset and
    gives back naive datetimes, which then compare wrongly against aware ones.
    Storing UTC without the offset keeps the text sortable, so `<=` in SQL still
    orders times correctly. A naive datetime is refused: its zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"the outbox stores aware datetimes only, got {value!r}")
        if value.tzinfo is not UTC:  # datetime.now(UTC), the usual value, needs no conversion
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    # An integer, not a UUID: people type it (`capitolmail send 3`).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("letter_slug", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("scheduled_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("total", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("paused_reason", Text, nullable=True),
    # Settings added by later features (rate, send window) without a migration each.
    Column("options", JSON, nullable=False),
    # When a rate-limited job may hand out its next message (migration 0002).
    Column("paced_until", UTCDateTime, nullable=True),
    Index("ix_jobs_state", "state"),
    Index("ix_jobs_letter_slug", "letter_slug"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),  # our UUID, also in the Message-ID header
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("to_email", String(320), nullable=False),
    Column("to_email_key", String(320), nullable=False),
    Column("to_name", Text, nullable=False),
    Column("from_email", String(320), nullable=False),
    Column("from_name", Text, nullable=False),
    Column("reply_to", Text, nullable=True),
    Column("subject", Text, nullable=False),
    # Empty since 0018, which keeps the bodies in message_bodies; a row queued before
    # it still holds them (outbox/bodies.py reads whichever is there).
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=True),
    Column("headers", JSON, nullable=False),  # [[name, value], ...] in order
    Column("categories", JSON, nullable=False),
    Column("bioguide", String(20), nullable=True),
    Column("contact_role", String(100), nullable=True),
    Column("supporter_id", String(100), nullable=True),
    # A recipient beyond Congress: its id in recipients/targets.csv (0010).
    Column("target_id", String(64), nullable=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("provider_message_id", String(255), nullable=True),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # When the transport's irreversible step began (SMTP DATA, the SendGrid request
    # written); None while a claimed message can still go back to `queued` (0006).
    Column("handed_over_at", UTCDateTime, nullable=True),
    # Digest of the normalised subject and bodies: the same letter under a new slug (0006).
    Column("content_hash", String(64), nullable=True),
    # {"opens": bool, "clicks": bool}: what the provider is asked to track (0012).
    Column("tracking", JSON, nullable=True),
    # Copies from letter.toml: ["a@b.org", ...]; None (rows before 0008) means none.
    Column("cc", JSON, nullable=True),
    Column("bcc", JSON, nullable=True),
    # [[filename, content_type, sha256], ...]: the files sent with it, whose bytes are
    # in `attachments` (0007); None for a message without any.
    Column("attachments", JSON, nullable=True),
    UniqueConstraint("job_id", "seq", name="uq_messages_job_id_seq"),
    # (job_id, state, seq): claim_due reads "this job's queued rows in order" as one
    # index range, however many of the job's rows are already sent.
    Index("ix_messages_job_id_state_seq", "job_id", "state", "seq"),
    Index("ix_messages_state_next_attempt_at", "state", "next_attempt_at"),
    # A job's due retries, for claim_due; only rows waiting for a retry are in it (0014).
    Index(
        "ix_messages_retry_due",
        "job_id",
        "next_attempt_at",
        postgresql_where=text("state = 'retry_wait'"),
        sqlite_where=text("state = 'retry_wait'"),
    ),
    Index("ix_messages_to_email_key", "to_email_key"),
    Index("ix_messages_content_hash", "content_hash"),
)

# A message's text and HTML (0018), apart from its row: the send path writes the row
# three times, and on SQLite each write rewrote the bodies' page with it.
message_bodies = Table(
    "message_bodies",
    metadata,
    Column(
        "message_id",
        String(36),
        ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=True),
)

attachments = Table(
    "attachments",
    metadata,
    # A job's attached files, each stored once however many messages carry it (the
    # two contacts of one office share their office's PDF; a shared PDF is one row).
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("content", LargeBinary, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=True),  # None for a job-level event
    Column("job_id", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("detail", Text, nullable=True),
    # The link of a click event, cut and without its query (tracking/links.py) (0012).
    Column("url", String(300), nullable=True),
    Index("ix_events_job_id", "job_id"),
    Index("ix_events_message_id", "message_id"),
)

# The pace of each provider, shared by every worker (outbox/provider_pace.py) (0015).
provider_paces = Table(
    "provider_paces",
    metadata,
    Column("provider", String(40), primary_key=True),
    # When the next message may go: a token bucket held as a time (GCRA).
    Column("next_turn", UTCDateTime, nullable=True),
    # The adaptive pace a throttling provider forced (None: none); sending/throttle.py.
    Column("per_second", Float, nullable=True),
    Column("cut", Integer, nullable=False),
    Column("step", Float, nullable=False),
    Column("lift_at", Float, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    # The worker's `worker.rate` per second; the lowest registered holds for all (0017).
    Column("rate_per_second", Float, nullable=True),
)

supporters = Table(
    "supporters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),  # as email-validator normalised it
    Column("email_key", String(320), nullable=False),  # records.email_key(email)
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("postal_code", String(10), nullable=True),  # ZIP or ZIP+4 as "20500-0003"
    Column("state", String(2), nullable=True),
    Column("district", Integer, nullable=True),  # None when the ZIP spans several (0: at-large)
    Column("consent", Boolean, nullable=False),
    Column("consent_at", UTCDateTime, nullable=True),
    Column("tags", JSON, nullable=False),  # ["volunteer", "gitmo"], in first-seen order
    # The import that last wrote the row: a duplicate within one streamed file (migration 0004).
    Column("import_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("email_key", name="uq_supporters_email_key"),
    Index("ix_supporters_state_district", "state", "district"),
)

suppressions = Table(
    "suppressions",
    metadata,
    # The same key as messages.to_email_key: one normalisation everywhere.
    Column("email_key", String(320), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("reason", String(20), nullable=False),  # unsubscribe | bounce | spam_report | manual
    Column("detail", Text, nullable=True),
    Column("suppressed_at", UTCDateTime, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    # SendGrid's sg_event_id of every event applied: seen once, applied once (0005).
    Column("sg_event_id", String(255), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_webhook_events_received_at", "received_at"),
)

inbox_messages = Table(
    "inbox_messages",
    metadata,
    # Each message of the inbound mailbox read once (0011): `mailbox` names the mailbox
    # (an IMAP folder with its UIDVALIDITY, or a Maildir/mbox path), `key` the message in
    # it (its UID, or its Message-ID), `outcome` what it was (bounce, reply, unparsed ...).
    Column("mailbox", String(300), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
)

signatures = Table(
    "signatures",
    metadata,
    # Sign-on signatures collected by `capitolmail serve`'s /sign/SLUG form (0013).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("letter_slug", String(200), nullable=False),
    Column("organisation", Text, nullable=False),
    # letters.signers.organisation_key: "The A & B" and "a and b" are one organisation.
    Column("organisation_key", String(400), nullable=False),
    Column("signatory", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("state", String(2), nullable=True),  # USPS code; None for a national organisation
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False),
    # pending (unconfirmed) | confirmed | approved | rejected | withdrawn
    Column("status", String(20), nullable=False),
    # The earlier signature of the same organisation this one was merged with, if any.
    Column("merged_into", Integer, nullable=True),
    Column("logo", LargeBinary, nullable=True),  # re-encoded PNG, or sanitised SVG
    Column("logo_type", String(40), nullable=True),
    Column("confirm_job_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_signatures_letter_slug_status", "letter_slug", "status"),
    Index("ix_signatures_letter_slug_organisation_key", "letter_slug", "organisation_key"),
)
