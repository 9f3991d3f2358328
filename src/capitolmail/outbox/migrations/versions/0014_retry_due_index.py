"""An index for the claim's second query: a job's retries that are due now.

`claims._due_in_job` asks for one job's `retry_wait` rows whose `next_attempt_at`
has passed. The indexes before this one could answer it only by reading rows the
answer does not need: (state, next_attempt_at) reads every due retry of every job
and drops the other jobs' (benchmarks/workers.py at 1,000,000 queued rows, with a
paused job holding 20,000 due retries: 40 ms and 20,000 rows read for each claim);
(job_id, state, seq) reads every retry of the job, due or not.

Partial (`WHERE state = 'retry_wait'`): only the rows waiting for a retry are in it,
so queueing a job and the claims and outcomes of messages that are never retried do
not write to it. The query spells the state as a literal, not a bound parameter, so
that PostgreSQL and SQLite can both prove it matches the index's predicate.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_RETRY_WAIT = sa.text("state = 'retry_wait'")


def upgrade() -> None:
    op.create_index(
        "ix_messages_retry_due",
        "messages",
        ["job_id", "next_attempt_at"],
        postgresql_where=_RETRY_WAIT,
        sqlite_where=_RETRY_WAIT,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_retry_due", table_name="messages")
