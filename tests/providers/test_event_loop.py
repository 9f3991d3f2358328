from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from capitolmail.providers.event_loop import SharedLoop


async def _echo(value: int) -> int:
    await asyncio.sleep(0.001)
    return value


async def _fail() -> None:
    raise ValueError("no")


def test_threads_take_turns_running_the_loop_and_each_gets_its_own_result() -> None:
    loop = SharedLoop("test-loop")
    loop.start()
    try:
        with ThreadPoolExecutor(16) as threads:
            results = list(threads.map(lambda n: loop.result(loop.submit(_echo(n))), range(200)))
        assert results == list(range(200))
        with pytest.raises(ValueError, match="no"):
            loop.result(loop.submit(_fail()))
    finally:
        loop.close()


def test_run_until_returns_when_the_condition_holds_or_the_time_is_up() -> None:
    loop = SharedLoop("test-loop")
    loop.start()
    try:
        futures = [loop.submit(_echo(n)) for n in range(5)]
        loop.run_until(lambda: all(f.done() for f in futures), 5.0)
        assert [f.result() for f in futures] == list(range(5))
        slow = loop.submit(asyncio.sleep(3600))
        started = time.monotonic()
        loop.run_until(slow.done, 0.05)
        assert not slow.done()
        assert time.monotonic() - started < 3
    finally:
        loop.close()
    with pytest.raises(asyncio.CancelledError):
        slow.result(timeout=0)


def test_closing_settles_what_was_handed_over_and_refuses_more() -> None:
    loop = SharedLoop("test-loop")
    loop.start()
    never_run = loop.submit(_echo(1))  # nobody ran the loop before it closed
    loop.close()
    assert never_run.done()
    with pytest.raises(asyncio.CancelledError):
        never_run.result(timeout=0)
    with pytest.raises(RuntimeError, match="test-loop is not running"):
        loop.submit(_echo(2))
    loop.close()  # a second close is harmless


def test_the_condition_runs_between_turns_in_the_pumping_thread_and_may_do_its_work() -> None:
    """The sender commits the marks asked in a turn inside `until`: the requests waiting
    for them go on within the same pump, and `until` sees every ask of a turn at once."""
    loop = SharedLoop("test-loop")
    loop.start()
    asked: list[Future[None]] = []
    calls: list[tuple[int, int]] = []  # (thread, asks waiting) at each call

    async def request(n: int) -> int:
        mark: Future[None] = Future()
        asked.append(mark)
        loop.recheck()
        await loop.wrap(mark)
        return n

    def serve() -> bool:
        waiting = [mark for mark in asked if not mark.done()]
        calls.append((threading.get_ident(), len(waiting)))
        for mark in waiting:
            mark.set_result(None)
        return all(f.done() for f in requests)

    try:
        requests = [loop.submit(request(n)) for n in range(20)]
        loop.run_until(serve, 5.0)
        assert [f.result(timeout=0) for f in requests] == list(range(20))
        assert {thread for thread, _ in calls} == {threading.get_ident()}
        # All twenty started in one turn and asked together: one call served them.
        assert [waiting for _, waiting in calls if waiting] == [20]
    finally:
        loop.close()


def test_a_future_settled_by_another_thread_still_wakes_its_coroutine() -> None:
    loop = SharedLoop("test-loop")
    loop.start()
    mark: Future[None] = Future()

    async def request() -> str:
        await loop.wrap(mark)
        return "written"

    try:
        done = loop.submit(request())
        threading.Timer(0.05, mark.set_result, (None,)).start()
        loop.run_until(done.done, 5.0)
        assert done.result(timeout=0) == "written"
    finally:
        loop.close()


def test_what_the_condition_raises_ends_the_pumping_and_is_raised_there() -> None:
    loop = SharedLoop("test-loop")
    loop.start()

    def failing() -> bool:
        if quick.done():  # raised from inside the loop, once a coroutine finished
            raise OSError("the outbox database is unreachable")
        return False

    try:
        slow = loop.submit(asyncio.sleep(3600))
        quick = loop.submit(_echo(1))
        with pytest.raises(OSError, match="unreachable"):
            loop.run_until(failing, 5.0)
        assert quick.result(timeout=0) == 1
        loop.run_until(slow.done, 0)  # the next pump is not failed by the last one's error
    finally:
        loop.close()
