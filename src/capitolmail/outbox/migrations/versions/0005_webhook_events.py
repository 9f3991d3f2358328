"""Provider event ids already applied, so a webhook batch SendGrid retries changes nothing.

SendGrid retries a batch it got no 2xx for over 24 hours, and may deliver an
event more than once besides; `sg_event_id` is unique per event. The index on
`received_at` lets old ids be pruned once no retry can bring them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("sg_event_id", sa.String(255), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
    op.drop_table("webhook_events")
