"""Pausing a job for a provider's settings, kept until the database has the pause.

A provider that cannot be used until its settings are fixed (a key refused with
401, a login refused, an untrusted certificate: ProviderSettingsError) refuses
every message of the job, so the sender pauses the job instead of failing each
one. That pause is a write, and the refusal often comes when the database is
gone too (the same network cut, a failover): it waits here with the outcomes, is
written before them once the database is back (so the message put back is not
claimed again by a job still `sending`), and is in the log if the worker gives
up. A job an operator cancelled meanwhile stays cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from capitolmail.errors import StoreError
from capitolmail.outbox import JobState, Store, connection_lost

log = logging.getLogger("capitolmail.sender")


@dataclass(frozen=True, slots=True)
class _Pause:
    reason: str
    at: datetime


class PendingPauses:
    """The pauses this worker decided on and has not yet written, by job id."""

    def __init__(self) -> None:
        self._waiting: dict[int, _Pause] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def add(self, job_id: int, reason: str, now: datetime) -> None:
        self._waiting.setdefault(job_id, _Pause(reason, now))

    def apply(self, store: Store) -> list[int]:
        """Write every waiting pause; the ids of the jobs now paused.

        A lost connection propagates (the sender rides it out) and keeps the
        pauses not yet written; any other refusal is logged and the pause dropped,
        since trying again would be refused the same way.
        """
        paused: list[int] = []
        for job_id in list(self._waiting):
            pause = self._waiting[job_id]
            try:
                info = store.pause_job(job_id, reason=pause.reason, now=pause.at)
            except StoreError as err:
                if connection_lost(err):
                    raise
                log.error("could not pause job %s (%s): %s", job_id, pause.reason, err)
            else:
                if info.state == JobState.PAUSED:
                    paused.append(job_id)
                    log.error("job %s paused: %s", job_id, pause.reason)
                else:
                    log.warning(
                        "job %s is %s, so it was not paused: %s", job_id, info.state, pause.reason
                    )
            del self._waiting[job_id]
        return paused

    def log_unwritten(self) -> int:
        """Log, for an operator, the pauses a worker giving up could not write."""
        for job_id, pause in self._waiting.items():
            log.error(
                'not recorded: pause of job %s: %s; run "capitolmail pause %s" if it should '
                "not send on",
                job_id,
                pause.reason,
                job_id,
                extra={"job_id": job_id},
            )
        count = len(self._waiting)
        self._waiting.clear()
        return count
