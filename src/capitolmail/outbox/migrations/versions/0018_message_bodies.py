"""A message's text and HTML in a table of their own, apart from its row.

The send path writes a message's row three times (the claim, the hand-over mark,
the outcome), and SQLite rewrites the whole row each time: with a letter's bodies
in it, a row filled most of a 4 KB page, so every write of a batch was a page of
its own. With them apart, a batch's rows share a few pages (benchmarks/README.md
has the figures). Messages queued before this migration keep their bodies in their
row, which every reader takes when the message has no row here (outbox/bodies.py):
nothing is copied, so upgrading a large outbox takes no time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_bodies",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    # The bodies back into their rows first, where an earlier version reads them.
    for column in ("text_body", "html_body"):
        op.execute(
            f"UPDATE messages SET {column} = (SELECT message_bodies.{column}"
            " FROM message_bodies WHERE message_bodies.message_id = messages.id)"
            " WHERE id IN (SELECT message_id FROM message_bodies)"
        )
    op.drop_table("message_bodies")
