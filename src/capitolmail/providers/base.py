"""The provider seam: hand one frozen message to a transport, get one receipt back.

Providers classify failures (transient, permanent, auth) and the sender decides
what to do about them; a provider never retries, sleeps or touches the store.

The one thing a provider tells the sender along the way is that it is about to
take the irreversible step (SMTP: the DATA command; SendGrid: writing the
request; file: writing the file): it calls `before_handover(message_id)`, which
the sender set, and waits for the Future it returns. The sender resolves it once
it has committed the message's `handed_over_at`, so a worker that dies before
then left a row that provably never reached the transport and may go back to
`queued`; one that dies after leaves `unknown`. A Future failed with
`HandoverRefused` means the message must not be handed over at all.

The sender drives every provider one way (sending/provider_calls.py):

* `capacity(concurrency)`, once, after `open()`: how many messages to keep in
  flight, given the worker's `concurrency`. More than the transport carries at
  once keeps it busy while the send loop claims and records: a message claimed
  but never handed over goes back to `queued` if the worker dies, so claiming
  ahead widens nothing a crash leaves `unknown`.
* `submit(message)`: start sending, from the send loop's thread, and get a
  Future of the Receipt (or of the error `send` would raise) at once.
* `pump(until, timeout)`: called while the loop waits for a Future. A provider
  whose requests run on an event loop of its own runs it here, in the sender's
  thread, and says so (True); a thread-driven provider returns False at once.
  `until` runs in that thread between the loop's turns and may do the sender's
  work there (it commits the hand-over marks asked in the turn); what it raises
  is raised from `pump`.

`ProviderBase` gives thread-driven defaults: `submit` runs `send` on a pool of
`concurrency` threads. SMTP has a sending thread per connection; SendGrid's
requests share one asyncio loop, pumped by the sender.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar, Protocol, Self

from capitolmail.message import OutgoingMessage


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the transport said it accepted: SMTP queue id, ESP message id, or a file path."""

    provider_message_id: str | None


@dataclass(frozen=True, slots=True)
class SizeLimit:
    """The largest message a transport takes, who says so, and how it measures one."""

    max_bytes: int
    owner: str
    measure: Callable[[OutgoingMessage], int]


# Set by the sender; the provider calls it with our message id and waits for the Future.
BeforeHandover = Callable[[str], "Future[None]"]


class Provider(Protocol):
    name: ClassVar[str]
    before_handover: BeforeHandover | None

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, message: OutgoingMessage) -> Receipt: ...

    def capacity(self, concurrency: int) -> int: ...

    def submit(self, message: OutgoingMessage) -> Future[Receipt]: ...

    def pump(self, until: Callable[[], bool], timeout: float) -> bool: ...

    def max_message_bytes(self) -> int | None: ...

    def message_size(self, message: OutgoingMessage) -> int: ...

    def size_limit_owner(self) -> str: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ProviderBase:
    """`with provider:` opens and closes; subclasses override what they need."""

    name: ClassVar[str] = ""
    before_handover: BeforeHandover | None = None
    _threads: int = 1
    _send_pool: ThreadPoolExecutor | None = None
    # Only to make each provider's own lock once (subclasses need not call __init__).
    _making_locks: ClassVar[threading.Lock] = threading.Lock()

    def send(self, message: OutgoingMessage) -> Receipt:
        raise NotImplementedError

    def capacity(self, concurrency: int) -> int:
        """A thread each: `concurrency` messages in flight, on as many threads."""
        self._threads = max(1, concurrency)
        return self._threads

    def submit(self, message: OutgoingMessage) -> Future[Receipt]:
        """`send` on a pool thread; the Future holds what it returns or raises."""
        with self._pool_lock():
            if self._send_pool is None:
                self._send_pool = ThreadPoolExecutor(
                    max_workers=self._threads, thread_name_prefix=f"capitolmail-{self.name}"
                )
            return self._send_pool.submit(self.send, message)

    def _pool_lock(self) -> threading.Lock:
        """This provider's lock on its pool: two providers never wait on each other."""
        lock: threading.Lock | None = self.__dict__.get("_send_pool_lock")
        if lock is None:
            with ProviderBase._making_locks:
                lock = self.__dict__.setdefault("_send_pool_lock", threading.Lock())
        return lock

    def pump(self, until: Callable[[], bool], timeout: float) -> bool:
        """Threads do the work: nothing to run here, so the caller waits itself."""
        return False

    def _stop_threads(self) -> None:
        """Wait for the pool's sends to end; `close()` calls it, a later submit starts anew."""
        with self._pool_lock():
            pool, self._send_pool = self._send_pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def hand_over(self, message_id: str) -> None:
        """Block until the sender has committed the mark; raises HandoverRefused."""
        waiting = self.request_handover(message_id)
        if waiting is not None:
            waiting.result()

    def request_handover(self, message_id: str) -> Future[None] | None:
        """Ask for the mark without waiting; wait for the Future before the step itself.

        Asking a round trip or two early (SMTP: before MAIL FROM) hides the commit's
        latency; the mark still has to be committed before the irreversible step.
        """
        hook = self.before_handover
        return hook(message_id) if hook is not None else None

    def max_message_bytes(self) -> int | None:
        """The largest message (in `message_size` bytes) the transport takes, or None.

        Asked at queue time (letters/sizes.py), so a letter too large for the
        transport is refused while nothing is queued, not failed one message at a time.
        """
        return None

    def message_size(self, message: OutgoingMessage) -> int:
        """The size the limit is measured on: here the RFC 5322 message as sent."""
        return len(message.to_bytes(date=datetime.now(UTC)))

    def size_limit_owner(self) -> str:
        """Who sets the limit, for the refusal: "the relay mx:587 (SIZE in EHLO)"."""
        return f"the {self.name} provider"

    def open(self) -> None:
        """Connect or build a pool. A second call is harmless."""

    def close(self) -> None:
        """Release connections. Safe even when open() never ran."""
        self._stop_threads()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
