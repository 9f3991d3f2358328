"""Driving the provider: the messages in flight, and the one queue their ends arrive on.

Every provider is driven one way (providers/base.py): `submit` hands it a message
and gives back a Future, and whenever the send loop waits for sends to finish it
calls the provider's `pump` first. SendGrid's requests share one asyncio loop that
runs only there, in this thread: at hundreds of requests in flight a thread per
request cost more of the process's one core (the GIL) than claiming, building and
recording together, and a loop in a thread of its own kept taking the GIL from the
store's transactions (providers/event_loop.py). SMTP has a sending thread per
connection, and file and console a pool thread per send; for them `pump` returns
at once and the loop waits on the queue. Either way a finished send lands in
`done`, as do the providers' requests to mark a message handed over
(handovers.py), and only the send loop's thread reads it: for SendGrid between
the turns of the provider's loop, so the marks asked in a turn are committed
without the loop stopping, and it stops only once enough sends ended to claim
again.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from capitolmail.errors import StoreError
from capitolmail.outbox import ClaimedMessage
from capitolmail.providers import Provider, Receipt
from capitolmail.sending.handovers import HandoverMarks, HandoverRequest

# How long the loop waits for a send to finish before looking again.
TICK = 0.05


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a send handed back: the receipt id or the error it raised."""

    claimed: ClaimedMessage
    provider_message_id: str | None = None
    error: BaseException | None = None


def _result(claimed: ClaimedMessage, future: Future[Receipt]) -> SendResult:
    try:
        receipt = future.result()
    except BaseException as err:  # a cancelled send too: verdicts.py classifies it
        return SendResult(claimed, error=err)
    return SendResult(claimed, provider_message_id=receipt.provider_message_id)


class ProviderCalls:
    """The sends in flight at `provider`; `sending_ids` is read by the mark writer.

    `commit_marks` commits the hand-over marks of the requests it is given (or
    refuses them) and raises StoreError when the database is gone
    (HandoverMarks.commit).
    """

    def __init__(
        self, provider: Provider, commit_marks: Callable[[list[HandoverRequest]], None]
    ) -> None:
        self.provider = provider
        self.commit_marks = commit_marks
        self.in_flight: dict[Future[Receipt], ClaimedMessage] = {}
        # Finished sends and requests to mark a message handed over, put there by
        # whichever thread finished or is about to hand over.
        self.done: queue.SimpleQueue[Future[Receipt] | HandoverRequest] = queue.SimpleQueue()
        self.sending_ids: set[str] = set()
        # Ended sends read off `done`, not yet handed to the loop by `finished`.
        self._ended: list[SendResult] = []
        self._marked = False  # marks committed since the last `let_marks_out`

    def __len__(self) -> int:
        return len(self.in_flight)

    def submit(self, claimed: ClaimedMessage) -> None:
        """Start sending `claimed`; what the provider raises is kept in the Future."""
        future: Future[Receipt]
        try:
            future = self.provider.submit(claimed.message)
        except Exception as err:
            future = Future()
            future.set_exception(err)
        self.in_flight[future] = claimed
        self.sending_ids.add(claimed.message.message_id)
        future.add_done_callback(self.done.put)

    def finished(
        self, *, block: bool, enough: int = 1
    ) -> tuple[list[SendResult], StoreError | None]:
        """The sends that ended, with the StoreError of a mark commit that failed.

        Every hand-over request met on the way is committed at once. A provider with
        an event loop of its own runs it here until `enough` sends ended (the loop has
        no use for fewer: it claims in batches) or a tick passed, with the requests'
        marks committed between its turns, so the requests go on without the loop
        stopping for them. Otherwise, with `block`, this waits a tick for the first
        item. A failed commit is handed back, not raised, beside what ended before it:
        the loop keeps those outcomes (and their rows) before it rides out the outage.
        """
        failure: StoreError | None = None
        try:
            if self.in_flight and self.provider.pump(
                lambda: self._serve() >= enough, TICK if block else 0.0
            ):
                self._serve()  # what came in the last turn
                if self._marked:
                    self.let_marks_out()
            else:
                self._serve(self._first(block))
        except StoreError as err:
            failure = err
        ended, self._ended = self._ended, []
        return ended, failure

    def _first(self, block: bool) -> Future[Receipt] | HandoverRequest | None:
        if not (block and self.in_flight):
            return None
        try:
            return self.done.get(timeout=TICK)
        except queue.Empty:
            return None

    def _serve(self, first: Future[Receipt] | HandoverRequest | None = None) -> int:
        """Read `done`: ended sends are kept for `finished`, and the hand-over requests
        committed in one go; how many ended sends are kept. Raises StoreError."""
        asks: list[HandoverRequest] = []
        item = first
        while True:
            if item is None:
                try:
                    item = self.done.get_nowait()
                except queue.Empty:
                    break
            if isinstance(item, HandoverRequest):
                asks.append(item)
            else:
                claimed = self.in_flight.pop(item)
                self.sending_ids.discard(claimed.message.message_id)
                self._ended.append(_result(claimed, item))
            item = None
        # After the ends: a request whose send ended meanwhile is refused, not marked.
        if asks:
            self._marked = True
            self.commit_marks(asks)
        return len(self._ended)

    def let_marks_out(self) -> None:
        """Let the requests just marked be written now, before the loop's next transaction.

        A crash in between would leave `unknown` what never left. Three turns of the
        provider's loop: the Future's callback, the task's wake-up, the write
        (nothing to do for a thread-driven provider: its threads woke already).
        Requests asked meanwhile wait in `done` for the next `finished`.
        """
        self._marked = False
        for _ in range(3):
            if not self.provider.pump(lambda: False, 0.0):
                return

    def close(self, marks: HandoverMarks) -> None:
        """Refuse the hand-over requests still waiting; forget the sends that ended."""
        while True:
            try:
                item = self.done.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, HandoverRequest):
                marks.refuse([item], "the worker is stopping")
            else:
                self.in_flight.pop(item, None)
