"""The statements a claim sends (claims.py decides which, and in what order).

Built once: SQLAlchemy caches the compiled forms of those it builds, and the
send path's own are written out per dialect (driver_sql.py). The columns a claim
reads are only those a provider needs: every timestamp column would be parsed
for nothing.
"""

from __future__ import annotations

from collections import namedtuple

from sqlalchemy import String, Text, bindparam, cast, insert, literal, select, type_coerce, update

from capitolmail.outbox.driver_sql import DriverSQL
from capitolmail.outbox.schema import UTCDateTime, events, jobs, messages, workers
from capitolmail.outbox.states import JobState, MessageState

# Built once, as the statements below: claim_due reads the sending jobs at every claim.
SENDING_JOBS = (
    select(jobs.c.id, jobs.c.options, jobs.c.paced_until)
    .where(jobs.c.state == JobState.SENDING.value)
    .order_by(jobs.c.id)
)
# The claim built with SQLAlchemy, for a SQLite library without RETURNING (the usual
# claim is written out below). Built once: SQLAlchemy caches their compiled forms.
# Bound names differ from column names: SQLAlchemy reserves those for SET values.
_CLAIMED_IDS = bindparam("b_ids", expanding=True)
# Only what a provider needs: every timestamp column would be parsed for nothing.
CLAIMED_COLUMNS = (
    messages.c.id,
    messages.c.job_id,
    messages.c.seq,
    messages.c.attempts,
    messages.c.from_email,
    messages.c.from_name,
    messages.c.to_email,
    messages.c.to_name,
    messages.c.subject,
    messages.c.text_body,
    messages.c.html_body,
    messages.c.reply_to,
    # As text where the driver gives text (SQLite): records.py parses each value once.
    type_coerce(messages.c.headers, Text).label("headers"),
    type_coerce(messages.c.categories, Text).label("categories"),
    type_coerce(messages.c.tracking, Text).label("tracking"),
    type_coerce(messages.c.cc, Text).label("cc"),
    type_coerce(messages.c.bcc, Text).label("bcc"),
    type_coerce(messages.c.attachments, Text).label("attachments"),
)
CLAIM_UPDATE = (
    update(messages)
    .where(
        messages.c.id.in_(_CLAIMED_IDS),
        # recover_abandoned treats rows of unregistered workers as abandoned, so a
        # claim by one would be marked `unknown` by the next worker to start: the
        # UPDATE takes no row for one, and _mark_claimed refuses the claim.
        select(workers.c.id).where(workers.c.id == bindparam("b_worker")).exists(),
    )
    .values(
        state=MessageState.SENDING.value,
        attempts=messages.c.attempts + 1,
        claimed_by=bindparam("b_worker", type_=String()),
        claimed_at=bindparam("b_now", type_=UTCDateTime()),
        next_attempt_at=None,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
        # None until the provider reaches its irreversible step (handover.py).
        handed_over_at=bindparam("b_handed", type_=UTCDateTime()),
    )
)
# RETURNING needs SQLite 3.35 (2021); with an older library the rows are read after.
CLAIMED_ROWS = select(*CLAIMED_COLUMNS).where(messages.c.id.in_(_CLAIMED_IDS))
# The `sending` events, from the rows just updated: "attempt N by worker W".
CLAIM_EVENTS = insert(events).from_select(
    ["message_id", "job_id", "at", "kind", "detail"],
    select(
        messages.c.id,
        messages.c.job_id,
        bindparam("b_now", type_=UTCDateTime()),
        literal(MessageState.SENDING.value),
        literal("attempt ")
        + cast(messages.c.attempts, String())
        + literal(" by worker ")
        + bindparam("b_worker", type_=String()),
    )
    .where(messages.c.id.in_(_CLAIMED_IDS))
    .order_by(messages.c.job_id, messages.c.seq),
)


# The claim as every batch runs it, written out (driver_sql.py): the same columns as
# CLAIMED_COLUMNS, the JSON ones as their text (records.py parses each value once).
# SQLite's claim is in steps (pick, SUPPRESSED, CLAIM_WRITTEN, CLAIM_EVENTS_WRITTEN),
# PostgreSQL's one statement a job (CLAIM_IN_JOB); a statement's empty text is the
# database that never runs it.
_CLAIMED_NAMES = [column.name for column in CLAIMED_COLUMNS]
ClaimedRow = namedtuple("ClaimedRow", _CLAIMED_NAMES)  # type: ignore[misc]
# PostgreSQL's driver would parse every JSON value of every row; as text, records.py
# parses each distinct value once (a job's messages share them).
_JSON_COLUMNS = {"headers", "categories", "tracking", "cc", "bcc", "attachments"}
_CLAIM_SET = {
    "sqlite": "SET state = :sending, attempts = attempts + 1, claimed_by = :worker,"
    " claimed_at = :now, next_attempt_at = NULL, updated_at = :now, handed_over_at = :handed",
    "postgresql": "SET state = %(sending)s, attempts = attempts + 1, claimed_by = %(worker)s,"
    " claimed_at = %(now)s, next_attempt_at = NULL, updated_at = %(now)s,"
    " handed_over_at = %(handed)s",
}
CLAIM_WRITTEN = DriverSQL(
    sqlite=f"UPDATE messages {_CLAIM_SET['sqlite']}"
    " WHERE id IN (SELECT value FROM json_each(:ids))"
    " AND EXISTS (SELECT 1 FROM workers WHERE workers.id = :worker)"
    f" RETURNING {', '.join(_CLAIMED_NAMES)}",
    postgresql="",
)
# The `sending` events ("attempt N by worker W"), from the rows just updated.
CLAIM_EVENTS_WRITTEN = DriverSQL(
    sqlite="INSERT INTO events (message_id, job_id, at, kind, detail)"
    " SELECT id, job_id, :now, :sending, 'attempt ' || CAST(attempts AS TEXT) || ' by worker '"
    " || :worker FROM messages WHERE id IN (SELECT value FROM json_each(:ids))"
    " ORDER BY job_id, seq",
    postgresql="",
)


# PostgreSQL's claim of one job in one statement (claims._ClaimedPerJob): the two
# picks of QUEUED_IN_JOB and RETRYING_IN_JOB as locking CTEs, the first `limit` of
# them in seq order flagged when their address is suppressed, the UPDATE ...
# RETURNING and the events of the rows it moved. The suppression list is probed by
# primary key per picked row (LATERAL): as an EXISTS, PostgreSQL hashed the whole
# list at every claim (0.5 ms at 5,000 addresses). Every picked row comes back, its
# claimed columns NULL when it was not claimed: suppressed (blocked), or the worker
# is not registered.
_RETURNED = ", ".join(
    f"messages.{name}::text AS {name}" if name in _JSON_COLUMNS else f"messages.{name}"
    for name in _CLAIMED_NAMES
)
# The claimed columns as the final SELECT gives them: the bodies from message_bodies
# where the message has a row there, else from its own row (queued before 0018).
_CLAIMED_OUT = ", ".join(
    f"CASE WHEN message_bodies.message_id IS NULL THEN claimed.{name}"
    f" ELSE message_bodies.{name} END AS {name}"
    if name in ("text_body", "html_body")
    else f"claimed.{name}"
    for name in _CLAIMED_NAMES
)
CLAIM_IN_JOB = DriverSQL(
    sqlite="",  # SQLite claims in steps (_PickedThenClaimed)
    postgresql="WITH queued AS (SELECT id, seq, to_email_key FROM messages"
    f" WHERE job_id = %(job)s AND state = '{MessageState.QUEUED.value}'"
    " ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
    " retrying AS (SELECT id, seq, to_email_key FROM messages"
    f" WHERE job_id = %(job)s AND state = '{MessageState.RETRY_WAIT.value}'"
    " AND next_attempt_at <= %(now)s ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
    " first AS (SELECT * FROM queued UNION ALL SELECT * FROM retrying"
    " ORDER BY seq LIMIT %(limit)s),"
    " picked AS (SELECT first.id, first.seq, listed.hit IS NOT NULL AS blocked FROM first"
    " LEFT JOIN LATERAL (SELECT 1 AS hit FROM suppressions"
    " WHERE suppressions.email_key = first.to_email_key LIMIT 1) AS listed ON true),"
    f" claimed AS (UPDATE messages {_CLAIM_SET['postgresql']} FROM picked"
    " WHERE messages.id = picked.id AND NOT picked.blocked"
    " AND EXISTS (SELECT 1 FROM workers WHERE workers.id = %(worker)s)"
    f" RETURNING {_RETURNED}),"
    " logged AS (INSERT INTO events (message_id, job_id, at, kind, detail)"
    " SELECT id, job_id, %(now)s, %(sending)s, 'attempt ' || CAST(attempts AS TEXT)"
    " || ' by worker ' || %(worker)s FROM claimed ORDER BY seq)"
    f" SELECT picked.id, picked.blocked, {_CLAIMED_OUT} FROM picked"
    " LEFT JOIN claimed ON claimed.id = picked.id"
    " LEFT JOIN message_bodies ON message_bodies.message_id = claimed.id",
)


SUPPRESSED = DriverSQL(
    sqlite="SELECT messages.id FROM messages JOIN suppressions"
    " ON suppressions.email_key = messages.to_email_key"
    " WHERE messages.id IN (SELECT value FROM json_each(:ids))",
    postgresql="",
)


# SQLite's pick (claims._due_in_job), two queries for every job a claim looks at:
# each is a single index range. The states are literals, not parameters: the
# planners match the retry query's to the partial index's predicate (as in
# CLAIM_IN_JOB's picks).
QUEUED_IN_JOB = DriverSQL(
    sqlite=f"SELECT id, seq FROM messages WHERE job_id = :job"
    f" AND state = '{MessageState.QUEUED.value}' ORDER BY seq LIMIT :limit",
    postgresql="",
)
RETRYING_IN_JOB = DriverSQL(
    sqlite=f"SELECT id, seq FROM messages WHERE job_id = :job"
    f" AND state = '{MessageState.RETRY_WAIT.value}' AND next_attempt_at <= :now"
    " ORDER BY seq LIMIT :limit",
    postgresql="",
)
