"""Drop APScheduler's shared job store table: each worker schedules in memory now.

Every worker used to copy the jobs table into this one table, which APScheduler 3
does not support for several schedulers. A worker now keeps its schedule in
memory, filled from the jobs table (sending/schedule.py), so nothing reads or
writes this table any more. Its rows were only copies: dropping it loses no
schedule. Stop workers of an older version before the upgraded ones open the
database, since they still write it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")


def downgrade() -> None:
    # As 0003 created it; an older worker refills it from the jobs table.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"], unique=False
    )
