"""Initial outbox schema: jobs, messages, events, workers.

Written by hand and frozen: later changes go in new revisions, never here, because
databases already at 0001 will not run it again. Datetimes are `DateTime(timezone=True)`
(timestamptz on PostgreSQL, text on SQLite); the UTC handling lives in schema.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("letter_slug", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("scheduled_at", _datetime(), nullable=True),
        sa.Column("started_at", _datetime(), nullable=True),
        sa.Column("finished_at", _datetime(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index("ix_jobs_letter_slug", "jobs", ["letter_slug"])

    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("to_email_key", sa.String(320), nullable=False),
        sa.Column("to_name", sa.Text(), nullable=False),
        sa.Column("from_email", sa.String(320), nullable=False),
        sa.Column("from_name", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("bioguide", sa.String(20), nullable=True),
        sa.Column("contact_role", sa.String(100), nullable=True),
        sa.Column("supporter_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _datetime(), nullable=True),
        sa.Column("provider_message_id", sa.String(255), nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", _datetime(), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("updated_at", _datetime(), nullable=False),
        sa.Column("sent_at", _datetime(), nullable=True),
        sa.UniqueConstraint("job_id", "seq", name="uq_messages_job_id_seq"),
    )
    op.create_index("ix_messages_job_id_state_seq", "messages", ["job_id", "state", "seq"])
    op.create_index("ix_messages_state_next_attempt_at", "messages", ["state", "next_attempt_at"])
    op.create_index("ix_messages_to_email_key", "messages", ["to_email_key"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("at", _datetime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_events_job_id", "events", ["job_id"])
    op.create_index("ix_events_message_id", "events", ["message_id"])

    op.create_table(
        "workers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _datetime(), nullable=False),
        sa.Column("heartbeat_at", _datetime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_table("events")
    op.drop_table("messages")
    op.drop_table("jobs")
