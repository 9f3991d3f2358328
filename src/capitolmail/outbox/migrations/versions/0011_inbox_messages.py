"""Messages of the inbound mailbox already read, so `inbox sync` reads each one once.

An IMAP message is named by its folder, the folder's UIDVALIDITY and its UID (a
server that renumbers a folder changes UIDVALIDITY, and the folder is read
again); a Maildir or mbox message by its Message-ID. The outcome (bounce,
reply, auto_reply, unsubscribe, other, unparsed) is kept for `status`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("mailbox", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_messages")
