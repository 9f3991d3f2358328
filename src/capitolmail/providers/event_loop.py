"""One asyncio event loop, run by whichever thread is waiting for one of its results.

The sender hands messages over from a synchronous loop, because the store is
synchronous (SQLAlchemy Core on sqlite3 or psycopg) and every claim and record is
a short transaction that must commit before a provider sees the message. An HTTP
provider, though, does best with one event loop holding all its requests: at 256
requests in flight a thread each spends the process's one core (the GIL) on
switching threads (benchmarks/send.py's stand-in: urllib3 on 256 threads ~0.2 ms
of CPU a request, aiohttp on one loop ~0.12 ms).

Nor does the loop get a thread of its own: sqlite3 lets go of the GIL at every
row it steps through, and with a busy loop thread waiting to take it each time, a
transaction of the sender's took up to three times its CPU time, while the
messages it was to claim waited. So the loop runs in the thread that waits: the
sender pumps it (`run_until`) between transactions, and a thread calling the
provider's `send()` pumps it until its own result is in, taking turns with any
other such thread. What the pumping thread waits for is checked between the
loop's turns, in that thread, so the check may do the thread's own work: the
sender commits the hand-over marks asked in a turn there, and the requests go on
without the loop stopping (at 128 requests in flight a request waited 3.6 ms on
average for its mark while the loop stopped for each commit, 1.6 ms since).
Nobody sees a coroutine: `submit` hands back a `concurrent.futures.Future`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

# How long a thread waiting for its result lets another thread pump before looking again.
_TURN = 0.01


class SharedLoop:
    """`start()`, then `submit()` coroutines from any thread; `close()` ends the loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        # Held by the one thread running the loop at a time.
        self._pump = threading.Lock()
        # What the pumping thread waits for; checked between turns (`_check_soon`).
        self._until: Callable[[], bool] | None = None
        self._check_due = False  # a check is scheduled for the next turn
        self._failure: BaseException | None = None  # what `until` raised, for the pumper
        self._running: int | None = None  # the thread inside run_forever, if one is
        # Handed over but not yet started: started together at the loop's next turn.
        self._pending: list[tuple[Coroutine[Any, Any, Any], Future[Any]]] = []
        self._pending_lock = threading.Lock()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule `coroutine`; it runs while some thread pumps the loop."""
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise RuntimeError(f"{self.name} is not running")
        future: Future[T] = Future()
        with self._pending_lock:
            self._pending.append((coroutine, future))
            first = len(self._pending) == 1
        if first:
            # Thread-safe, and wakes a thread blocked in the loop's select.
            loop.call_soon_threadsafe(self._start_pending)
        return future

    def result(self, future: Future[T]) -> T:
        """Pump the loop, in turns with other threads, until `future` is done."""
        while not future.done():
            if self._pump.acquire(timeout=_TURN):
                try:
                    self._run_until(future.done, None)
                finally:
                    self._pump.release()
        return future.result()

    def wrap(self, future: Future[T]) -> asyncio.Future[T]:
        """From a coroutine: `future` to await. Resolved where it is settled when that is
        the thread running the loop (the sender commits marks between turns), which
        saves the loop a turn and a wake-up through its self-pipe (asyncio.wrap_future)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()

        def settle(done: Future[T]) -> None:
            if self._running == threading.get_ident():
                _copy(done, waiter)
            else:
                loop.call_soon_threadsafe(_copy, done, waiter)

        future.add_done_callback(settle)
        return waiter

    def run_until(self, until: Callable[[], bool], timeout: float) -> None:
        """Pump the loop until `until()` holds or `timeout` has passed; with 0, one
        turn of whatever is ready. `until` runs in this thread, between the loop's
        turns, after a turn in which a coroutine finished or called `recheck`; what it
        raises ends the pumping and is raised here."""
        if self._pump.acquire(timeout=timeout):
            try:
                self._run_until(until, timeout)
            finally:
                self._pump.release()

    def recheck(self) -> None:
        """From a coroutine: have the pumping thread's condition checked at the next
        turn, not only when a coroutine finishes (the sender serves requests to mark
        a message handed over, which come in mid-coroutine)."""
        self._check_soon()

    def close(self) -> None:
        """Cancel what is still running, fail what never started, close the loop."""
        loop = self._loop
        if loop is None:
            return
        with self._pump:
            self._loop = None
            loop.run_until_complete(_cancel_all())
            loop.close()
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for coroutine, future in pending:
            coroutine.close()
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError(f"{self.name} closed before this ran"))

    def _run_until(self, until: Callable[[], bool], timeout: float | None) -> None:
        loop = self._loop
        if loop is None or until():
            return
        self._until = until
        timer: asyncio.Handle | None = None
        if timeout == 0:
            timer = loop.call_soon(loop.stop)  # one turn: what is ready, without waiting
        elif timeout is not None:
            timer = loop.call_later(timeout, loop.stop)
        self._running = threading.get_ident()
        try:
            loop.run_forever()
        finally:
            self._running = None
            if timer is not None:
                timer.cancel()
            self._until = None
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _check_soon(self) -> None:
        """Check the pumping thread's condition at the loop's next turn, once however
        many coroutines finished or asked in this one: so the condition may do work
        (the sender commits every mark asked in the turn with one UPDATE) without
        the loop stopping for it."""
        loop = self._loop
        if loop is not None and self._until is not None and not self._check_due:
            self._check_due = True
            loop.call_soon(self._check)

    def _check(self) -> None:
        self._check_due = False
        until, loop = self._until, self._loop
        if until is None or loop is None:
            return  # scheduled in a pump that has ended: the next one checks anew
        try:
            done = until()
        except BaseException as err:  # raised in the pumping thread, from run_until
            self._failure, done = err, True
        if done:
            loop.stop()

    def _start_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for coroutine, future in pending:
            if not future.set_running_or_notify_cancel():
                coroutine.close()
                continue
            task = asyncio.ensure_future(coroutine)
            task.add_done_callback(functools.partial(self._settle, future))

    def _settle(self, future: Future[Any], task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            future.set_exception(asyncio.CancelledError(f"{task!r} was cancelled"))
        elif (error := task.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(task.result())
        # The pumping thread's condition may hold now: checked at the next turn, once
        # the callbacks already due have run, so results come back in batches.
        self._check_soon()


def _copy(done: Future[T], waiter: asyncio.Future[T]) -> None:
    if waiter.done():
        return  # cancelled meanwhile: nobody waits
    if (error := done.exception()) is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(done.result())


async def _cancel_all() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
