"""Jobs remember when their rate lets the next message go (`paced_until`).

Pacing lives in the database, not in a worker, so a job's `--rate` holds however
many workers share it, and no message waits for its turn while claimed (a
claimed message that dies with its worker becomes `unknown`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("paced_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("paced_until")
