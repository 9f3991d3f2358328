from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

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
