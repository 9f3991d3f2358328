"""One pace per provider, shared by every worker of the outbox.

`worker.rate` and the pace a throttling relay or SendGrid forces hold for the
provider as a whole, whichever worker sends: one row per provider keeps the next
free turn (`next_turn`, a token bucket held as a time, as a job's `paced_until`
is) and the adaptive pace learned from throttling replies (per second, the
number of cuts, the step of each raise, the rate it lifts at).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_paces",
        sa.Column("provider", sa.String(40), primary_key=True),
        sa.Column("next_turn", sa.DateTime(timezone=True), nullable=True),
        sa.Column("per_second", sa.Float, nullable=True),
        sa.Column("cut", sa.Integer, nullable=False),
        sa.Column("step", sa.Float, nullable=False),
        sa.Column("lift_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("provider_paces")
