"""Driving the provider: the messages in flight, and the one queue their ends arrive on.

A provider with `submit(message) -> Future[Receipt]` and `run_until(until,
timeout)` (SendGrid's, which keeps every request on one asyncio loop) gets the
messages through `submit` instead of a thread each, and the send loop's thread
runs the provider's loop whenever it waits for sends to finish: at hundreds of
requests in flight a thread per request cost more of the process's one core (the
GIL) than claiming, building and recording together, and a loop in a thread of
its own kept taking the GIL from the store's transactions (providers/event_loop.py).
Other providers get a pool thread per send, running the provider call and nothing
else. Either way a finished send lands in `done`, as do the providers' requests
to mark a message handed over (handovers.py), and only the send loop reads it.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from capitolmail.message import OutgoingMessage
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
    """The sends in flight at `provider`; `sending_ids` is read by the mark writer."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.in_flight: dict[Future[Receipt], ClaimedMessage] = {}
        # Finished sends and requests to mark a message handed over, put there by
        # whichever thread finished or is about to hand over.
        self.done: queue.SimpleQueue[Future[Receipt] | HandoverRequest] = queue.SimpleQueue()
        self.sending_ids: set[str] = set()
        self._submit: Callable[[OutgoingMessage], Future[Receipt]] | None = getattr(
            provider, "submit", None
        )
        self._run: Callable[[Callable[[], bool], float], None] | None = getattr(
            provider, "run_until", None
        )
        if self._submit is None or self._run is None:
            self._submit = self._run = None

    def __len__(self) -> int:
        return len(self.in_flight)

    def submit(self, pool: ThreadPoolExecutor, claimed: ClaimedMessage) -> None:
        """Start sending `claimed`; what the provider raises is kept in the Future."""
        future: Future[Receipt]
        if self._submit is None:
            future = pool.submit(self.provider.send, claimed.message)
        else:
            try:
                future = self._submit(claimed.message)
            except Exception as err:
                future = Future()
                future.set_exception(err)
        self.in_flight[future] = claimed
        self.sending_ids.add(claimed.message.message_id)
        future.add_done_callback(self.done.put)

    def finished(self, *, block: bool) -> tuple[list[HandoverRequest], list[SendResult]]:
        """Everything in `done` now: hand-over requests and ended sends, in that split.

        With `block`, waits a tick for the first item (running the provider's loop
        meanwhile, if it has one: its requests move only while this thread runs them).
        """
        if not self.in_flight:
            return [], []
        if self._run is not None:
            self._run(lambda: not self.done.empty(), TICK if block else 0.0)
            block = False
        try:
            item = self.done.get(timeout=TICK) if block else self.done.get_nowait()
        except queue.Empty:
            return [], []
        handovers: list[HandoverRequest] = []
        results: list[SendResult] = []
        while True:
            if isinstance(item, HandoverRequest):
                handovers.append(item)
            else:
                claimed = self.in_flight.pop(item)
                self.sending_ids.discard(claimed.message.message_id)
                results.append(_result(claimed, item))
            try:
                item = self.done.get_nowait()
            except queue.Empty:
                return handovers, results

    def let_marks_out(self) -> None:
        """Let the requests just marked be written now, before the loop's next transaction.

        A crash in between would leave `unknown` what never left. Three turns of the
        provider's loop: the Future's callback, the task's wake-up, the write.
        """
        if self._run is not None:
            for _ in range(3):
                self._run(lambda: False, 0.0)

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
