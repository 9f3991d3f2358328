"""The send loop's reading of ended sends and hand-over requests (sending/provider_calls.py).

A hand-over mark is committed as soon as its request is read; when the database
is gone the commit fails, and what ended before it must come back to the loop
beside the failure, or its outcome would be lost and the row queued again.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from capitolmail.errors import HandoverRefused, StoreError
from capitolmail.outbox import ClaimedMessage
from capitolmail.providers.file import FileProvider
from capitolmail.sending.handovers import HandoverRequest
from capitolmail.sending.provider_calls import ProviderCalls

from .providers.contract import sample_message
from .workers import wait_until


def _claimed(n: int) -> ClaimedMessage:
    message = sample_message(message_id=f"6f1c2d3e-0000-4000-8000-{n:012d}")
    return ClaimedMessage(message=message, job_id=1, attempts=0, job_rate=None)


def test_a_failed_mark_commit_comes_back_beside_the_sends_that_ended_before_it(
    tmp_path: Path,
) -> None:
    database_gone = False
    committed: list[str] = []

    def commit(asks: list[HandoverRequest]) -> None:
        for ask in asks:
            ask.future.set_running_or_notify_cancel()
            if database_gone:
                ask.future.set_exception(HandoverRefused("not marked: the database is gone"))
            else:
                committed.append(ask.message_id)
                ask.future.set_result(None)
        if database_gone:
            raise StoreError("the outbox database is unreachable")

    provider = FileProvider(tmp_path / "outbox")
    calls = ProviderCalls(provider, commit)

    def ask(message_id: str) -> Future[None]:
        future: Future[None] = Future()
        calls.done.put(HandoverRequest(message_id, future))
        return future

    provider.before_handover = ask
    provider.capacity(2)
    first, second = _claimed(1), _claimed(2)
    with provider:
        calls.submit(first)
        ended, failure = calls.finished(block=True)  # its mark is asked, and committed
        assert (ended, failure) == ([], None)
        assert committed == [first.message.message_id]
        wait_until(lambda: calls.done.qsize() == 1, what="the first send to end", timeout=10)
        calls.submit(second)
        wait_until(
            lambda: calls.done.qsize() == 2, what="the second send to ask for its mark", timeout=10
        )
        database_gone = True
        ended, failure = calls.finished(block=True)
        assert isinstance(failure, StoreError)
        assert [result.claimed for result in ended] == [first]
        assert ended[0].error is None and ended[0].provider_message_id
        assert second.message.message_id in calls.sending_ids  # still the loop's to record
        wait_until(lambda: calls.done.qsize() == 1, what="the refused send to end", timeout=10)
        ended, failure = calls.finished(block=True)
    assert failure is None
    assert [result.claimed for result in ended] == [second]
    assert isinstance(ended[0].error, HandoverRefused)
    assert committed == [first.message.message_id]
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 1  # the refused one never written
