"""Each worker's `worker.rate`, so the lowest holds for every worker of the outbox.

`worker.rate` is the provider's limit, and the shared pace (0015) holds it across
workers; but each claim brought its own worker's value, so two workers configured
with different rates drained the one bucket at two paces. Each worker now records
its rate when it registers, and every claim keeps to the lowest registered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("rate_per_second", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("rate_per_second")
