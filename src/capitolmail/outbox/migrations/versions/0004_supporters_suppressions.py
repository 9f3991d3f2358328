"""Supporters (action-alert recipients) and the suppression list.

`supporters.email_key` is the normalised address an import upserts on, so a
re-import updates rows instead of duplicating them; `import_id` marks the import
that last wrote a row, which is how a streaming import recognises a duplicate
within its own file without holding every address in memory. `suppressions` is
keyed by the same `email_key` as `messages.to_email_key`, so one indexed lookup
answers "may this message go?".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "supporters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("postal_code", sa.String(10), nullable=True),
        sa.Column("state", sa.String(2), nullable=True),
        sa.Column("district", sa.Integer(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_at", _datetime(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=True),
        sa.Column("created_at", _datetime(), nullable=False),
        sa.Column("updated_at", _datetime(), nullable=False),
        sa.UniqueConstraint("email_key", name="uq_supporters_email_key"),
    )
    op.create_index("ix_supporters_state_district", "supporters", ["state", "district"])

    op.create_table(
        "suppressions",
        sa.Column("email_key", sa.String(320), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("suppressed_at", _datetime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index("ix_supporters_state_district", table_name="supporters")
    op.drop_table("supporters")
