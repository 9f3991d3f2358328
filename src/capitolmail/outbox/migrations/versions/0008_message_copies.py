"""A message's Cc and Bcc addresses, from its letter's letter.toml.

Stored with the message like its headers, so the worker sends exactly the copies
that were queued, whatever letter.toml says by then. Rows from before have none
(NULL reads as no copies).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("cc", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("bcc", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("bcc")
        batch.drop_column("cc")
