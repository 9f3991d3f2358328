"""Two facts a message row did not keep: when its transport's irreversible step began,
and a fingerprint of what it says.

`handed_over_at` is set, and committed, just before the step after which the
recipient may have the message (SMTP: DATA; SendGrid: the request is written). A
worker that dies with a claimed row that has no `handed_over_at` never got that far,
so the row can go back to `queued`; one that has it becomes `unknown`.

`content_hash` is a digest of the normalised subject and bodies, so that a copy of a
letter queued under a new slug is recognised as the same letter to the same office.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch.create_index("ix_messages_content_hash", ["content_hash"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_content_hash")
        batch.drop_column("content_hash")
        batch.drop_column("handed_over_at")
