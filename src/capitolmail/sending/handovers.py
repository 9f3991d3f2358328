"""Committing the hand-over marks the providers wait for, as soon as they ask.

A provider calls `request(message_id)` just before its irreversible step (SMTP
DATA, the SendGrid request) and waits for the Future; it is resolved once
`handed_over_at` is committed (outbox/handover.py says why the mark matters).
An SMTP sending thread's connection carries nothing while it waits (the
provider asks a round trip before DATA to hide most of it, smtp_session.py), so
what is left of the wait is paid in throughput.
Hence:

* Group commit. The send loop commits every request waiting as soon as it
  reads them; whoever asks while a commit (or a claim) runs joins the next
  one. No fixed delay to gather requests, yet one UPDATE serves every thread
  that arrived meanwhile. For SendGrid the loop reads them between the turns
  of the provider's event loop, which it runs (provider_calls.py): every
  request that asked in one turn is marked at the next, and the event loop
  never stops for a mark.
* A mark travels alone. A claim or a batch of outcomes riding along made a
  thread waiting at DATA wait for them too (a claim costs several marks); the
  send loop records and claims in a transaction of its own.
* The send loop's thread commits, not a writer thread of its own: measured,
  a third busy thread cost more in GIL hand-offs (and, on SQLite, turns at
  the file's write lock) than the marks it took off the loop.

A request nobody waits for any more (the send ended at MAIL or RCPT; the
provider cancels its Future) is skipped, so a crash never leaves `unknown` a
message that was refused before DATA.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.providers import HandoverRefused


@dataclass(frozen=True, slots=True)
class HandoverRequest:
    """A provider about to take the irreversible step; `future` is resolved once the
    mark is committed, or failed with HandoverRefused."""

    message_id: str
    future: Future[None]


class HandoverMarks:
    """The sender's side of `before_handover`: takes requests, commits their marks.

    `sending(message_id)` says whether that send is still in flight; `refusal()`
    gives a reason to refuse every mark now (the database is gone, the worker was
    presumed dead), or None; `taken(message_id)` is told of a row another worker
    took back, before its provider hears of it. Requests go to `deliver` (the send
    loop's queue, which wakes it), and the loop hands them back to `commit`.
    """

    def __init__(
        self,
        store: Store,
        worker_id: str,
        clock: Callable[[], datetime],
        *,
        sending: Callable[[str], bool],
        refusal: Callable[[], str | None],
        taken: Callable[[str], None],
        deliver: Callable[[HandoverRequest], None],
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.clock = clock
        self.sending = sending
        self.refusal = refusal
        self.taken = taken
        self._deliver = deliver
        self._lock = threading.Lock()
        self._closed = False

    def request(self, message_id: str) -> Future[None]:
        """The provider's `before_handover`: called from sending threads or the loop."""
        future: Future[None] = Future()
        with self._lock:
            if not self._closed:
                self._deliver(HandoverRequest(message_id, future))
                return future
        future.set_exception(HandoverRefused("the worker is stopping"))
        return future

    def close(self) -> None:
        """Refuse every later request; the caller refuses those still in its queue."""
        with self._lock:
            self._closed = True

    def commit(self, requests: list[HandoverRequest]) -> None:
        """Commit the marks of `requests` in one UPDATE, then let each go.

        Raises StoreError after refusing them all: a mark that is not committed
        lets nothing through.
        """
        reason = self.refusal()
        if reason is not None:
            self.refuse(requests, reason)
            return
        # Set running, a Future can no longer be cancelled: what is marked, is awaited.
        live = [r for r in requests if r.future.set_running_or_notify_cancel()]
        ended = [r for r in live if not self.sending(r.message_id)]
        self.refuse(ended, "the send already ended")
        live = [r for r in live if r.future.running()]
        if not live:
            return
        try:
            marked = self.store.mark_handed_over(
                self.worker_id, [r.message_id for r in live], self.clock()
            )
        except StoreError as err:
            self.refuse(live, f"not marked: {err}")
            raise
        for request in live:
            if request.message_id in marked:
                request.future.set_result(None)
            else:
                # Another worker presumed us dead and took the row back: it sends it.
                self.taken(request.message_id)
                request.future.set_exception(
                    HandoverRefused("another worker took this message back")
                )

    @staticmethod
    def refuse(requests: list[HandoverRequest], reason: str) -> None:
        for request in requests:
            future = request.future
            if not future.done() and (future.running() or future.set_running_or_notify_cancel()):
                future.set_exception(HandoverRefused(reason))
