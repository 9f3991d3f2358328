"""The provider's pace is kept by the store, so `worker.rate` and a throttle's cut hold
across workers: the claims take turns from one row, in their own transactions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import event

from capitolmail.outbox import Store, driver_sql
from capitolmail.outbox.provider_pace import PaceState, PaceTurn

from .test_store import NOW, scheduled


def _claim(store: Store, worker: str, at: float, *, limit: int = 100, rate: float = 2.0) -> int:
    turn = PaceTurn("smtp", rate)
    return len(store.claim_due(worker, limit, NOW + timedelta(seconds=at), pace=turn))


def _halve(state: PaceState) -> PaceState:
    return replace(state, per_second=(state.per_second or 4.0) / 2, cut=state.cut + 1)


def test_two_workers_share_one_rate_and_a_claim_takes_only_what_it_claims(store: Store) -> None:
    scheduled(store, 20)
    store.register_worker("w1", "host-a", 1, NOW)
    store.register_worker("w2", "host-b", 2, NOW)
    assert _claim(store, "w1", 0, limit=1) == 1  # asked for one: the other turn stays
    assert _claim(store, "w2", 0) == 1  # a second's worth at 2/s, shared
    assert _claim(store, "w1", 0.2) == 0
    assert _claim(store, "w2", 0.45) == 0  # the next turn is free at 0.5 s...
    assert _claim(store, "w2", 0.5) == 1
    # ...and over the next five seconds the two take ten turns between them, not twenty.
    taken = sum(_claim(store, w, t / 10) for t in range(6, 56) for w in ("w1", "w2"))
    assert taken == 10
    assert _claim(store, "w1", 5.6) == 0


def test_a_cut_holds_for_every_worker_and_one_throttle_is_cut_once(store: Store) -> None:
    scheduled(store, 20)
    store.register_worker("w1", "host-a", 1, NOW)
    store.register_worker("w2", "host-b", 2, NOW)
    first = store.change_pace("smtp", _halve, NOW, NOW + timedelta(seconds=1))
    assert (first.per_second, first.cut, first.workers) == (2.0, 1, 2)
    # The other worker met the same throttle and saw cut 0: the row says it is answered.
    again = store.change_pace(
        "smtp", lambda s: s if s.cut != 0 else _halve(s), NOW, NOW + timedelta(seconds=1)
    )
    assert again.per_second == 2.0
    turn = PaceTurn("smtp", None)  # no worker.rate: only the cut limits
    assert store.claim_due("w2", 100, NOW + timedelta(seconds=1), pace=turn) == []
    assert turn.state.per_second == 2.0 and turn.wait > 0  # held, then a burst ahead
    later = NOW + timedelta(seconds=3)
    # Under a forced pace no burst: one at a time (a burst is what the provider refused).
    assert len(store.claim_due("w2", 100, later, pace=PaceTurn("smtp", None))) == 1
    assert store.current_paces([1])[1].per_second == 2.0  # what `status` shows
    # Only the last worker to stop drops the pace; the next run learns afresh.
    assert store.lift_pace("smtp", "w1", later) is False
    store.remove_worker("w2")
    assert store.lift_pace("smtp", "w1", later) is True
    assert store.current_paces([1]) == {}


def test_the_lowest_worker_rate_registered_holds_for_every_worker(store: Store) -> None:
    """w1 says 2/s, w2 says 8/s, w3 says nothing: the provider has one limit, the lowest."""
    scheduled(store, 40)
    assert store.register_worker("w1", "host-a", 1, NOW, rate_per_second=2.0) == []
    assert store.register_worker("w2", "host-b", 2, NOW, rate_per_second=8.0) == [2.0]
    assert sorted(store.register_worker("w3", "host-c", 3, NOW), key=str) == [2.0, 8.0]
    assert _claim(store, "w2", 0, rate=8.0) == 2  # a second's worth at 2/s, not at 8/s
    no_rate = PaceTurn("smtp", None)
    assert store.claim_due("w3", 100, NOW + timedelta(seconds=0.2), pace=no_rate) == []
    assert no_rate.wait > 0  # w3 set no rate, and still keeps to w1's
    # Over the next five seconds the three take ten turns between them.
    taken = sum(
        len(store.claim_due(w, 100, NOW + timedelta(seconds=t / 10), pace=PaceTurn("smtp", r)))
        for t in range(5, 55)
        for w, r in (("w1", 2.0), ("w2", 8.0), ("w3", None))
    )
    assert taken == 10
    # With w1 gone, w2's 8/s is the lowest: a second's worth is eight.
    store.remove_worker("w1")
    assert _claim(store, "w2", 7.0, rate=8.0) == 8


def test_a_claim_under_a_worker_rate_reads_the_provider_row_once(store: Store) -> None:
    """Locked, with the lowest rate in the same read; an unlimited claim reads it unlocked."""
    scheduled(store, 20)
    store.register_worker("w1", "host-a", 1, NOW, rate_per_second=2.0)
    reads: list[str] = []

    def seen(statement: str) -> None:
        if "provider_paces" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    def on_driver(_cursor: object, statement: str, _parameters: object) -> None:
        seen(statement)

    def on_execute(*args: object) -> None:
        seen(str(args[2]))

    driver_sql.before_statement.append(on_driver)
    event.listen(store.engine, "before_cursor_execute", on_execute)
    try:
        assert _claim(store, "w1", 0, limit=1) == 1  # the first claim makes the row
        reads.clear()
        assert _claim(store, "w1", 0) == 1  # the burst's other turn
        assert len(reads) == 1, reads
        assert "min(workers.rate_per_second)" in reads[0]
        if store.engine.dialect.name == "postgresql":
            assert "FOR UPDATE" in reads[0].upper()
        reads.clear()
        store.remove_worker("w1")
        store.register_worker("w2", "host-b", 2, NOW)
        assert len(store.claim_due("w2", 5, NOW, pace=PaceTurn("smtp", None))) == 5
        assert len(reads) == 1 and "FOR UPDATE" not in reads[0].upper(), reads
    finally:
        event.remove(store.engine, "before_cursor_execute", on_execute)
        driver_sql.before_statement.remove(on_driver)
