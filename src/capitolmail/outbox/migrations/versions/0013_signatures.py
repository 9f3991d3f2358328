"""Sign-on signatures: organisations that signed a joint letter through the web form.

One row per submission. A second submission for an organisation the letter already has
(by the signers normaliser) is kept, with `merged_into` naming the first, so staff see
both and the letter names the organisation once. `status` moves pending (the contact
has not clicked the confirmation link) → confirmed → approved | rejected, or withdrawn.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("letter_slug", sa.String(200), nullable=False),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("organisation_key", sa.String(400), nullable=False),
        sa.Column("signatory", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("state", sa.String(2), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("merged_into", sa.Integer, nullable=True),
        sa.Column("logo", sa.LargeBinary, nullable=True),
        sa.Column("logo_type", sa.String(40), nullable=True),
        sa.Column("confirm_job_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_signatures_letter_slug_status", "signatures", ["letter_slug", "status"])
    op.create_index(
        "ix_signatures_letter_slug_organisation_key",
        "signatures",
        ["letter_slug", "organisation_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_signatures_letter_slug_organisation_key", table_name="signatures")
    op.drop_index("ix_signatures_letter_slug_status", table_name="signatures")
    op.drop_table("signatures")
