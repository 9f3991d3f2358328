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
(handovers.py), and only the send loop reads it.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future
from dataclasses import dataclass

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

    def finished(self, *, block: bool) -> tuple[list[HandoverRequest], list[SendResult]]:
        """Everything in `done` now: hand-over requests and ended sends, in that split.

        With `block`, waits a tick for the first item (running the provider's loop
        meanwhile, if it has one: its requests move only while this thread runs them).
        """
        if not self.in_flight:
            return [], []
        if self.provider.pump(lambda: not self.done.empty(), TICK if block else 0.0):
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
        provider's loop: the Future's callback, the task's wake-up, the write
        (nothing to do for a thread-driven provider: its threads woke already).
        """
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
