"""`Store`: the outbox's one entry point, one short transaction per method.

Short transactions matter more than usual here: on SQLite a write transaction
holds the whole file, so the sender, `status` and the webhook receiver take
turns; nothing here keeps a transaction open across a network call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import URL, Connection, Engine, text

from capitolmail.message import OutgoingMessage
from capitolmail.outbox import (
    bulk,
    claims,
    handover,
    history,
    jobs,
    pace_notes,
    supporters,
    suppressions,
    workers,
)
from capitolmail.outbox.database import (
    create_store_engine,
    display_url,
    migrate,
    parse_url,
    storage_errors,
    transaction,
)
from capitolmail.outbox.deliveries import DeliveryLedger
from capitolmail.outbox.events import list_events
from capitolmail.outbox.outcomes import record_outcomes
from capitolmail.outbox.pace_notes import PaceNote
from capitolmail.outbox.records import (
    ClaimedMessage,
    EventInfo,
    JobInfo,
    MessageInfo,
    Outcome,
    QueuedMessage,
    StartedJobs,
    email_key,
)
from capitolmail.outbox.states import MessageState
from capitolmail.outbox.supporters import SupporterInfo, SupporterRecord, UpsertCounts
from capitolmail.outbox.suppressions import Suppression, SuppressionReason


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(UTC)), got {value}")
    return value


class Store:
    """The outbox database. Safe to share between threads; open one per process.

    Methods raise StoreError when the database fails, JobNotFound or
    MessageNotFound for an id that is not there, CapitolmailError when a job's
    state forbids the request, and ValueError for arguments no user could type.
    """

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, and create or upgrade the schema if it is not at the newest revision."""
        parsed = parse_url(url)
        with storage_errors(parsed, "open the outbox database"):
            engine = create_store_engine(parsed)
            try:
                migrate(engine)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine, parsed)

    @property
    def engine(self) -> Engine:
        """For APScheduler's job store, which keeps its table in the same database."""
        return self._engine

    @property
    def url_for_display(self) -> str:
        return display_url(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.url_for_display}>"

    # -- queue ---------------------------------------------------------------------------

    def create_job(
        self, *, letter_slug: str, kind: str, messages: Iterable[QueuedMessage], now: datetime
    ) -> int:
        """Store a draft job and all its messages, `queued`, in one transaction.

        `messages` may be a generator that renders as it goes: it is consumed in
        batches inside the transaction, and anything it raises stores nothing.
        `seq` is the position in `messages` (from 0); a message with `suppressed`
        set is stored `suppressed`. Each message's `job_id` is ignored: the job
        does not exist until now.
        """
        _aware("now", now)
        with storage_errors(self._url, "queue the job"), transaction(self._engine) as conn:
            return bulk.create_job(
                conn, letter_slug=letter_slug, kind=kind, queued=messages, now=now
            )

    def reached_recipients(self, letter_slug: str, emails: Iterable[str]) -> set[str]:
        """Which of `emails` (as `email_key` spells them) may already have this letter."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.reached_recipients(conn, letter_slug, emails)

    def earlier_messages(
        self, wanted: Iterable[tuple[str, str]], *, since: datetime
    ) -> list[history.EarlierMessage]:
        """Who already had the same content: `wanted` is (email_key, content_hash) pairs."""
        _aware("since", since)
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return history.earlier_messages(conn, wanted, since=since)

    def get_job(self, job_id: int) -> JobInfo:
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.get_job(conn, job_id)

    def list_jobs(self) -> list[JobInfo]:
        """Newest first."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.list_jobs(conn)

    def list_messages(
        self, job_id: int, *, states: Iterable[str] | None = None
    ) -> list[MessageInfo]:
        """In `seq` order; a state that is not a MessageState value is a ValueError."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.list_messages(conn, job_id, states)

    def list_events(self, job_id: int, *, message_id: str | None = None) -> list[EventInfo]:
        """Oldest first."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return list_events(conn, job_id, message_id)

    def get_message(self, message_id: str) -> OutgoingMessage:
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.get_message(conn, message_id)

    def failure_summary(self, job_id: int) -> list[tuple[str, int]]:
        """Why a job's failed, unknown and retry_wait messages did not get through:
        (last error, how many), most frequent first; "(no error recorded)" for none.

        One grouped query, so `status` can show it for a 300,000-message job.
        """
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.failure_summary(conn, job_id)

    # -- operator decisions --------------------------------------------------------------

    def schedule_job(self, job_id: int, at: datetime, now: datetime) -> JobInfo:
        """Send from `at` on; refused once the job is sending, done or cancelled."""
        _aware("at", at)
        _aware("now", now)
        with storage_errors(self._url, "schedule the job"), transaction(self._engine) as conn:
            jobs.schedule_job(conn, job_id, at, now)
            return jobs.get_job(conn, job_id)

    def start_due_jobs(
        self, now: datetime, *, grace: timedelta, job_id: int | None = None
    ) -> StartedJobs:
        """Start scheduled jobs whose time has come (only `job_id`, if given); a job
        found more than `grace` after its time becomes `missed` instead."""
        _aware("now", now)
        with storage_errors(self._url, "start scheduled jobs"), transaction(self._engine) as conn:
            return jobs.start_due_jobs(conn, now, grace, job_id)

    def scheduled_jobs(self) -> dict[int, datetime]:
        """Job id -> scheduled time, for every job in `scheduled`."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return jobs.scheduled_jobs(conn)

    def set_job_options(self, job_id: int, **options: Any) -> JobInfo:
        """Merge settings into the job's options: "rate" ("120/min"), later "window".

        A None value removes the option. Values must be JSON; the store does not
        parse them (the edge already did, and the sender reads them back), so any
        key is kept, and a job in any state may change them, also while sending:
        a running sender picks up the change with its next claim.
        """
        with storage_errors(self._url, "set the job's options"), transaction(self._engine) as conn:
            jobs.set_job_options(conn, job_id, options)
            return jobs.get_job(conn, job_id)

    def pause_job(self, job_id: int, reason: str, now: datetime) -> JobInfo:
        """Stop new claims; messages already `sending` still get their outcome.

        A cancelled, done or missed job is left as it is (it sends nothing more
        anyway): the returned JobInfo shows which happened.
        """
        _aware("now", now)
        with storage_errors(self._url, "pause the job"), transaction(self._engine) as conn:
            jobs.pause_job(conn, job_id, reason, now)
            return jobs.get_job(conn, job_id)

    def resume_job(self, job_id: int, now: datetime) -> JobInfo:
        """Back to `sending` if it had started, else to `scheduled` for its time.

        A job already scheduled or sending is left as it is; any other state is refused.
        """
        _aware("now", now)
        with storage_errors(self._url, "resume the job"), transaction(self._engine) as conn:
            jobs.resume_job(conn, job_id, now)
            return jobs.get_job(conn, job_id)

    def cancel_job(self, job_id: int, now: datetime) -> JobInfo:
        """Cancel queued and retry_wait messages; `sending` ones keep their outcome.

        Cancelling a cancelled job changes nothing; a done job is refused.
        """
        _aware("now", now)
        with storage_errors(self._url, "cancel the job"), transaction(self._engine) as conn:
            jobs.cancel_job(conn, job_id, now)
            return jobs.get_job(conn, job_id)

    def requeue(self, job_id: int, states: Iterable[str], now: datetime) -> int:
        """Send `unknown` and/or `failed` messages again: an operator's decision.

        Attempts are kept; the last error moves to the event log. A done job goes
        back to `sending`, so its messages are due at once.
        """
        _aware("now", now)
        with storage_errors(self._url, "requeue messages"), transaction(self._engine) as conn:
            return jobs.requeue(conn, job_id, states, now)

    # -- workers and sending -------------------------------------------------------------

    def register_worker(self, worker_id: str, host: str, pid: int, now: datetime) -> None:
        _aware("now", now)
        with storage_errors(self._url, "register the worker"), transaction(self._engine) as conn:
            workers.register_worker(conn, worker_id, host, pid, now)

    def heartbeat(self, worker_id: str, now: datetime) -> bool:
        """False when the worker's row is gone: recover_abandoned declared it dead,
        its `sending` rows are `unknown` now, and it must stop sending."""
        _aware("now", now)
        with storage_errors(self._url, "record the heartbeat"), transaction(self._engine) as conn:
            return workers.heartbeat(conn, worker_id, now)

    def remove_worker(self, worker_id: str) -> None:
        with storage_errors(self._url, "remove the worker"), transaction(self._engine) as conn:
            workers.remove_worker(conn, worker_id)

    def recover_abandoned(
        self,
        now: datetime,
        *,
        is_alive: Callable[[str, int], bool],
        stale_after: timedelta,
    ) -> workers.Recovered:
        """Recover the `sending` rows of workers that are gone: `unknown` where they had
        been handed over (`handed_over_at`), else back to `queued`; returns how many each.

        A worker is gone when it has no row, `is_alive(host, pid)` is False, or its
        heartbeat is older than `stale_after`; its row is deleted. `is_alive` runs
        inside the write transaction, so it must be quick (`os.kill(pid, 0)`), and
        for another host it can only answer True and leave it to the heartbeat.
        """
        _aware("now", now)
        with (
            storage_errors(self._url, "recover abandoned messages"),
            transaction(self._engine) as conn,
        ):
            return workers.recover_abandoned(conn, now, is_alive=is_alive, stale_after=stale_after)

    def next_paced_turn(self, now: datetime) -> datetime | None:
        """When a rate-limited job may next hand out a queued message (None: none waits)."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return claims.next_paced_turn(conn, _aware("now", now))

    def claim_due(
        self, worker_id: str, limit: int, now: datetime, *, handed_over: bool = True
    ) -> list[ClaimedMessage]:
        """Move up to `limit` due messages to `sending` and commit before any is handed over.

        Committing first is what makes a crash safe: a row still `sending` at start-up
        may have been delivered, so it becomes `unknown` and is never resent without
        an operator. Due: `queued`, or `retry_wait` whose time has come, in a job that
        is sending (`start_due_jobs` started it) and inside its send window; in job
        then seq order. The worker must be registered.

        With `handed_over=False` the claimed rows are not yet marked handed over: the
        caller marks each with `mark_handed_over` just before the transport's
        irreversible step, so one that never got there can go back to `queued`.
        """
        _aware("now", now)
        with storage_errors(self._url, "claim messages"), transaction(self._engine) as conn:
            return claims.claim_due(conn, worker_id, limit, now, handed_over=handed_over)

    def mark_handed_over(
        self, worker_id: str, message_ids: Sequence[str], now: datetime
    ) -> set[str]:
        """Commit `handed_over_at` for the ids this worker still holds in `sending`; those ids.

        The commit must come before the provider's irreversible step (SMTP DATA, the
        SendGrid request): an id not returned must not be handed over at all. The
        transaction holds the mark alone: a thread is waiting for it at the brink.
        """
        _aware("now", now)
        with (
            storage_errors(self._url, "mark messages handed over"),
            transaction(self._engine) as conn,
        ):
            return handover.mark_handed_over(conn, worker_id, message_ids, now)

    def record_and_claim(
        self,
        worker_id: str,
        outcomes: Sequence[Outcome],
        claim: int,
        now: datetime,
        *,
        handed_over: bool = False,
    ) -> list[ClaimedMessage]:
        """`record_outcomes`, then `claim_due(worker_id, claim, ...)`, in one transaction.

        A busy sender records a batch of outcomes just as the threads that sent them
        are free for more; on SQLite a transaction costs more CPU than the statements
        in it, so one commit for both keeps the throughput. One refused outcome
        rolls back the claim too.
        """
        _aware("now", now)
        with (
            storage_errors(self._url, "record outcomes and claim messages"),
            transaction(self._engine) as conn,
        ):
            if outcomes:
                record_outcomes(conn, outcomes, now)
            return claims.claim_due(conn, worker_id, claim, now, handed_over=handed_over)

    def record_outcomes(self, outcomes: Sequence[Outcome], now: datetime) -> list[MessageState]:
        """Record a batch of outcomes in one transaction; each one's new state, in order.

        Only a message in `sending` takes an outcome. Any other state (or an unknown
        id, or one id twice) raises and rolls back the whole batch, since it means
        the caller's view of its claims is wrong and nothing in it can be trusted.
        A retry whose job was cancelled meanwhile becomes `cancelled`: it would
        never be claimed again. A retry with `count_attempt=False` takes back the
        attempt its claim counted.
        """
        _aware("now", now)
        with storage_errors(self._url, "record the outcomes"), transaction(self._engine) as conn:
            return record_outcomes(conn, outcomes, now)

    def mark_sent(self, message_id: str, *, provider_message_id: str | None, now: datetime) -> None:
        self.record_outcomes(
            [Outcome(message_id, "sent", provider_message_id=provider_message_id)], now
        )

    def mark_retry(
        self,
        message_id: str,
        *,
        error: str,
        next_attempt_at: datetime,
        now: datetime,
        count_attempt: bool = True,
    ) -> MessageState:
        """`retry_wait` until `next_attempt_at`, or `cancelled` if the job was cancelled."""
        outcome = Outcome(
            message_id,
            "retry",
            error=error,
            next_attempt_at=next_attempt_at,
            count_attempt=count_attempt,
        )
        (state,) = self.record_outcomes([outcome], now)
        return state

    def mark_failed(self, message_id: str, *, error: str, now: datetime) -> None:
        self.record_outcomes([Outcome(message_id, "failed", error=error)], now)

    def finish_jobs(self, now: datetime) -> list[int]:
        """Mark `done` the sending jobs with no queued, sending or retry_wait message."""
        _aware("now", now)
        with storage_errors(self._url, "finish jobs"), transaction(self._engine) as conn:
            return jobs.finish_jobs(conn, now)

    def note_pace(self, per_second: float | None, now: datetime) -> int:
        """Note on every sending job the pace a throttling provider forced (None: lifted)."""
        _aware("now", now)
        with storage_errors(self._url, "note the pace"), transaction(self._engine) as conn:
            return pace_notes.note_pace(conn, per_second, now)

    def current_paces(self, job_ids: Iterable[int]) -> dict[int, PaceNote]:
        """The throttled pace noted for each of `job_ids` that has one in force."""
        with storage_errors(self._url, "read the outbox"), self._read() as conn:
            return pace_notes.current_paces(conn, job_ids)

    # -- supporters and suppression ------------------------------------------------------

    def upsert_supporters(
        self, records: Sequence[SupporterRecord], *, import_id: str, now: datetime
    ) -> UpsertCounts:
        """Write one batch of an import in one transaction, upserting by `email_key`.

        Rows of earlier imports are replaced; a row this `import_id` already wrote
        is merged into (later values win, tags are unioned), so a streaming import
        merges duplicates across batches without remembering every address.
        """
        _aware("now", now)
        with storage_errors(self._url, "import supporters"), transaction(self._engine) as conn:
            return supporters.upsert_supporters(conn, records, import_id, now)

    def list_supporters(self, *, limit: int | None = None) -> list[SupporterInfo]:
        """In the order they were first imported."""
        with storage_errors(self._url, "read the supporters"), self._read() as conn:
            return supporters.list_supporters(conn, limit)

    def iter_supporters(
        self, *, consenting_only: bool = True, page_size: int = 5000
    ) -> Iterator[list[SupporterInfo]]:
        """Every supporter in id order, a page at a time, each page its own short read.

        Safe to run while this process holds a write transaction elsewhere (queueing
        an alert reads supporters while it writes messages): SQLite in WAL mode and
        PostgreSQL both let a reader see the last committed state meanwhile.
        """
        after = 0
        while True:
            with storage_errors(self._url, "read the supporters"), self._read() as conn:
                page = supporters.supporter_page(
                    conn, after_id=after, limit=page_size, consenting_only=consenting_only
                )
            if not page:
                return
            yield page
            after = page[-1].id

    def count_supporters(self) -> int:
        with storage_errors(self._url, "read the supporters"), self._read() as conn:
            return supporters.count_supporters(conn)

    def add_suppressions(self, entries: Iterable[Suppression]) -> int:
        """Suppress addresses; an address already there keeps one row with the new
        reason, detail and time. Returns the number of distinct addresses written."""
        entries = list(entries)
        for entry in entries:
            _aware("at", entry.at)
        with storage_errors(self._url, "suppress addresses"), transaction(self._engine) as conn:
            return suppressions.add_suppressions(conn, entries)

    def add_suppression(
        self, email: str, reason: str, *, at: datetime, detail: str | None = None
    ) -> None:
        """One address; `reason` is a SuppressionReason value (ValueError otherwise)."""
        self.add_suppressions([Suppression(email, SuppressionReason(reason), at, detail)])

    def remove_suppression(self, email: str) -> bool:
        """False when the address was not suppressed."""
        with storage_errors(self._url, "remove the suppression"), transaction(self._engine) as conn:
            return suppressions.remove_suppression(conn, email)

    def list_suppressions(self) -> list[Suppression]:
        """Sorted by address."""
        with storage_errors(self._url, "read the suppression list"), self._read() as conn:
            return suppressions.list_suppressions(conn)

    def suppressed_among(self, emails: Iterable[str]) -> set[str]:
        """Which of `emails` are suppressed, as `email_key` spells them."""
        with storage_errors(self._url, "read the suppression list"), self._read() as conn:
            return suppressions.suppressed_among(conn, emails)

    def list_name(self, address: str, list_id: str) -> str | None:
        """The list's name as `address` saw it in the List-Id of a message it was sent."""
        with storage_errors(self._url, "read the messages"), self._read() as conn:
            return history.list_name(conn, email_key(address), list_id)

    def supporter_email(self, supporter_id: int) -> str | None:
        """The address of supporter `supporter_id`, or None when there is no such supporter."""
        with storage_errors(self._url, "read the supporters"), self._read() as conn:
            return supporters.supporter_email(conn, supporter_id)

    # -- provider events and health ------------------------------------------------------

    @contextmanager
    def record_deliveries(self, now: datetime) -> Iterator[DeliveryLedger]:
        """One transaction for one batch of provider events (`tracking/apply.py` has
        the rules): everything the batch changes commits together or not at all."""
        _aware("now", now)
        with storage_errors(self._url, "record delivery events"), transaction(self._engine) as conn:
            yield DeliveryLedger(conn, now)

    def ping(self) -> None:
        """One trivial query, for a health check; StoreError when the database is down."""
        with storage_errors(self._url, "reach the database"), self._read() as conn:
            conn.execute(text("SELECT 1")).scalar_one()

    def _read(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, read_only=True)
