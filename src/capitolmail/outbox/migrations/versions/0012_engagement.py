"""What engagement tracking needs: each message's tracking settings, each click's link.

`messages.tracking` holds `{"opens": bool, "clicks": bool}` as the letter asked at
queue time, so what the provider is told is frozen with the rest of the message;
rows from before this revision have NULL, which means no tracking. `events.url` is
the link a click event names, cut and without its query string, so clicks can be
counted per link without parsing the event's detail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("tracking", sa.JSON(), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("url", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("url")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("tracking")
