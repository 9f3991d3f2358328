"""Who a message beyond Congress is for: the recipients/targets.csv id of its target.

A message to an office keeps its bioguide id; a message to the White House or a
department has none, so `status --messages` and `--json` show this id in its place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("target_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("target_id")
